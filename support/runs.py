"""One run = one folder: train_dir/<run name>/ holds that run's TensorBoard logs, its
checkpoints and the flags it was started with, so runs never touch each other's files.

The name says what ran: the model, the flags that differ from their defaults, and the
time, e.g. `fc_hidden1=40_20261122-101500`. `flags.json` records every flag, the
seed included (drawn at random when --seed is not given), so `--resume` alone
continues the very same run: parse_flags() fills in the recorded flags, refuses a
different value for any that shapes the result, and says when a run has nothing left
to do. While a run trains, it holds an OS lock on its folder (fcntl on Linux and macOS,
msvcrt on Windows), so a second process cannot write into it; the lock ends when the
script closes the run (`with run:`) or with the process, also a killed one.
Checkpoints are found by listing the run's own folder: the `checkpoint` state file
TensorFlow writes beside them is never read, so a tampered one cannot make a run load
or delete files elsewhere; flags.json is read as plain JSON, size-capped, and each value
checked as if it were typed on the command line. On a cluster, the workers other than
the chief get a WorkerRun: a temporary folder for what they save, removed at the end,
so train_dir holds the chief's run alone.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

from support import cli
from support.cli import InputError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:  # not Windows
    msvcrt = None
LOCKED_BYTE = 1 << 30  # what msvcrt locks: far past the pid, which stays readable

CHECKPOINT = re.compile(r'^checkpoint-(\d{1,12})\.index$')
CHECKPOINT_FILE = re.compile(r'^checkpoint-(\d{1,12})\.(index|data-\d{5}-of-\d{5})$')
KEEP = 5  # checkpoints kept per run, as tf.train.CheckpointManager does
WHERE = {'data_dir', 'train_dir', 'resume', 'run'}  # where, not what
NOT_IN_NAME = WHERE | {'seed', 'checkpoint_every'}  # every run has a seed
NOT_RECORDED = {'train_dir', 'resume'}  # where the run is, not how it trains
CHANGEABLE = {'max_steps', 'data_dir', 'checkpoint_every'}  # on resume: not the results
FLAGS_FILE = 'flags.json'
RESULT_FILE = 'result.json'  # written when the run has scored the test set
MAX_FLAGS_BYTES = 1 << 20  # the flags, and the classes of a folder: a few kB


def run_name(model, args, defaults):
    """model, then each flag whose value differs from defaults (a Namespace), then
    the time: e.g. fc_hidden1=40_learning_rate=0.002_20261122-101500."""
    changed = ['%s=%s' % (flag, value) for flag, value in sorted(vars(args).items())
               if flag not in NOT_IN_NAME and value != getattr(defaults, flag, None)]
    name = '_'.join([model] + changed + [time.strftime('%Y%m%d-%H%M%S')])
    return re.sub(r'[^A-Za-z0-9._=-]', '-', name)


class Run:
    """A run's folder: its lock and its checkpoints (the scripts write its logs)."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self._lock = None

    def lock(self):
        """Hold the folder for this process; refuse if another process holds it."""
        lock_path = os.path.join(self.path, '.lock')
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError('cannot write in %s: %s' % (self.path, e.strerror))
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif msvcrt is not None:
                os.lseek(fd, LOCKED_BYTE, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                os.lseek(fd, 0, os.SEEK_SET)
        except OSError:
            os.lseek(fd, 0, os.SEEK_SET)
            owner = os.read(fd, 20).decode('ascii', 'replace').strip()
            os.close(fd)
            raise InputError('run %s is in use by another process (pid %s): wait for it '
                             'to finish, or start a new run' % (self.name, owner or '?'))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def close(self):
        """Let go of the folder (the process's end does it too)."""
        if self._lock is not None:
            os.close(self._lock)  # closing the file ends its fcntl or msvcrt lock
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def record(self, model, args, data_sets=None):
        """Write flags.json: the model, every flag of args and, from data_sets, the
        classes and the fingerprint of a folder of images."""
        flags = {flag: value for flag, value in sorted(vars(args).items())
                 if flag not in NOT_RECORDED}
        content = {'model': model, 'flags': flags}
        if data_sets is not None:
            content['data'] = {'classes': data_sets['classes'],
                               'fingerprint': data_sets.get('fingerprint')}
        self._write(FLAGS_FILE, content)

    def finish(self, step, test_accuracy):
        """Write result.json, the last thing a run writes: the step it trained to and
        its test accuracy. A run stopped before (while it scored the test set) is not
        finished: --resume scores it."""
        self._write(RESULT_FILE, {'step': int(step), 'test_accuracy': float(test_accuracy)})

    def finished(self):
        """Whether result.json records the step of the newest checkpoint."""
        try:
            with open(os.path.join(self.path, RESULT_FILE), 'rb') as f:
                result = json.loads(f.read(MAX_FLAGS_BYTES))
            steps = self.checkpoints()
            return bool(steps) and result['step'] == steps[-1]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return False  # none, or damaged: score the test set again

    def _write(self, name, content):
        """Write content as the JSON file name, whole, then renamed into place, so a
        crash never leaves half a file."""
        path = os.path.join(self.path, name)
        try:
            with open(path + '.tmp', 'w') as f:
                json.dump(content, f, indent=1)
                f.write('\n')
            os.replace(path + '.tmp', path)
        except OSError as e:
            raise InputError(cli.write_error(e, self.path))

    def recorded(self):
        """(model, {flag: value}) from flags.json, or (None, None) for a run made
        before runs recorded their flags.

        Raises:
          InputError: the file is too large or not what record() writes.
        """
        return self._read_record()[:2]

    def classes(self):
        """The class names flags.json recorded, or None."""
        data = self._read_record()[2]
        return data and data['classes']

    def check_data(self, data_sets, data_dir, same_images=False):
        """Check that data_sets (from load_data(data_dir)) holds the classes the run
        learned, in the same order, and with same_images (to resume the run), the very
        images it started with.

        Raises:
          InputError: other classes (another folder, or another dataset), or images
            added, removed or changed since.
        """
        data = self._read_record()[2]
        if data is None:  # a run made before runs recorded their data: CIFAR-10
            return
        if data['classes'] != data_sets['classes']:
            raise InputError(
                'run %s learned the classes %s, but %s has %s: pass --data_dir the folder '
                'it trained on' % (self.name, ', '.join(data['classes']), data_dir,
                                   ', '.join(data_sets['classes'])))
        if same_images and data['fingerprint'] != data_sets.get('fingerprint'):
            raise InputError('the images in %s are not those run %s started with (an image '
                             'was added, removed or changed): resume it with the same '
                             'images, or start a new run' % (data_dir, self.name))

    def _read_record(self):
        path = os.path.join(self.path, FLAGS_FILE)
        try:
            with open(path, 'rb') as f:
                text = f.read(MAX_FLAGS_BYTES + 1)
        except FileNotFoundError:
            return None, None, None
        except OSError as e:
            raise InputError('cannot read %s: %s' % (path, e.strerror or e))
        try:
            if len(text) > MAX_FLAGS_BYTES:
                raise ValueError('too large')
            content = json.loads(text)
            model, flags, data = content['model'], content['flags'], content.get('data')
            if not (isinstance(model, str) and isinstance(flags, dict) and all(
                    isinstance(v, (str, int, float, type(None))) for v in flags.values())):
                raise ValueError('wrong types')
            if data is not None and not (
                    isinstance(data.get('classes'), list)
                    and all(isinstance(c, str) for c in data['classes'])
                    and isinstance(data.get('fingerprint'), (str, type(None)))):
                raise ValueError('wrong types')
        except (ValueError, KeyError, TypeError, AttributeError,
                RecursionError):  # deep nesting
            raise InputError('%s is damaged: start a new run' % path)
        return model, flags, data

    def checkpoints(self):
        """The steps of the checkpoints in this folder, oldest first."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return sorted(int(m.group(1)) for m in map(CHECKPOINT.match, names) if m)

    def save_at_stop(self, checkpoint, step, resume_command):
        """What Ctrl-C or SIGTERM leaves: the checkpoint of step (unless it was just
        saved), and the end of the line that says so and how to continue."""
        saved = self.checkpoint_path(step)
        if self.latest_checkpoint() != saved:
            saved = self.save(checkpoint, step)
        return ': saved checkpoint {}; continue with: {}'.format(saved, resume_command)

    def resume_command(self, script, train_dir):
        """The command line that continues this run."""
        quoted = '"%s"' % train_dir if ' ' in train_dir else train_dir
        return 'python %s --resume %s%s' % (
            script, self.name, '' if train_dir == 'tf_logs' else ' --train_dir ' + quoted)

    def checkpoint_path(self, step):
        return os.path.join(self.path, 'checkpoint-%d' % step)

    def latest_checkpoint(self):
        """The path of the newest checkpoint, or None."""
        steps = self.checkpoints()
        return self.checkpoint_path(steps[-1]) if steps else None

    def save(self, checkpoint, step):
        """Write checkpoint (a tf.train.Checkpoint) as checkpoint-<step> and keep the
        newest KEEP; returns its path."""
        path = checkpoint.write(self.checkpoint_path(step))
        old = set(self.checkpoints()[:-KEEP])
        for name in os.listdir(self.path):
            match = CHECKPOINT_FILE.match(name)
            if match and int(match.group(1)) in old:
                os.remove(os.path.join(self.path, name))
        return path

    def restore(self, checkpoint, path=None):
        """Restore checkpoint from path (default: the newest); returns the path.

        Raises:
          InputError: no checkpoint, or one that does not fit.
        """
        path = path or self.latest_checkpoint()
        if path is None:
            raise InputError('run %s has no checkpoint' % self.name)
        try:
            checkpoint.read(path).assert_existing_objects_matched()
        except Exception as e:  # a damaged or foreign checkpoint raises many kinds
            raise InputError('cannot restore %s (%s): it is damaged or of another network; '
                             'start a new run' % (path, type(e).__name__))
        return path


def parse_flags(parser, argv, model):
    """Parse the command line of a training script (one whose flags include --resume,
    --seed and --train_dir).

    A new run gets a random seed when --seed is not given. With --resume, the run's
    recorded flags fill in every flag not given; a given flag that differs from the
    recorded one is refused, except --max_steps (train further, or stop sooner),
    --data_dir (where the same data now is) and --checkpoint_every. args.resume becomes
    the run's name.

    Raises:
      InputError: no such run, a clashing flag, or damaged flags.json.
      SystemExit(0): the run has already reached max_steps (nothing is written).
    """
    args = parser.parse_args(argv)
    if args.resume is not None:
        script = os.path.basename(sys.argv[0])
        run = find_run(args.train_dir, args.resume or None, model=model,
                       hint='train one first with python %s' % script)
        args.resume = run.name
        _, recorded = run.recorded()
        given = cli.given_flags(parser, argv)
        for flag, value in (recorded or {}).items():
            value = _checked_value(parser, flag, value, run)
            if flag not in given:
                setattr(args, flag, value)
            elif getattr(args, flag) != value and flag not in CHANGEABLE:
                raise InputError('run %s was trained with --%s %s: leave --%s out to '
                                 'resume it, or leave --resume out to start a new run'
                                 % (run.name, flag, value, flag))
        step = run.checkpoints()[-1]
        if step > args.max_steps or step == args.max_steps and run.finished():
            command = run.resume_command(script, args.train_dir)
            if 'max_steps' in given:
                raise InputError('run %s is at step %d already: continue it with '
                                 '--max_steps larger than that, e.g. %s --max_steps %d'
                                 % (run.name, step, command, 2 * step))
            print('Run {} has finished: it reached max_steps = {}. To train it further: '
                  '{} --max_steps {}'.format(run.name, step, command, 2 * step))
            sys.exit(0)
    if args.seed is None:
        args.seed = cli.draw_seed()  # recorded with the run
    return args


def _checked_value(parser, flag, value, run):
    """A recorded value, checked as parser would check it on the command line."""
    action = next((a for a in parser._actions if a.dest == flag), None)
    try:
        if action is None:
            raise argparse.ArgumentTypeError('no such flag')
        if value is not None:
            if action.type is not None:
                value = action.type(str(value))
            if action.choices is not None and value not in action.choices:
                raise argparse.ArgumentTypeError('not one of the choices')
        elif action.default is not None:
            raise argparse.ArgumentTypeError('no value')
    except (argparse.ArgumentTypeError, ValueError, TypeError) as e:
        raise InputError('the recorded --%s of run %s is damaged (%s): start a new run'
                         % (flag, run.name, e))
    return value


def open_run(args, model, defaults, data_sets, chief=True):
    """The run args describe, locked, with its flags recorded: a new folder, or the
    run named by args.resume (as parse_flags() set it).

    Args:
      args: the parsed flags.
      model: the run's kind, the first word of its name: 'fc', 'cnn', 'softmax'.
      defaults: the flags' defaults (a Namespace), to name the run.
      data_sets: what load_data() returned: its classes are recorded, and a resumed
        run must have the very images (the same fingerprint) it started with.
      chief: False for the other workers of a cluster: they get a temporary folder,
        removed when the run closes, and restore from the run args.resume names (the
        chief alone writes in train_dir, as TensorFlow's multi-worker guide does).

    Raises:
      InputError: a resumed run whose images changed.
    """
    if not chief:
        return WorkerRun(args.resume and Run(os.path.join(args.train_dir, args.resume)))
    if args.resume is None:
        run = new_run(args.train_dir, run_name(model, args, defaults))
    else:
        run = Run(os.path.join(args.train_dir, args.resume))
        run.check_data(data_sets, args.data_dir, same_images=True)
        run.lock()
    run.record(model, args, data_sets)  # on resume: a new max_steps or data_dir
    return run


class WorkerRun(Run):
    """A cluster worker's run other than the chief's: a temporary folder for what
    it must save along with the chief, restored from the chief's run (shared storage)."""

    def __init__(self, shared=None):
        super().__init__(tempfile.mkdtemp(prefix='worker-'))
        self.shared = shared
        if shared is not None:
            self.name = shared.name

    def restore(self, checkpoint, path=None):
        return self.shared.restore(checkpoint, path)

    def save_at_stop(self, checkpoint, step, resume_command):
        # The chief saves the run; this folder goes with the process.
        return ': continue with the same command with --resume on every worker'

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


def new_run(train_dir, name):
    """Create and lock train_dir/name (name_2, name_3, ... if it exists)."""
    try:
        os.makedirs(train_dir, exist_ok=True)
    except OSError as e:
        raise InputError('cannot create --train_dir %s: %s' % (train_dir, e.strerror or e))
    for attempt in range(1, 100):
        path = os.path.join(train_dir, name if attempt == 1 else '%s_%d' % (name, attempt))
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except OSError as e:
            raise InputError('cannot write in --train_dir %s: %s'
                             % (train_dir, e.strerror or e))
        run = Run(path)
        run.lock()
        return run
    raise InputError('too many runs named %s in %s' % (name, train_dir))


def add_run_flags(parser, use):
    """--run and --train_dir, for a script that uses a trained run (use: what for, as
    the help of --run says it)."""
    parser.add_argument('--run', metavar='RUN_NAME',
                        help='the run %s: a folder in train_dir (default: the newest run '
                             'with a checkpoint)' % use)
    parser.add_argument('--train_dir', default='tf_logs',
                        help='folder of the runs (default: %(default)s)')


def trained_run(args):
    """The run add_run_flags() chose: args.run in args.train_dir, or the newest."""
    return find_run(args.train_dir, args.run, hint='train one first with python '
                    'run_fc_model.py or python run_cnn_model.py')


def find_run(train_dir, name=None, model=None, hint='train one first'):
    """A run with checkpoints: the one named, or the newest (of model, if given).

    Newest means the run whose latest checkpoint was written last.

    Raises:
      InputError: there is no such run, or it has no checkpoint.
    """
    if name is not None:
        path = os.path.join(train_dir, name)
        if os.path.basename(os.path.normpath(name)) != name or not os.path.isdir(path):
            raise InputError('no run %r in %s: pick one of the folders in it, or '
                             'leave the flag out for the newest' % (name, train_dir))
        run = Run(path)
        if not run.checkpoints():
            raise InputError('run %s has no checkpoint: %s' % (name, hint))
        return run
    candidates = []
    try:
        entries = list(os.scandir(train_dir))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and (
                model is None or entry.name.startswith(model + '_')):
            run = Run(entry.path)
            latest = run.latest_checkpoint()
            if latest:
                candidates.append((os.stat(latest + '.index').st_mtime, entry.name, run))
    if not candidates:
        raise InputError('no run with a checkpoint in %r: %s' % (train_dir, hint))
    return max(candidates)[2]


def variable_shapes(path):
    """{variable path: shape} of the checkpoint at path, e.g. {'model/weights1':
    [3072, 120], ...}: enough to rebuild the network without its training flags.

    Raises:
      InputError: the checkpoint cannot be read.
    """
    import tensorflow as tf
    try:
        return {name.replace('/.ATTRIBUTES/VARIABLE_VALUE', ''): shape
                for name, shape in tf.train.list_variables(path)}
    except Exception as e:  # a damaged checkpoint raises many kinds of error
        raise InputError('cannot read the checkpoint %s (%s): it is damaged; delete it '
                         'or pick another run' % (path, type(e).__name__))


def log_hparams(summary_writer, model, run, args):
    """The run's flags, for TensorBoard's HParams dashboard: one row per run, with the
    test accuracy that report.test_set() logs as its metric."""
    from tensorboard.plugins.hparams import api as hp
    values = {flag: value for flag, value in sorted(vars(args).items())
              if flag not in WHERE and value is not None}
    with summary_writer.as_default():
        hp.hparams(dict(values, model=model), trial_id=run.name)

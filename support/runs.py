"""One run, one folder: its lock, its checkpoints, and finding the newest.

train_dir/<run name>/ holds that run's TensorBoard logs, its checkpoints and what it
recorded (support/run_record.py), so runs never touch each other's files.

While a run trains, it holds an OS lock on its folder (fcntl on Linux and macOS, msvcrt
on Windows), so a second process cannot write into it; the lock ends when the script
closes the run (`with run:`) or with the process, also a killed one. Checkpoints are
found by listing the run's own folder: the `checkpoint` state file TensorFlow writes
beside them is never read, so a tampered one cannot make a run load or delete files
elsewhere. On a cluster, the workers other than the chief get a WorkerRun: a temporary
folder for what they save, removed at the end, so train_dir holds the chief's run alone.
"""
import os
import re
import shutil
import tempfile

from support.errors import InputError

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
SCRIPTS = {'fc': 'run_fc_model.py', 'cnn': 'run_cnn_model.py', 'softmax': 'softmax.py',
           'pretrained': 'run_pretrained_model.py'}


def script_hint(name):
    """' with python <script>' for the script that trains runs named name, or ''."""
    script = SCRIPTS.get(name.split('_')[0])
    return ' with python %s' % script if script else ''


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

"""One run = one folder: train_dir/<run name>/ holds that run's TensorBoard logs and
its checkpoints, so runs never touch each other's files.

The name says what ran: the model, the flags that differ from their defaults, and the
time, e.g. `fc_hidden1=40_20261122-101500`. While a run trains, it holds an OS lock
on its folder, so a second process cannot write into it (the lock ends with the
process, also a killed one). Checkpoints are found by listing the run's own folder:
the `checkpoint` state file TensorFlow writes beside them is never read, so a
tampered one cannot make a run load or delete files elsewhere.
"""
import os
import re
import time

from support.cli import InputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None

CHECKPOINT = re.compile(r'^checkpoint-(\d{1,12})\.index$')
CHECKPOINT_FILE = re.compile(r'^checkpoint-(\d{1,12})\.(index|data-\d{5}-of-\d{5})$')
KEEP = 5  # checkpoints kept per run, as tf.train.CheckpointManager does
NOT_IN_NAME = {'data_dir', 'train_dir', 'resume', 'run'}  # where, not what


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
        except OSError:
            owner = os.read(fd, 20).decode('ascii', 'replace').strip()
            os.close(fd)
            raise InputError('run %s is in use by another process (pid %s): wait for it '
                             'to finish, or start a new run' % (self.name, owner or '?'))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def checkpoints(self):
        """The steps of the checkpoints in this folder, oldest first."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return sorted(int(m.group(1)) for m in map(CHECKPOINT.match, names) if m)

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
              if flag not in NOT_IN_NAME and value is not None}
    with summary_writer.as_default():
        hp.hparams(dict(values, model=model), trial_id=run.name)

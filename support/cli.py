"""The command line: flags with range checks, one-line errors, Ctrl-C, a quiet start.

Each script parses its flags before importing TensorFlow (which takes seconds), so
`-h` and a mistyped flag answer at once:

    if __name__ == '__main__':
        args = cli.start(parse_args)
    import tensorflow as tf
    ...
    if __name__ == '__main__':
        cli.run(main, args)
"""
import argparse
import errno
import os
import random
import re
import signal
import sys
import tempfile


class InputError(Exception):
    """Bad input the user can fix. Scripts print it as one line and exit with status 1."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a flag error on one line (usage is one `-h` away), and each flag
    also taken with hyphens for its underscores (--max-steps for --max_steps), as most
    command lines spell them."""

    def add_argument(self, *names, **kwargs):
        self.flag_names = getattr(self, 'flag_names', set()) | set(names)
        return super().add_argument(*names, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args([self.underscored(a) for a in args], namespace)

    def underscored(self, arg):
        name, equals, value = str(arg).partition('=')
        spelled = '--' + name[2:].replace('-', '_')
        if name.startswith('--') and name not in self.flag_names and (
                spelled in getattr(self, 'flag_names', ())):
            return spelled + equals + value
        return arg

    def error(self, message):
        self.exit(2, '%s: error: %s (see %s -h)\n' % (self.prog, message, self.prog))


def _checked(convert, test, requirement):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a number' % text)
        if not test(value):
            raise argparse.ArgumentTypeError('must be %s, got %s' % (requirement, text))
        return value
    return parse


# Flag types: numbers in range, and small enough for the float32 the models compute in.
FLOAT32_MAX = 3.4028234e38
positive_int = _checked(int, lambda v: 0 < v < 2**31, '> 0')
non_negative_int = _checked(int, lambda v: 0 <= v < 2**31, '>= 0')
positive_float = _checked(float, lambda v: 0 < v <= FLOAT32_MAX, '> 0 and at most 3.4e38')
non_negative_float = _checked(float, lambda v: 0 <= v <= FLOAT32_MAX,
                              '>= 0 and at most 3.4e38')
fraction = _checked(float, lambda v: 0 <= v < 1, '>= 0 and < 1')
open_fraction = _checked(float, lambda v: 0 < v < 1, '> 0 and < 1')
image_size = _checked(int, lambda v: 16 <= v <= 256, 'from 16 to 256')


# Where each dataset is looked for unless --data_dir says otherwise: an environment
# variable, else the folder its archive extracts to, in the working directory.
DATA_DIRS = {'cifar10': ('CIFAR10_DIR', 'cifar-10-batches-py'),
             'mnist': ('MNIST_DIR', 'MNIST_data'),
             'fashion_mnist': ('FASHION_MNIST_DIR', 'fashion_mnist_data')}


def default_data_dir(dataset='cifar10'):
    variable, folder = DATA_DIRS[dataset]
    return os.environ.get(variable) or folder


def draw_seed():
    """A random --seed for a run started without one: any value the flag accepts."""
    return random.SystemRandom().randrange(2**31)


def add_common_flags(parser, several_datasets=False, training=True):
    """The flags every script shares: where the data and the runs are, the random seed,
    and for training, how a folder of your own images is read.

    With several_datasets, --data_dir defaults to None: the script picks the folder
    of the dataset chosen with default_data_dir().
    """
    parser.add_argument(
        '--data_dir', default=None if several_datasets else default_data_dir(),
        help='data folder: CIFAR-10\'s, or your own images, one subfolder per class '
             '(default: %s)' % '; '.join(
                 '$%s or %s%s' % (variable, folder, ' for ' + name if several_datasets
                                  else '')
                 for name, (variable, folder) in DATA_DIRS.items()
                 if several_datasets or name == 'cifar10'))
    if training:
        parser.add_argument(
            '--image_size', type=image_size, default=32,
            help='your own images: each is resized to this many pixels square, the whole '
                 'picture (stretched if it is not square), each pixel the average of the '
                 'area it covers (default: %(default)s, as CIFAR-10)')
        parser.add_argument(
            '--test_fraction', type=open_fraction, default=0.2,
            help='your own images without a test folder: the share of each class held '
                 'out for testing, chosen by a hash of each file name (default: '
                 '%(default)s)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='folder of the runs: one subfolder per run for its '
                             'TensorBoard logs and checkpoints (default: %(default)s)')
    parser.add_argument('--seed', type=non_negative_int, default=None,
                        help='random seed of the initial weights, the batches and the '
                             'augmentation: the same seed repeats a run exactly (default: '
                             'drawn at random and recorded in the run\'s flags.json)')


def given_flags(parser, argv=None):
    """The flags argv gives explicitly (argparse fills in the others' defaults)."""
    defaults = [(action, action.default) for action in parser._actions]
    try:
        for action, _ in defaults:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for action, default in defaults:
            action.default = default


def _interrupted_at_start(signum=None, frame=None):
    """Ctrl-C before main() runs (say, during TensorFlow's import): nothing to save."""
    sys.stderr.write('Interrupted.\n')
    sys.stderr.flush()
    os._exit(130)


def start(parse_args):
    """Parse the flags, then import TensorFlow without its start-up log lines.

    Until main() runs, Ctrl-C exits at once with one line instead of a traceback out
    of TensorFlow's import.
    """
    signal.signal(signal.SIGINT, _interrupted_at_start)
    if hasattr(sys.stdout, 'reconfigure'):  # a class name the console cannot show: escaped
        sys.stdout.reconfigure(errors='backslashreplace')
    try:
        args = parse_args()
    except InputError as e:  # e.g. --resume of a run that does not exist
        sys.exit('Error: %s' % e)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # stderr is captured here
    try:
        import_tensorflow_quietly()
    except KeyboardInterrupt:
        _interrupted_at_start()
    except ImportError as e:
        sys.exit(tensorflow_import_error(e))
    signal.signal(signal.SIGINT, _interrupted_at_start)
    return args


def tensorflow_import_error(error):
    """What to do when TensorFlow cannot be imported: one line, or for a TensorFlow
    that fails to load, its own message and then the usual fix."""
    from support import PYTHONS, PYTHONS_TEXT
    python = 'Python %d.%d' % sys.version_info[:2]
    if isinstance(error, ModuleNotFoundError) and error.name == 'tensorflow':
        if sys.version_info[:2] > PYTHONS[1]:
            return ('Error: TensorFlow has no release for %s yet: create the environment '
                    'with %s, as the README shows' % (python, PYTHONS_TEXT))
        return ('Error: TensorFlow is not installed for this %s (%s): run pip install -r '
                'requirements.txt in the environment, as the README shows'
                % (python, sys.executable))
    fix = ('on Windows, install the Microsoft Visual C++ Redistributable '
           '(https://aka.ms/vs/17/release/vc_redist.x64.exe); TensorFlow also needs a '
           '64-bit Python and, on x86, a CPU with AVX. See '
           'https://www.tensorflow.org/install/errors')
    return 'Error: TensorFlow failed to load: %s\nTo fix it: %s' % (
        str(error).strip() or type(error).__name__, fix)


def check_cpu():
    """Refuse an x86 CPU without AVX, which TensorFlow's wheels need: TensorFlow
    would abort during its import, its one explaining line hidden in the capture."""
    import platform
    if platform.machine().lower() not in ('x86_64', 'amd64'):
        return
    flags, has_avx = cpu_flags(), None
    if flags is not None:
        has_avx = 'avx' in flags
    elif sys.platform == 'win32':
        import ctypes
        has_avx = bool(ctypes.windll.kernel32.IsProcessorFeaturePresent(39))  # AVX
    if has_avx is False:
        raise ImportError('this CPU has no AVX instructions, which TensorFlow\'s '
                          'releases need')


def cpu_flags():
    """The instruction sets /proc/cpuinfo lists (Linux), or None where there is none."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            line = next((line for line in cpuinfo if line.startswith('flags')), '')
            return set(line.partition(':')[2].split())
    except OSError:
        return None


def import_tensorflow_quietly():
    """Import TensorFlow, hiding the start-up lines its C++ core writes to stderr.

    Every start prints lines about oneDNN, CPU features and (without a GPU) a failed
    CUDA initialisation, which TF_CPP_MIN_LOG_LEVEL no longer silences and which look
    like errors to a learner. They are captured at the file-descriptor level; every
    other line is passed through.
    """
    check_cpu()
    # Errors only, after start-up; on a cluster (TF_CONFIG) not even those: a lost
    # worker makes each collective log its broken connection, where cli.run says it once.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3' if os.environ.get('TF_CONFIG') else '2')
    chatter = re.compile(rb'^(WARNING: All log messages before absl|[IW]\d{4} |'
                         rb'E\d{4} .*(cuInit|cuda)|To enable the following instructions)')
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # the CUDA probe happens here
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            failed = isinstance(sys.exc_info()[1], ImportError)  # show all TF wrote
            for line in captured:
                if failed or not chatter.match(line):
                    sys.stderr.buffer.write(line)
            sys.stderr.flush()


# What a collective operation raises when another worker of a cluster has gone.
LOST_WORKER = {'UnavailableError', 'CancelledError', 'DeadlineExceededError',
               'AbortedError'}


def run(main, args):
    """Call main(args): bad input becomes one line and status 1, Ctrl-C status 130.

    A script that finishes exits with os._exit, skipping the interpreter's teardown
    of TensorFlow, which has nothing left to do once main() has closed its log
    writers and written its checkpoints (the README's benchmark measures what this
    saves), and nothing to delete: the tf.functions are traced without AutoGraph,
    whose code files only that teardown removes. On a cluster (TF_CONFIG) every exit
    does: there TensorFlow's thread that checks the other workers would hold up the
    exit by up to 10 s, and them with it.
    TUTORIAL_SLOW_EXIT=1 in the environment turns os._exit off (the benchmark's
    comparison, and the tests, which run the scripts in their own process).
    """
    slow_exit = os.environ.get('TUTORIAL_SLOW_EXIT') == '1'
    try:
        _run(main, args)
        status = 0
    except SystemExit as e:
        if slow_exit or not os.environ.get('TF_CONFIG'):
            raise
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        status = e.code if isinstance(e.code, int) else int(e.code is not None)
    sys.stdout.flush()
    sys.stderr.flush()
    if not slow_exit:
        os._exit(status)


def _run(main, args):
    """main(args), each way it can fail turned into SystemExit."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main(args)
    except InputError as e:
        sys.exit('Error: %s' % e)
    except KeyboardInterrupt:
        sys.stderr.write('Interrupted.\n')
        sys.exit(130)
    except Exception as e:  # TensorFlow's errors, without importing it
        if os.environ.get('TF_CONFIG') and type(e).__name__ in LOST_WORKER:
            sys.exit('Error: lost contact with a worker of the cluster ({}): start every '
                     'worker again with the same command and --resume'.format(
                         type(e).__name__))
        if disk_full(e):  # a checkpoint, the TensorBoard log: what was saved is kept
            sys.exit('Error: no space left on the disk: free some space and run again (a '
                     'training run continues from its last checkpoint with --resume)')
        if not isinstance(e, MemoryError) and type(e).__name__ != 'ResourceExhaustedError':
            raise
        sys.exit('Error: out of memory: try a smaller network (--hidden1) or --batch_size')


def disk_full(error):
    """Whether error (Python's or TensorFlow's, which has no errno) says the disk is full."""
    return (getattr(error, 'errno', None) == errno.ENOSPC
            or 'No space left on device' in str(error))


def write_error(e, folder):
    """An OSError from writing in folder as what to do: the disk full, no permission."""
    if disk_full(e):
        return ('no space left on the disk holding %s: free some space and run again'
                % folder)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return 'no permission to write in %s: choose a folder you can write to' % folder
    return 'cannot write in %s: %s' % (folder, ' '.join(str(e.strerror or e).split()))

"""A script's start and end: a quiet TensorFlow import, every failure as one line.

The flags are parsed before TensorFlow's slow import (so `-h` and a mistyped flag answer
at once), TensorFlow is imported without its start-up chatter, and every way main() can
fail becomes one line and an exit status.

    if __name__ == '__main__':
        args = script.start(parse_args)
    import tensorflow as tf
    ...
    if __name__ == '__main__':
        script.run(main, args)
"""
import gc
import os
import re
import signal
import sys
import tempfile

from support.errors import InputError, disk_full


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
    # worker makes each collective log its broken connection, where run() says it once.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL',
                          '3' if os.environ.get('TF_CONFIG') else '2')
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

    The interpreter then exits as usual, but without collecting the objects TensorFlow
    made (gc.freeze(): the process's end frees them anyway); that collection took most
    of a second of a 5 s run, and of a cluster worker's exit.
    """
    try:
        _run(main, args)
    finally:
        gc.freeze()


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

"""How fast a training run stops on SIGTERM (or Ctrl-C): the time from the signal to the
process's exit, the checkpoint of the step under way written in between.

    python benchmarks/stop_time.py [--script run_cnn_model.py] [--after "Step 200"]
        [--signal TERM] [--data_dir DIR] [script flags ...]

Starts the script in a temporary train_dir, sends the signal once a line starting with
--after is printed, and prints the script's last line and the seconds to its exit.
POSIX only (Windows cannot send SIGTERM or SIGINT to a process).
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Where a learner has CIFAR-10: $CIFAR10_DIR, or the folder the first run downloaded.
DEFAULT_DATA = os.environ.get('CIFAR10_DIR') or os.path.join(ROOT, 'cifar-10-batches-py')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--script', default='run_cnn_model.py',
                        help='the training script (default: %(default)s)')
    parser.add_argument('--after', default='Step 200',
                        help='send the signal after the first line starting with this '
                             '(default: %(default)s)')
    parser.add_argument('--signal', choices=['TERM', 'INT'], default='TERM',
                        help='SIGTERM or SIGINT (Ctrl-C) (default: %(default)s)')
    parser.add_argument('--data_dir', default=DEFAULT_DATA,
                        help='CIFAR-10 folder (default: %(default)s)')
    args, flags = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as train_dir:
        process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, args.script), '--data_dir', args.data_dir,
             '--train_dir', train_dir] + flags, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED='1'))
        for line in process.stdout:
            if line.startswith(args.after):
                break
        else:
            sys.exit('%s ended before printing %r' % (args.script, args.after))
        sent = time.time()
        process.send_signal(getattr(signal, 'SIG' + args.signal))
        _, err = process.communicate()
        seconds = time.time() - sent
    print(err.strip().splitlines()[-1] if err.strip() else '(nothing on stderr)')
    print('%s: exit status %d, %.2f s after SIG%s' % (args.script, process.returncode,
                                                     seconds, args.signal))


if __name__ == '__main__':
    main()

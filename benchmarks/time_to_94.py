"""Time to 94 %: run_cnn_model.py with the record flags, on whatever this machine has
(its GPU in bfloat16 where there is one, else its CPU), over one or more seeds.

    python benchmarks/time_to_94.py [--data_dir DIR] [--seeds 0 1 2] [script flags ...]

The record flags (RECORD below) come first; script flags given here are added after
them, so they win (e.g. --max_steps 20 for a quick check that everything runs). Prints,
for each seed, the test accuracy and run_cnn_model.py's printed total time (start-up,
loading, training and the test set included), and the median of each.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.environ.get('CIFAR10_DIR') or os.path.join(
    os.path.dirname(ROOT), 'shared', 'cifar-10-batches-py')
RECORD = ['--channels', '128', '--max_steps', '500']  # the README's 94 % command


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=DEFAULT_DATA)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    args, flags = parser.parse_known_args()
    accuracies, times = [], []
    with tempfile.TemporaryDirectory() as train_dir:
        for seed in args.seeds:
            command = [sys.executable, os.path.join(ROOT, 'run_cnn_model.py'),
                       '--data_dir', args.data_dir, '--train_dir', train_dir,
                       '--seed', str(seed)] + RECORD + flags
            out = subprocess.run(command, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            if out.returncode:
                sys.exit('run failed: %s\n%s' % (' '.join(command), out.stdout[-2000:]))
            accuracies.append(float(re.search(r'^Test accuracy (\S+)', out.stdout,
                                              re.M).group(1)))
            times.append(float(re.search(r'^Total time: *(\S+)s', out.stdout,
                                         re.M).group(1)))
            dtype = re.search(r'^dtype = (\S+)', out.stdout, re.M).group(1)
            print('seed %d: test accuracy %.4f in %.1f s (%s)%s' % (
                seed, accuracies[-1], times[-1], dtype,
                '' if accuracies[-1] >= 0.94 else ': below 94 %'), flush=True)
    print('median: test accuracy %.4f in %.1f s over %d seed(s) of %s' % (
        statistics.median(accuracies), statistics.median(times), len(args.seeds),
        ' '.join(RECORD + flags)))


if __name__ == '__main__':
    main()

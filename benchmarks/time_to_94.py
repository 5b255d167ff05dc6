"""Time to 94 %: run_cnn_model.py with the record flags, on whatever this machine has
(its GPU in bfloat16 where there is one, else its CPU), over one or more seeds.

    python benchmarks/time_to_94.py [--data_dir DIR] [--seeds 0 1 2] [script flags ...]

The record flags (RECORD below) come first; script flags given here are added after
them, so they win (e.g. --max_steps 20 for a quick check that everything runs). Prints,
for each seed, the test accuracy and the wall time of the whole run_cnn_model.py
process (start-up, loading, training and the test set included), and the median of
each.
"""
import argparse
import statistics
import tempfile

import common  # the project on the import path, DEFAULT_DATA, train
from support import run_record

# The candidate (docs/part3.md): airbench94's network, trained as airbench94_spectral
# trains it (spectral steps for the filters, 8 epochs of batches of 2000), in this code.
RECORD = ['--channels', '64', '--later_channels', '256', '--activation', 'gelu',
          '--batch_size', '2000', '--max_steps', '200', '--learning_rate', '1.66',
          '--reg_constant', '2.3e-3', '--spectral_rate', '0.24', '--warmup', '0',
          '--final_rate', '0', '--no_lookahead']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=common.DEFAULT_DATA)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    args, flags = parser.parse_known_args()
    accuracies, times = [], []
    with tempfile.TemporaryDirectory() as train_dir:
        for seed in args.seeds:
            accuracy, seconds, run, _ = common.train('run_cnn_model.py', RECORD + flags + [
                '--data_dir', args.data_dir, '--seed', str(seed)], train_dir)
            accuracies.append(accuracy)
            times.append(seconds)
            dtype = run_record.read(run).flags['dtype']
            print('seed %d: test accuracy %.4f in %.1f s (%s)%s' % (
                seed, accuracy, seconds, dtype,
                '' if accuracy >= 0.94 else ': below 94 %'), flush=True)
    print('median: test accuracy %.4f in %.1f s over %d seed(s) of %s' % (
        statistics.median(accuracies), statistics.median(times), len(args.seeds),
        ' '.join(RECORD + flags)))


if __name__ == '__main__':
    main()

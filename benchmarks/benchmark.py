"""Benchmark the tutorial's scripts against Keras references of the same models.

    python benchmarks/benchmark.py [--data_dir DIR] [--runs 3]

Runs softmax.py and run_fc_model.py with their default hyperparameters, and
keras_softmax.py and keras_two_layer_fc.py (the same models written as a Keras user
would), each --runs times as whole processes, interleaved so that a slow spell of the
machine hits all of them alike. A process that starts right after a large one has
exited finds its memory cold (the first touch of each page costs more on this virtual
machine), so the order changes each round (a Williams design): over 4 rounds every
program runs once right after each of the other three. Prints, per program, the medians of: wall time, time
by phase (import, load, train, report; see phases.py), training steps per second,
peak resident memory and test accuracy, and our wall time as a ratio of the Keras
reference's from the same invocation. Every run works in a fresh temporary folder.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = (os.environ.get('CIFAR10_DIR') or
                os.path.join(os.path.dirname(ROOT), 'shared', 'cifar-10-batches-py'))
PROGRAMS = [  # (name, script, training steps, Keras reference it is compared with)
    ('softmax.py', os.path.join(ROOT, 'softmax.py'), 1000, 'keras_softmax.py'),
    ('keras_softmax.py', os.path.join(HERE, 'keras_softmax.py'), 1000, None),
    ('run_fc_model.py', os.path.join(ROOT, 'run_fc_model.py'), 2000, 'keras_two_layer_fc.py'),
    ('keras_two_layer_fc.py', os.path.join(HERE, 'keras_two_layer_fc.py'), 2000, None),
]

# Each program follows each other one exactly once over these four rounds.
ORDERS = [(0, 1, 3, 2), (1, 2, 0, 3), (2, 3, 1, 0), (3, 0, 2, 1)]


def run_once(script, data_dir):
    """One whole-process run: wall time, phases, peak memory and test accuracy."""
    with tempfile.TemporaryDirectory() as workdir:
        marks_file = os.path.join(workdir, 'marks.json')
        start = time.time()
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'phases.py'), marks_file, script,
             '--data_dir', os.path.abspath(data_dir)],
            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.time() - start
        if status != 0:
            sys.exit('%s failed (status %d):\n%s' % (script, status, output))
        with open(marks_file) as f:
            marks = json.load(f)
    accuracy = float([l for l in output.splitlines() if l.startswith('Test accuracy')]
                     [-1].split()[-1])
    return {
        'wall': wall,
        'import': marks['imported'] - start,
        'load': marks['loaded'] - marks['load_start'],
        'train': marks['tested'] - marks['loaded'],
        'report': start + wall - marks['tested'],
        'peak_mb': usage.ru_maxrss / 1024,  # kilobytes on Linux
        'accuracy': accuracy,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=DEFAULT_DATA,
                        help='CIFAR-10 folder (default: %(default)s)')
    parser.add_argument('--runs', type=int, default=4,
                        help='runs of each program (default: %(default)s: one round of '
                             'each order)')
    parser.add_argument('--json', help='also write every run\'s figures to this file')
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.data_dir, 'test_batch')):
        sys.exit('No CIFAR-10 in %s: pass --data_dir' % args.data_dir)

    results = {name: [] for name, *_ in PROGRAMS}
    for run in range(args.runs):
        for index in ORDERS[run % len(ORDERS)]:
            name, script, _, _ = PROGRAMS[index]
            results[name].append(run_once(script, args.data_dir))
            print('run %d/%d %-22s %6.2f s' % (run + 1, args.runs, name,
                                                 results[name][-1]['wall']), flush=True)

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    print('\nMedians of %d runs, %s, TensorFlow %s, %d cores:' % (
        args.runs, args.data_dir, tf_version(), os.cpu_count()))
    header = ('program', 'wall s', 'import', 'load', 'train', 'report', 'steps/s',
              'peak MB', 'accuracy', 'vs Keras')
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for name, _, steps, reference in PROGRAMS:
        ratio = ('%.2fx' % (median(name, 'wall') / median(reference, 'wall'))
                 if reference else '')
        print('| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.4f | %s |' % (
            name, median(name, 'wall'), median(name, 'import'), median(name, 'load'),
            median(name, 'train'), median(name, 'report'), steps / median(name, 'train'),
            median(name, 'peak_mb'), median(name, 'accuracy'), ratio))
    print('(train: from the loaded data to the printed test accuracy, test-set inference '
          'included; steps/s counts that span)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


def tf_version():
    from importlib.metadata import version
    return version('tensorflow')


if __name__ == '__main__':
    main()

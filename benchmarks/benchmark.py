"""Benchmark the tutorial's scripts against the tutorial's 2017 code and Keras.

    python benchmarks/benchmark.py [--data_dir DIR] [--runs 4] [--models softmax,fc]
    python benchmarks/benchmark.py --models cnn --runs 2

Runs, each --runs times as whole processes with their default hyperparameters:
softmax.py and run_fc_model.py; the tutorial's 2017 code (../shared/tutorial2017, run
as it is, from a folder holding a link to the data); and keras_softmax.py and
keras_two_layer_fc.py, the same models written as a Keras user would. --models cnn runs
Part 3's run_cnn_model.py and keras_cnn.py (about 8 minutes each, so not by default).
The runs are interleaved, in an order that changes each round (a Williams design: each
program runs right after each other one equally often), so that a slow spell of the
machine, or the cold memory a process finds right after a large one exited, hits all of
them alike. Prints the medians of: wall time, time by phase (import, load, train,
report and, within it, exit; see phases.py; our scripts and Keras only), steps per
second, peak resident memory and test accuracy, and our wall time as a ratio of the
2017 code's and of Keras'.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import DEFAULT_DATA, HERE, ROOT

TUTORIAL_2017 = os.path.join(os.path.dirname(ROOT), 'shared', 'tutorial2017')

# (name, script, kind, training steps); the model is the key
PROGRAMS = {'softmax': [
    ('softmax.py', os.path.join(ROOT, 'softmax.py'), 'ours', 1000),
    ('2017 softmax.py', os.path.join(TUTORIAL_2017, 'softmax.py'), '2017', 1000),
    ('keras_softmax.py', os.path.join(HERE, 'keras_softmax.py'), 'keras', 1000),
], 'fc': [
    ('run_fc_model.py', os.path.join(ROOT, 'run_fc_model.py'), 'ours', 2000),
    ('2017 run_fc_model.py', os.path.join(TUTORIAL_2017, 'run_fc_model.py'), '2017', 2000),
    ('keras_two_layer_fc.py', os.path.join(HERE, 'keras_two_layer_fc.py'), 'keras', 2000),
], 'cnn': [
    ('run_cnn_model.py', os.path.join(ROOT, 'run_cnn_model.py'), 'ours', 650),
    ('keras_cnn.py', os.path.join(HERE, 'keras_cnn.py'), 'keras', 650),
]}
COMPARED = {'softmax.py': ('2017 softmax.py', 'keras_softmax.py'),
            'run_fc_model.py': ('2017 run_fc_model.py', 'keras_two_layer_fc.py'),
            'run_cnn_model.py': ('', 'keras_cnn.py')}


def williams_orders(n):
    """Orders of range(n) in which each item follows each other one equally often: n
    orders for an even n, and those n and their reverses for an odd n."""
    first = [0]
    for k in range(1, n):
        first.append((first[-1] + (k if k % 2 else n - k)) % n)
    orders = [[(item + shift) % n for item in first] for shift in range(n)]
    return orders if n % 2 == 0 else orders + [order[::-1] for order in orders]


def run_once(script, kind, data_dir):
    """One whole-process run: wall time, phases, peak memory and test accuracy."""
    with tempfile.TemporaryDirectory() as workdir:
        marks_file = os.path.join(workdir, 'marks.json')
        if kind == '2017':  # it reads cifar-10-batches-py in the working directory
            link = os.path.join(workdir, 'cifar-10-batches-py')
            try:
                os.symlink(os.path.abspath(data_dir), link, target_is_directory=True)
            except OSError:  # Windows without the right to make links
                shutil.copytree(data_dir, link)
            command = [sys.executable, script]
        else:
            command = [sys.executable, os.path.join(HERE, 'phases.py'), marks_file, script,
                       '--data_dir', os.path.abspath(data_dir)]
        start = time.time()
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        output = process.stdout.read()
        if hasattr(os, 'wait4'):
            _, status, usage = os.wait4(process.pid, 0)
            status = os.waitstatus_to_exitcode(status)
            # ru_maxrss: kilobytes on Linux, bytes on macOS
            peak_mb = usage.ru_maxrss / (1 << 20 if sys.platform == 'darwin' else 1 << 10)
        else:  # Windows: no peak memory from the process's exit
            status, peak_mb = process.wait(), None
        wall = time.time() - start
        if status != 0:
            sys.exit('%s failed (status %d):\n%s' % (script, status, output))
        marks = {}
        if kind != '2017':
            with open(marks_file) as f:
                marks = json.load(f)
    accuracy = printed_value(output, 'Test accuracy')
    if accuracy is None:
        sys.exit('%s printed no test accuracy:\n%s' % (script, output))
    result = {'wall': wall, 'peak_mb': peak_mb, 'accuracy': accuracy,
              # keras_cnn.py: the idle time between its epochs (its docstring)
              'epoch_starts': printed_value(output, 'Epoch starts:')}
    if marks:
        result.update({
            'import': marks['imported'] - start,
            'load': marks['loaded'] - marks['load_start'],
            'train': marks['tested'] - marks['loaded'],
            'report': start + wall - marks['tested'],
            'exit': start + wall - marks['end'],
        })
    return result


def printed_value(output, prefix):
    """The number ending the last line of output that starts with prefix (a trailing
    's' dropped), or None without such a line."""
    lines = [line for line in output.splitlines() if line.startswith(prefix)]
    return float(lines[-1].split()[-1].rstrip('s')) if lines else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=DEFAULT_DATA,
                        help='CIFAR-10 folder (default: %(default)s)')
    parser.add_argument('--runs', type=int, default=4,
                        help='runs of each program (default: %(default)s)')
    parser.add_argument('--models', default='softmax,fc',
                        help='comma-separated, of softmax, fc, cnn (default: %(default)s)')
    parser.add_argument('--json', help='also write every run\'s figures to this file')
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.data_dir, 'test_batch')):
        sys.exit('No CIFAR-10 in %s: pass --data_dir' % args.data_dir)
    models = args.models.split(',')
    if not set(models) <= set(PROGRAMS):
        sys.exit('--models takes a list of %s' % ', '.join(PROGRAMS))
    programs = [p for model in models for p in PROGRAMS[model]
                if p[2] != '2017' or os.path.isfile(p[1])]

    results = {name: [] for name, *_ in programs}
    orders = williams_orders(len(programs))
    for run in range(args.runs):
        for index in orders[run % len(orders)]:
            name, script, kind, _ = programs[index]
            results[name].append(run_once(script, kind, args.data_dir))
            print('run %d/%d %-30s %6.2f s' % (run + 1, args.runs, name,
                                               results[name][-1]['wall']), flush=True)

    def median(name, key):
        values = [r[key] for r in results[name] if r.get(key) is not None]
        return statistics.median(values) if values else None

    def cell(value, form='%.2f'):
        return '' if value is None else form % value

    print('\nMedians of %d runs, %s, TensorFlow %s, %d cores:' % (
        args.runs, args.data_dir, tf_version(), os.cpu_count()))
    header = ('program', 'wall s', 'import', 'load', 'train', 'report', 'exit', 'steps/s',
              'peak MB', 'accuracy', 'vs 2017', 'vs Keras')
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for name, _, _, steps in programs:
        ratios = [cell(median(name, 'wall') / median(other, 'wall'), '%.2fx')
                  if other in results else '' for other in COMPARED.get(name, ('', ''))]
        train = median(name, 'train')
        print('| %s |' % ' | '.join([
            name, cell(median(name, 'wall')), cell(median(name, 'import')),
            cell(median(name, 'load')), cell(train), cell(median(name, 'report')),
            cell(median(name, 'exit')), cell(train and steps / train, '%.0f'),
            cell(median(name, 'peak_mb'), '%.0f'),
            cell(median(name, 'accuracy'), '%.4f')] + ratios))
    print('(train: from the loaded data to the printed test accuracy, test-set inference '
          'included; steps/s counts that span; exit: from the end of the script to the '
          'end of its process, part of report)')
    for name, (_, keras_name) in COMPARED.items():
        idle = keras_name in results and median(keras_name, 'epoch_starts')
        if idle:
            print('%s waited %.2f s at its epoch starts, idle; without them %s took %.2fx '
                  'its wall time' % (keras_name, idle, name, median(name, 'wall') /
                                     (median(keras_name, 'wall') - idle)))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


def tf_version():
    from importlib.metadata import version
    return version('tensorflow')


if __name__ == '__main__':
    main()

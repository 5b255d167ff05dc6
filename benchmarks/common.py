"""What the benchmarks share: the project on the import path, where CIFAR-10 is, and
one training script run as a whole process, with its result."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the project's modules: support, cnn, data_helpers, ...
# Where a learner has CIFAR-10: $CIFAR10_DIR, or the folder the first run downloaded.
DEFAULT_DATA = os.environ.get('CIFAR10_DIR') or os.path.join(ROOT, 'cifar-10-batches-py')


def train(script, flags, train_dir):
    """Run ROOT/script with flags, its run going to train_dir, in a process of its own.

    Returns:
      (test accuracy, wall seconds of the whole process, the run (support.runs.Run),
      what it printed). A failed run ends the benchmark with its output.
    """
    from support import run_record, runs
    os.makedirs(train_dir, exist_ok=True)
    before = set(os.listdir(train_dir))
    command = [sys.executable, os.path.join(ROOT, script), '--train_dir', train_dir] + flags
    started = time.time()
    out = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    seconds = time.time() - started
    new = sorted(set(os.listdir(train_dir)) - before)
    run = runs.Run(os.path.join(train_dir, new[0])) if len(new) == 1 else None
    scored = run and run_record.result(run)
    if out.returncode or not scored:
        sys.exit('run failed: %s\n%s' % (' '.join(command), out.stdout[-2000:]))
    return scored[1], seconds, run, out.stdout

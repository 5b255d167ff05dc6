"""What the tutorial's scripts need but the tutorial does not discuss, one job a module.

- cli: flags with range checks, one-line errors, Ctrl-C, a quiet TensorFlow import.
- download: fetch an archive or file once: progress, size cap, MD5, safe extraction.
- safe_pickle: read the CIFAR-10 pickles without letting them run code.
- mnist: MNIST and Fashion-MNIST (the companion tutorial's data) from IDX files.
- runs: one folder per run: its name, lock, TensorBoard logs and checkpoints.
- restore: a recorded run's network, data and logits, for restoring and predicting.
- training: what the training loop needs: the step as a graph with its summaries,
  divergence, Ctrl-C and SIGTERM, the progress line.
- report: per-class accuracy, confusion matrix and pictures of what a model learned.
- devices: which devices train, and in what precision.
- zero_copy: NumPy arrays handed to TensorFlow without a copy.

Importing the package first checks the Python version, so that a Python TensorFlow
has no release for gets one line that says what to do, before anything else fails.
"""
import sys

PYTHONS = (3, 10), (3, 13)  # those TensorFlow 2.21 has wheels for (see requirements.txt)
PYTHONS_TEXT = 'Python %d.%d to %d.%d' % (PYTHONS[0] + PYTHONS[1])

if sys.version_info[:2] < PYTHONS[0]:
    sys.exit('Error: this is Python %d.%d, but these scripts need %s: install one of '
             'those and create the environment with it, as the README shows'
             % (sys.version_info[:2] + (PYTHONS_TEXT,)))

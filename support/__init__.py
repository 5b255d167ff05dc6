"""What the tutorial's scripts need but the tutorial does not discuss, one job a module.

- script: a script's start and end: a quiet TensorFlow import, errors as one line.
- cli: the command line's flags: range checks, one-line flag errors, shared flags.
- errors: InputError, the bad input a user can fix, and what a failed write means.
- small_data: the batch size (and Part 3's learning rate) fitted to a small folder.
- download: fetch an archive or file once: progress, size cap, MD5.
- untar: extract a .tar.gz from anywhere, all or nothing, inside its folder.
- safe_pickle: read the CIFAR-10 pickles without letting them run code.
- mnist: MNIST and Fashion-MNIST (the companion tutorial's data) from IDX files.
- image_folder: your own images, a subfolder per class, as a dataset.
- image_file: one image file as pixels (Pillow).
- image_cache: a folder's decoded images kept for the next run.
- runs: one folder per run: its lock, its checkpoints, finding the newest.
- run_record: what a run records (flags.json, result.json) and --resume reads back.
- restore: a recorded run's network, data and logits, for restoring and predicting.
- loop: the training loop's machinery: the step as a graph with its summaries,
  divergence, Ctrl-C and SIGTERM, the progress line, predictions in batches.
- report: per-class accuracy, confusion matrix and pictures of what a model learned.
- devices: which devices train, and in what precision.
- export: a trained network as a SavedModel and a TFLite file.
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

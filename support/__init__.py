"""What the tutorial's scripts need but the tutorial does not discuss, one job a module.

- cli: flags with range checks, one-line errors, Ctrl-C, a quiet TensorFlow import.
- download: fetch an archive or file once: progress, size cap, MD5, safe extraction.
- safe_pickle: read the CIFAR-10 pickles without letting them run code.
- mnist: MNIST and Fashion-MNIST (the companion tutorial's data) from IDX files.
- runs: one folder per run: its name, lock, TensorBoard logs and checkpoints.
- training: the loop around a training step: many steps per graph call, printing,
  checkpoints, divergence and Ctrl-C.
- report: per-class accuracy, confusion matrix and pictures of what a model learned.
"""

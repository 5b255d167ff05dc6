"""Spectral steps' orthogonal matrices: cnn.orthogonal()'s SVD against Newton-Schulz.

    python benchmarks/research/orthogonal_time.py

For the six filters of the defaults' network (48/96/96 channels) and of the 94 %
command's (64/256/256), times one compiled call computing the orthogonal matrix of
each filter (median of 20, after 2 to warm up), by cnn.orthogonal()'s singular value
decomposition and by five quintic Newton-Schulz iterations (the Muon optimizer's, which
use matrix products only), and prints the range of the singular values each gives
(exactly 1 is what a spectral step asks for). docs/part3.md, "Less arithmetic".
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402,F401 (the project on the import path)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import cnn  # noqa: E402


def newton_schulz(filters, steps=5):
    """Muon's approximate orthogonal matrix of filters [3, 3, inputs, outputs]."""
    x = tf.transpose(tf.reshape(filters, [-1, filters.shape[-1]]))  # wide: small x x^T
    x = x / (tf.norm(x) + 1e-7)
    a, b, c = 3.4445, -4.7750, 2.0315  # Muon's coefficients
    for _ in range(steps):
        gram = tf.matmul(x, x, transpose_b=True)
        x = a * x + tf.matmul(b * gram + c * tf.matmul(gram, gram), x)
    return tf.reshape(tf.transpose(x), filters.shape)


def main():
    tf.random.set_seed(0)
    for channels, later_channels in [(48, 96), (64, 256)]:
        # Random velocities of the shapes of the network's own filters.
        model = cnn.CNN(channels, 10, later_channels=later_channels)
        filters = [tf.random.normal(f.shape) for f in model.filters]
        for name, method in [('svd', cnn.orthogonal), ('newton-schulz', newton_schulz)]:
            step = tf.function(lambda: [method(f) for f in filters])
            step(), step()
            times = []
            for _ in range(20):
                start = time.perf_counter()
                results = step()
                times.append(time.perf_counter() - start)
            values = [np.linalg.svd(r.numpy().reshape(-1, r.shape[-1]), compute_uv=False)
                      for r in results]
            print('channels %d/%d/%d, %s: %.1f ms for the 6 filters, singular values '
                  '%.2f-%.2f' % (channels, later_channels, later_channels, name,
                                 1000 * statistics.median(times),
                                 min(v.min() for v in values),
                                 max(v.max() for v in values)), flush=True)


if __name__ == '__main__':
    main()

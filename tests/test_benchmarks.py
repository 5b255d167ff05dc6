"""The benchmarks' own arithmetic, where a wrong result would mislead a measurement."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT

sys.path.insert(0, str(ROOT / 'benchmarks'))
from step_time import conv_flops, conv_shapes, shifted_conv2d  # noqa: E402


def test_shifted_filter_gradient_is_the_convolutions_gradient():
    # float32, so that the two ways agree to rounding; sides 7 (odd) and 4 (even).
    conv = shifted_conv2d(tf.nn.conv2d, largest_side=7)
    for side, width_in, width in [(7, 5, 6), (4, 3, 8)]:
        x = tf.random.normal([3, side, side, width_in], seed=1)
        filters = tf.random.normal([3, 3, width_in, width], seed=2)
        results = []
        for conv2d in (tf.nn.conv2d, conv):
            with tf.GradientTape() as tape:
                tape.watch([x, filters])
                y = conv2d(x, filters, 1, 'SAME')
                loss = tf.reduce_sum(tf.sin(y))  # a different gradient at each output
            results.append([y] + tape.gradient(loss, [x, filters]))
        for expected, shifted in zip(*results):
            np.testing.assert_allclose(shifted.numpy(), expected.numpy(), rtol=1e-4,
                                       atol=1e-4)
    # Larger images keep TensorFlow's gradient: its graph has no matrix products.
    def gradient_ops(side):
        @tf.function
        def filters_gradient(x, filters):
            with tf.GradientTape() as tape:
                tape.watch(filters)
                y = conv(x, filters, 1, 'SAME')
            return tape.gradient(y, filters)
        graph = filters_gradient.get_concrete_function(
            tf.TensorSpec([1, side, side, 2]), tf.TensorSpec([3, 3, 2, 2])).graph
        return {op.type for op in graph.get_operations()}
    assert 'MatMul' in gradient_ops(7) and 'Conv2DBackpropFilter' not in gradient_ops(7)
    assert 'Conv2DBackpropFilter' in gradient_ops(8) and 'MatMul' not in gradient_ops(8)


def test_conv_flops_counts_each_layer_from_its_shape():
    # The 94 % network: 31x31 24->64, 15x15 64->64, 15x15 64->256, 7x7 256->256 twice,
    # 3x3 256->256.
    assert conv_shapes(24, 64, 256) == [(31, 24, 64), (15, 64, 64), (15, 64, 256),
                                        (7, 256, 256), (7, 256, 256), (3, 256, 256)]
    macs = 31 * 31 * 4 * 3 * 24 + 31 * 31 * 9 * 24 * 64 * 2 + sum(
        side * side * 9 * a * b * 3 for side, a, b in conv_shapes(24, 64, 256)[1:])
    assert conv_flops(24, 64, 256) == 2 * macs
    assert abs(1000 * conv_flops(24, 64, 256) / 1e12 - 0.68) < 0.005  # docs' 0.68 TFLOP


def test_peak_bf16_counts_the_operations_it_runs(tmp_path):
    # Built as its first lines say, with few rounds: each of its instructions adds
    # 2 products of 1.0 and 2**-24 in each of 16 lanes, exactly, so the checksum counts
    # the products that ran, against the 64 operations an instruction it reports.
    cpuinfo = pathlib.Path('/proc/cpuinfo')
    if (not shutil.which('gcc') or not cpuinfo.exists()
            or 'avx512_bf16' not in cpuinfo.read_text(errors='replace')):
        pytest.skip('needs gcc and a Linux CPU with AVX512-BF16')
    source = ROOT / 'benchmarks' / 'peak_bf16.c'
    build = re.search(r'^ \*   (gcc .*)$', source.read_text(), re.M).group(1).split()
    binary = tmp_path / 'peak_bf16'
    build[build.index('-o') + 1] = str(binary)  # the header's command, into tmp_path
    subprocess.run(build + ['-DROUNDS=1000L'], cwd=ROOT, check=True)
    for threads in (1, 2):
        out = subprocess.run([str(binary)], env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
                             capture_output=True, text=True, check=True).stdout
        checksums = [float(c) for c in re.findall(r'checksum (\S+)\)', out)]
        products = threads * 1000 * 12 * 16 * 2  # rounds x chains x lanes x 2
        assert len(checksums) == 3 and 'best:' in out
        assert checksums == pytest.approx([products * 2**-24] * 3, rel=1e-5)

"""The filters' gradient of Part 3's convolutions, four ways, at the 94 % network's shapes.

    python benchmarks/filter_gradient.py [--batch_size 1000] [--runs 5]

For each 3x3 convolution shape of `--channels 64 --later_channels 256` (batches of 1000,
bfloat16) it times, median of --runs after one to warm up, the ways taking turns (this
machine's speed varies from minute to minute): the forward convolution;
the filters' gradient as TensorFlow computes it (Conv2DBackpropFilter, oneDNN); the same
as one matrix product of the input's 3x3 patches and the output gradients (im2col); as
nine matrix products, one for each of the filter's 3x3 weights, of the input shifted by
that weight's offset and the output gradients; and Conv2DBackpropFilter on four quarters
of the batch, summed. It prints each time and its rate, and how far the matrix products'
results are from TensorFlow's (bfloat16 rounding).
docs/part3.md, "Where a step's time goes", says what it found.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support import cli  # noqa: E402
from step_time import conv_shapes, shifted_filter_gradient  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch_size', type=int, default=1000)
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    cli.import_tensorflow_quietly()
    import tensorflow as tf
    import cnn
    tf.get_logger().setLevel('ERROR')  # each function is traced once per shape, on purpose

    def milliseconds(ways):
        """The median time of each of ways [(function, inputs)], run in turn --runs
        times, so that all see the same moments of a machine whose speed varies."""
        times = [[] for _ in ways]
        for run in range(args.runs + 1):  # the first run of each warms up
            for (function, inputs), durations in zip(ways, times):
                start = time.perf_counter()
                function(*inputs).numpy()
                if run:
                    durations.append(time.perf_counter() - start)
        return [1000 * statistics.median(t) for t in times]

    @tf.function
    def forward(x, w):
        return tf.nn.conv2d(x, w, 1, 'SAME')

    @tf.function
    def backprop_filter(x, dy):
        return tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=[3, 3, x.shape[-1], dy.shape[-1]], out_backprop=dy,
            strides=[1, 1, 1, 1], padding='SAME')

    @tf.function
    def patches_matmul(x, dy):
        width_in, width = x.shape[-1], dy.shape[-1]
        patches = tf.image.extract_patches(
            tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), [1, 3, 3, 1], [1, 1, 1, 1],
            [1, 1, 1, 1], 'VALID')
        return tf.reshape(tf.matmul(tf.reshape(patches, [-1, 9 * width_in]),
                                    tf.reshape(dy, [-1, width]), transpose_a=True),
                          [3, 3, width_in, width])

    shifted_matmuls = tf.function(shifted_filter_gradient)

    @tf.function
    def quarters(x, dy):
        return tf.add_n([backprop_filter(x[i::4], dy[i::4]) for i in range(4)])

    # The 94 % network's 3x3 convolutions, each shape once (two are 7x7, 256 -> 256)
    shapes = dict.fromkeys(conv_shapes(cnn.WHITENING_WIDTH, 64, 256))
    for side, width_in, width in shapes:
        x = tf.cast(tf.random.normal([args.batch_size, side, side, width_in]), tf.bfloat16)
        dy = tf.cast(tf.random.normal([args.batch_size, side, side, width]), tf.bfloat16)
        w = tf.cast(tf.random.normal([3, 3, width_in, width]), tf.bfloat16)
        exact = tf.cast(backprop_filter(x, dy), tf.float32)
        errors = [tf.reduce_max(tf.abs(tf.cast(f(x, dy), tf.float32) - exact)) /
                  tf.reduce_max(tf.abs(exact)) for f in (patches_matmul, shifted_matmuls)]
        names = ['forward', 'filter gradient', 'as a matrix product',
                 'as nine shifted products', 'in quarters']
        ways = [(forward, (x, w))] + [(f, (x, dy)) for f in (
            backprop_filter, patches_matmul, shifted_matmuls, quarters)]
        flops = 2 * args.batch_size * side * side * 9 * width_in * width
        print('%dx%d, %d -> %d channels: %s; the matrix products off by %.2g and %.2g of '
              'the largest' % (side, side, width_in, width, ', '.join(
                  '%s %.0f ms (%.2f TFLOP/s)' % (name, ms, flops / ms / 1e9)
                  for name, ms in zip(names, milliseconds(ways))), *errors), flush=True)


if __name__ == '__main__':
    main()

"""Where a training step of Part 3's network spends its time: one step, timed alone.

    python benchmarks/research/step_time.py [--channels 64 --later_channels 256]
        [--activation gelu]
        [--dtype bfloat16] [--batch_size 1000] [--steps 5] [--inter_op_threads N]
        [--shifted_up_to SIDE] [--spectral]

Builds cnn.CNN with these flags, compiles run_cnn_model.py's step (augmentation,
inference, loss, Nesterov momentum; without lookahead, which runs every 5th step) on
random images, runs 2 steps to warm up, then times --steps steps and prints the median
milliseconds per step, images/s, and the rate of the convolutions' arithmetic it
achieves (multiply-adds counted from the layers' shapes, 2 operations each, forward and
both gradients; docs/part3.md, "Where a step's time goes"), and its share of the rate of a
4096x4096 matrix product in the same precision, a yardstick timed in turns with the
steps (this machine's speed varies from minute to minute). --shifted_up_to 7 times a
second step in those turns, whose smaller convolutions get their filters' gradient as
matrix products instead of oneDNN's convolution;
--spectral, a step whose filters take spectral steps (cnn.training(), batches of 2000
in the record command).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402,F401 (the project on the import path)
from support import script  # noqa: E402


def conv_shapes(whitening_width, channels, later_channels, size=32):
    """(side, input channels, output channels) of each 3x3 convolution, in order, for
    size x size images (the 2x2 whitening takes one pixel off, each block's first
    convolution is pooled to half)."""
    widths = [whitening_width, channels, later_channels, later_channels]
    side, shapes = size - 1, []
    for width_in, width in zip(widths, widths[1:]):
        shapes.append((side, width_in, width))
        side //= 2
        shapes.append((side, width, width))
    return shapes


def conv_flops(whitening_width, channels, later_channels, size=32):
    """Floating-point operations of the convolutions in one image's training step: the
    forward pass and the gradients of the filters and of the inputs (the whitening
    layer is fixed: no gradients for it or for the first convolution's input)."""
    side = size - 1
    step = side * side * 4 * 3 * whitening_width  # the whitening, forward only
    for layer, (side, width_in, width) in enumerate(
            conv_shapes(whitening_width, channels, later_channels, size)):
        step += side * side * 9 * width_in * width * (2 if layer == 0 else 3)
    return 2 * step


def shifted_filter_gradient(x, dy):
    """The filters' gradient of a 3x3 'SAME' convolution of x [batch, side, side, in]
    giving dy [batch, side, side, out], as nine matrix products: for each of the 3x3
    weights, the input shifted by that weight's offset against the output gradients."""
    import tensorflow as tf
    side, width_in, width = x.shape[1], x.shape[-1], dy.shape[-1]
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    gradient = tf.reshape(dy, [-1, width])
    return tf.reshape(tf.stack([
        tf.matmul(tf.reshape(padded[:, i:i + side, j:j + side], [-1, width_in]),
                  gradient, transpose_a=True) for i in range(3) for j in range(3)]),
        [3, 3, width_in, width])


def shifted_conv2d(conv2d, largest_side):
    """tf.nn.conv2d, but for 3x3 'SAME' convolutions of images of largest_side pixels
    or fewer, with shifted_filter_gradient() for the filters' gradient."""
    import tensorflow as tf

    @tf.custom_gradient
    def conv3x3(x, filters):
        def gradient(dy):
            return (tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=filters, out_backprop=dy,
                strides=[1, 1, 1, 1], padding='SAME'), shifted_filter_gradient(x, dy))
        return conv2d(x, filters, 1, 'SAME'), gradient

    def conv(x, filters, strides, padding, *args, **kwargs):
        if padding == 'SAME' and filters.shape[:2] == (3, 3) and x.shape[1] <= largest_side:
            return conv3x3(x, filters)
        return conv2d(x, filters, strides, padding, *args, **kwargs)
    return conv


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--channels', type=int, default=64)
    parser.add_argument('--later_channels', type=int, default=256)
    parser.add_argument('--activation', default='gelu', choices=['relu', 'gelu'])
    parser.add_argument('--dtype', default='auto', choices=['auto', 'float32', 'bfloat16'])
    parser.add_argument('--batch_size', type=int, default=1000)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--inter_op_threads', type=int, default=0,
                        help='TensorFlow ops run at once (0: its default)')
    parser.add_argument('--shifted_up_to', type=int, default=0, metavar='SIDE',
                        help='also time, in turns with the step, the same step with the '
                             'filters\' gradient of the convolutions on images of SIDE '
                             'pixels or fewer computed as nine shifted matrix products; '
                             '0: not')
    parser.add_argument('--spectral', action='store_true',
                        help='also time, in turns, the step with spectral steps for the '
                             'filters (--spectral_rate of run_cnn_model.py)')
    args = parser.parse_args()
    script.import_tensorflow_quietly()
    import tensorflow as tf
    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    import cnn
    from support import devices

    dtype = devices.compute_dtype(args.dtype)
    model = cnn.CNN(args.channels, 10, tf.random.normal([2, 2, 3, cnn.WHITENING_WIDTH]),
                    reg_constant=1e-3, dtype=dtype, later_channels=args.later_channels,
                    activation=args.activation)
    images = tf.random.normal([args.batch_size, 32, 32, 3])
    labels = tf.random.uniform([args.batch_size], 0, 10, tf.int64)
    flip = tf.random.uniform([args.batch_size]) < 0.5

    def make_step():
        @tf.function
        def step():
            seed = tf.stack([tf.constant(0, tf.int64), model.global_step])
            with tf.GradientTape() as tape:
                logits = cnn.inference(cnn.augment(images, flip, seed), model,
                                       training=True)
                loss = cnn.loss(logits, labels, model, 0.2)
            cnn.training(tape, loss, model, 0.1, 0.85, spectral_rate=0.1)
            return loss
        step()  # traced now, with the tf.nn.conv2d of now
        return step

    square = tf.cast(tf.random.normal([4096, 4096]), dtype)
    ways = {'step': make_step(),
            'matrix product': tf.function(lambda: tf.matmul(square, square))}
    if args.shifted_up_to:
        conv2d = tf.nn.conv2d
        tf.nn.conv2d = shifted_conv2d(conv2d, args.shifted_up_to)  # what cnn.py calls
        ways['step, shifted filter gradient'] = make_step()
        tf.nn.conv2d = conv2d
    if args.spectral:
        model.spectral = True  # for the step traced now
        ways['step, spectral filters'] = make_step()
        model.spectral = False
    times = {name: [] for name in ways}
    for run in range(args.steps + 2):  # in turns; the first two warm up
        for name, function in ways.items():
            start = time.perf_counter()
            function().numpy()
            if run >= 2:
                times[name].append(time.perf_counter() - start)
    seconds = {name: statistics.median(t) for name, t in times.items()}
    flops = args.batch_size * conv_flops(cnn.WHITENING_WIDTH, args.channels,
                                         args.later_channels)
    matmul_rate = 2 * 4096**3 / seconds.pop('matrix product') / 1e12
    for name, step_seconds in seconds.items():
        print('%s %d/%d/%d %s, batch %d, inter-op threads %s, %s: %.0f ms, %.0f images/s, '
              'convolutions at %.2f TFLOP/s (%.2f TFLOP a step, %.0f %% of the matrix '
              'product\'s rate)' % (
                  dtype.name, args.channels, args.later_channels, args.later_channels,
                  args.activation, args.batch_size, args.inter_op_threads or 'default',
                  name, 1000 * step_seconds, args.batch_size / step_seconds,
                  flops / step_seconds / 1e12, flops / 1e12,
                  100 * flops / step_seconds / 1e12 / matmul_rate))
    print('a 4096x4096 matrix product in %s, in turns with the step: %.2f TFLOP/s' % (
        dtype.name, matmul_rate))


if __name__ == '__main__':
    main()

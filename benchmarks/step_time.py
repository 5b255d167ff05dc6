"""Where a training step of Part 3's network spends its time: one step, timed alone.

    python benchmarks/step_time.py [--channels 64 --later_channels 256 --activation gelu]
        [--dtype bfloat16] [--batch_size 1000] [--steps 5] [--inter_op_threads N]

Builds cnn.CNN with these flags, compiles run_cnn_model.py's step (augmentation,
inference, loss, Nesterov momentum; without lookahead, which runs every 5th step) on
random images, runs 3 steps to warm up, then times --steps steps and prints the median
milliseconds per step, images/s, and the rate of the convolutions' arithmetic it
achieves (multiply-adds counted from the layers' shapes, 2 operations each, forward and
both gradients; docs/part3.md, "Where a step's time goes").
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support import cli  # noqa: E402


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
    args = parser.parse_args()
    cli.import_tensorflow_quietly()
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

    @tf.function
    def step():
        seed = tf.stack([tf.constant(0, tf.int64), model.global_step])
        with tf.GradientTape() as tape:
            logits = cnn.inference(cnn.augment(images, flip, seed), model, training=True)
            loss = cnn.loss(logits, labels, model, 0.2)
        cnn.training(tape, loss, model, 0.1, 0.85)
        return loss

    for _ in range(3):
        step().numpy()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    flops = args.batch_size * conv_flops(cnn.WHITENING_WIDTH, args.channels,
                                         args.later_channels)
    print('%s %d/%d/%d %s, batch %d, inter-op threads %s: %.0f ms a step, %.0f images/s, '
          'convolutions at %.2f TFLOP/s (%.2f TFLOP a step)' % (
              dtype.name, args.channels, args.later_channels, args.later_channels,
              args.activation, args.batch_size, args.inter_op_threads or 'default',
              1000 * seconds, args.batch_size / seconds, flops / seconds / 1e12,
              flops / 1e12))


if __name__ == '__main__':
    main()

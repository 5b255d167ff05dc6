"""Classify your own pictures with a trained network: the three likeliest classes of each.

Each JPEG, PNG, GIF or BMP is decoded by TensorFlow, shrunk to 32x32 pixels as the
CIFAR-10 images are, and prepared as the run's training prepared its images (the mean
training image subtracted, and for Part 3 the test-time flip). The network is the
newest run in tf_logs with a checkpoint (run_fc_model.py or run_cnn_model.py), or the
run named with --run. A CIFAR-10 network knows only its ten classes, and small,
centred objects as in its training images: a photo of a cat's face fills the frame
in a way no training image does, so expect mistakes.

    python predict_image.py photo.jpg [more.png ...] [--run RUN_NAME]
"""
import os

from support import cli


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='JPEG, PNG, GIF or BMP files to classify')
    parser.add_argument('--run', metavar='RUN_NAME',
                        help='the run whose network classifies: a folder in train_dir '
                             '(default: the newest run with a checkpoint)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='folder of the runs (default: %(default)s)')
    parser.add_argument('--data_dir', default=None,
                        help='the CIFAR-10 folder, for the mean training image (default: '
                             'the one the run trained on)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = cli.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import numpy as np
import tensorflow as tf

import data_helpers
import restore_model
from support import runs

MAX_IMAGE_BYTES = 64 << 20  # a photo is a few MB; refuse anything far larger unread


def load_image(path):
    """The image at path as one CIFAR-10 row: 3072 uint8 values, a red, a green and a
    blue 32x32 plane, as load_data() returns them.

    Raises:
      InputError: the file is missing, too large, or not an image TensorFlow decodes.
    """
    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            raise cli.InputError('%s is over %d MB: not a photo to classify'
                                 % (path, MAX_IMAGE_BYTES >> 20))
        with open(path, 'rb') as f:
            contents = f.read()
    except OSError as e:
        raise cli.InputError('cannot read %s: %s' % (path, e.strerror or e))
    try:
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError):
        raise cli.InputError('%s is not an image TensorFlow can read (JPEG, PNG, GIF or '
                             'BMP)' % path)
    # Shrink to 32x32, each pixel the average of the area it covers, back to bytes.
    small = tf.image.resize(tf.cast(image, tf.float32), [32, 32], method='area')
    small = np.clip(np.round(small.numpy()), 0, 255).astype(np.uint8)
    return small.transpose(2, 0, 1).reshape(-1)  # a red, a green, a blue plane


def main(args):
    run = runs.find_run(args.train_dir, args.run,
                        hint='train one first with python run_fc_model.py or '
                             'python run_cnn_model.py')
    path = run.latest_checkpoint()
    rows = np.stack([load_image(image) for image in args.images])  # all, before training
    model, _ = restore_model.build_network(run, path)
    run.restore(tf.train.Checkpoint(model=model), path)
    _, flags = run.recorded()
    data_dir = args.data_dir or (flags or {}).get('data_dir') or cli.default_data_dir()
    mean_image = data_helpers.load_data(data_dir)['mean_image']

    logits = restore_model.logits_function(model, mean_image)(tf.constant(rows))
    probabilities = tf.nn.softmax(logits).numpy()
    print('Run {}, step {}:'.format(run.name, int(model.global_step.numpy())))
    for image, p in zip(args.images, probabilities):
        top = np.argsort(-p)[:3]
        print('{}: {}'.format(image, ', '.join(
            '{} {:.0%}'.format(data_helpers.CLASSES[k], p[k]) for k in top)))


if __name__ == '__main__':
    cli.run(main, args)

"""Classify your own pictures with a trained network: the three likeliest classes of each.

Each JPEG, PNG, GIF, BMP or WebP file is decoded by Pillow and prepared as the images
the run trained on were: turned upright, made RGB, resized to the run's size (32x32
pixels for CIFAR-10) as support/image_folder.py does, the mean training image
subtracted (and for Part 3 the test-time views averaged). The network is the newest
run in tf_logs with a checkpoint (run_fc_model.py or run_cnn_model.py), or the run
named with --run, and the classes are those it learned: CIFAR-10's ten, or the folders
of your own images. A CIFAR-10 network knows only its ten classes, and small, centred
objects as in its training images: a photo of a cat's face fills the frame in a way
no training image does, so expect mistakes.

    python predict_image.py photo.jpg [more.png ...] [--run RUN_NAME]
"""
import os

from support import cli


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='JPEG, PNG, GIF, BMP or WebP files to classify')
    parser.add_argument('--run', metavar='RUN_NAME',
                        help='the run whose network classifies: a folder in train_dir '
                             '(default: the newest run with a checkpoint)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='folder of the runs (default: %(default)s)')
    parser.add_argument('--data_dir', default=None,
                        help='the data the run trained on, for its mean image and classes '
                             '(default: the folder the run recorded)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = cli.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import numpy as np
import tensorflow as tf

from support import image_folder, restore, runs

MAX_IMAGE_BYTES = 64 << 20  # a photo is a few MB; refuse anything far larger unread


def load_image(path, size=32):
    """The image at path as one row of load_data(): size x size x 3 uint8 values, a red,
    a green and a blue plane.

    Raises:
      InputError: the file is missing, too large, or not an image Pillow decodes.
    """
    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            raise cli.InputError('%s is over %d MB: not a photo to classify'
                                 % (path, MAX_IMAGE_BYTES >> 20))
    except OSError as e:
        raise cli.InputError('cannot read %s: %s' % (path, e.strerror or e))
    try:
        return image_folder.load_row(path, size)
    except image_folder.BadImage as e:
        raise cli.InputError('%s cannot be used: %s' % (path, e))


def main(args):
    run = runs.find_run(args.train_dir, args.run,
                        hint='train one first with python run_fc_model.py or '
                             'python run_cnn_model.py')
    path = run.latest_checkpoint()
    model, _ = restore.build_network(run, path)
    run.restore(tf.train.Checkpoint(model=model), path)
    data_sets = restore.trained_on(run, args.data_dir)  # the classes, the mean image
    size = data_sets['image_shape'][-1]
    rows = np.stack([load_image(image, size) for image in args.images])

    logits = restore.logits_function(model, data_sets['mean_image'])(
        tf.constant(rows))
    probabilities = tf.nn.softmax(logits).numpy()
    print('Run {}, step {}:'.format(run.name, int(model.global_step.numpy())))
    for image, p in zip(args.images, probabilities):
        top = np.argsort(-p)[:3]
        print('{}: {}'.format(image, ', '.join(
            '{} {:.0%}'.format(data_sets['classes'][k], p[k]) for k in top)))


if __name__ == '__main__':
    cli.run(main, args)

"""Classify your own pictures with a trained network: the three likeliest classes of each.

Each JPEG, PNG, GIF, BMP or WebP file (or each image in a folder, then a count per
predicted class) is decoded by Pillow and prepared as the images the run trained on
were: turned upright, made RGB, resized to the run's size (32x32 pixels for CIFAR-10)
as support/image_file.py does, the mean training image subtracted (and for Part 3
the test-time views averaged). The network is the newest run in tf_logs with a
checkpoint (run_fc_model.py or run_cnn_model.py), the run named with --run, or a
SavedModel or TFLite file export_model.py wrote (--model); the classes are those it
learned: CIFAR-10's ten, or the folders of your own images. A run needs nothing but
its folder: not the data it trained on. A CIFAR-10 network knows only its ten classes,
and small, centred objects as in its training images: a photo of a cat's face fills
the frame in a way no training image does, so expect mistakes.

    python predict_image.py photo.jpg [more.png ... a_folder/] [--run RUN_NAME]
    python predict_image.py photo.jpg --model tf_logs/RUN_NAME/export/model.tflite
"""
import os

from support import cli, runs, script
from support.errors import InputError


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='JPEG, PNG, GIF, BMP or WebP files to classify, or folders '
                             'of them')
    runs.add_run_flags(parser, 'whose network classifies')
    parser.add_argument('--model', metavar='PATH',
                        help='classify with what export_model.py wrote instead of a run: '
                             'its saved_model folder, its model.tflite, or the export '
                             'folder')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import collections

import numpy as np
import tensorflow as tf

from support import export, image_file, image_folder, restore

MAX_IMAGE_BYTES = 64 << 20  # a photo is a few MB; refuse anything far larger unread
BATCH = 256  # images decoded and classified at a time: a large folder needs no more memory


def load_image(path, size=32):
    """The image at path as size x size x 3 uint8 RGB values.

    Raises:
      InputError: the file is missing, too large, or not an image Pillow decodes.
    """
    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            raise InputError('%s is over %d MB: not a photo to classify'
                             % (path, MAX_IMAGE_BYTES >> 20))
    except OSError as e:
        raise InputError('cannot read %s: %s' % (path, e.strerror or e))
    try:
        return image_file.load_image(path, size)
    except image_file.BadImage as e:
        raise InputError('%s cannot be used: %s' % (path, e))


def image_files(paths):
    """[(file, whether it was found in a folder)]: the files named, and the image files
    in each folder named (and its subfolders)."""
    files = []
    for path in paths:
        if not os.path.isdir(path):
            files.append((path, False))
            continue
        found = [os.path.join(path, name) for name in image_folder.images_under(path)]
        if not found:
            raise InputError('%s holds no images (.jpg, .png, .gif, .bmp, .webp, ...)'
                             % path)
        files += [(name, True) for name in found]
    return files


def loaded(files, size):
    """The files as images, and those of them that could be read: a broken file named
    is an error, one found in a folder is skipped with a line (as in training)."""
    images, kept = [], []
    for name, in_folder in files:
        try:
            images.append(load_image(name, size))
            kept.append(name)
        except InputError as e:
            if not in_folder:
                raise
            print('Skipped: {}'.format(image_folder.printable(str(e))))
    return images, kept


def main(args):
    if args.model:  # an export: a SavedModel or a TFLite file
        classes, size, probabilities_of = export.load(args.model)
        print('Model {}:'.format(args.model))
    else:  # a run's folder: its network, mean image and classes
        run = runs.trained_run(args)
        network = restore.Network(run)
        classes, size = network.classes, network.image_size

        def probabilities_of(images):
            return network.probabilities(tf.constant(images)).numpy()
        print('Run {}, step {}:'.format(run.name, network.step))

    files, counts = image_files(args.images), collections.Counter()
    for start in range(0, len(files), BATCH):
        images, batch = loaded(files[start:start + BATCH], size)
        if not images:
            continue
        for image, p in zip(batch, probabilities_of(np.stack(images))):
            top = np.argsort(-p)[:3]
            print('{}: {}'.format(image_folder.printable(image), ', '.join(
                '{} {:.0%}'.format(classes[k], p[k]) for k in top)))
            counts[classes[top[0]]] += 1
    if len(files) > 1:
        print('{} images: {}'.format(sum(counts.values()), ', '.join(
            '{} {}'.format(name, counts[name]) for name in classes if counts[name])))


if __name__ == '__main__':
    script.run(main, args)

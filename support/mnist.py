"""MNIST and Fashion-MNIST, the companion tutorial's data: 28x28 greyscale images.

Each dataset is four gzipped IDX files; missing ones are downloaded and verified with
support.download. As in the MNIST tutorial, pixels are brightnesses from 0 to 1, not
centred (mean_image is zero).
"""
import gzip
import os
import zlib

import numpy as np

from support import cli, download
from support.errors import InputError

FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
         't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
DATASETS = {
    'mnist': {
        # A copy of http://yann.lecun.com/exdb/mnist/, the mirror torchvision uses.
        'url': 'https://ossci-datasets.s3.amazonaws.com/mnist/',
        'md5': ['f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432',
                '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c'],
        'classes': [str(digit) for digit in range(10)],
    },
    'fashion_mnist': {
        # Zalando's files, as Keras serves them.
        'url': 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/',
        'md5': ['8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe',
                'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310'],
        'classes': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                    'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    },
}
MAX_FILE_BYTES = 64 << 20  # the largest file, Fashion-MNIST's training images, is 25 MB
MAX_IMAGES = 100_000  # both datasets hold 60,000 training and 10,000 test images
MAX_SIDE = 64  # their images are 28 x 28
LEARNING_RATE = 0.5  # the MNIST tutorial's, for pixels from 0 to 1
REPORT_STEPS = (0, 1, 10)  # the MNIST tutorial prints the test accuracy after these


def load_idx(filename, ndim):
    """Read one gzipped IDX file of unsigned bytes, trusting its header only so far.

    The header is checked before any data is read, and only the bytes it promises
    (within the sizes of MNIST) are decompressed, so a file that expands to gigabytes
    costs neither the memory nor the time.

    Args:
      filename: path of a .gz IDX file.
      ndim: how many dimensions it must have: 3 for images, 1 for labels.

    Returns:
      A uint8 array of the shape its header gives.

    Raises:
      InputError: the file is missing, not gzip, not IDX, out of bounds or cut short.
    """
    fix = 'delete it and run again to download it afresh'
    try:
        with gzip.open(filename, 'rb') as f:
            header = f.read(4 + 4 * ndim)
            magic = 0x0800 + ndim  # two zero bytes, 0x08 for unsigned bytes, the dims
            if len(header) < 4 + 4 * ndim or int.from_bytes(header[:4], 'big') != magic:
                raise InputError('%s is not an IDX file of %d dimension(s) (wrong magic '
                                 'number): %s' % (filename, ndim, fix))
            shape = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], 'big')
                     for i in range(ndim)]
            sides = shape[1:]
            if not (0 < shape[0] <= MAX_IMAGES and all(0 < s <= MAX_SIDE for s in sides)):
                raise InputError('%s claims a shape of %s, not that of an MNIST file (at '
                                 'most %d items of at most %dx%d pixels): %s'
                                 % (filename, 'x'.join(map(str, shape)), MAX_IMAGES,
                                    MAX_SIDE, MAX_SIDE, fix))
            size = int(np.prod(shape))
            content = f.read(size + 1)
    except FileNotFoundError:
        raise InputError('%s is missing: run again to download it, or copy it there'
                         % filename)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError('%s is truncated or not gzip (%s): %s'
                         % (filename, type(e).__name__, fix))
    if len(content) != size:
        raise InputError('%s holds %s bytes of data where its header promises %d: %s'
                         % (filename, len(content) if len(content) < size else 'more',
                            size, fix))
    return np.frombuffer(content, dtype=np.uint8).reshape(shape)


def fetch(data_dir, dataset):
    """Download the files of dataset missing from data_dir.

    Raises:
      InputError: a download failed; the message lists every missing file, and an
        empty data_dir this call created is removed again.
    """
    info = DATASETS[dataset]
    missing = [(name, md5) for name, md5 in zip(FILES, info['md5'])
               if not os.path.exists(os.path.join(data_dir, name))]
    if not missing:
        return
    created = not os.path.isdir(data_dir)
    try:
        os.makedirs(data_dir, exist_ok=True)
        base = os.environ.get(dataset.upper() + '_URL') or info['url']
        for name, md5 in missing:
            download.download(base + name, os.path.join(data_dir, name), md5,
                              MAX_FILE_BYTES)
    except (InputError, OSError) as e:
        if created and os.path.isdir(data_dir) and not os.listdir(data_dir):
            os.rmdir(data_dir)
        hint = (' (on Debian: apt-get install dataset-fashion-mnist, then --data_dir '
                '/usr/share/datasets/fashion-mnist)' if dataset == 'fashion_mnist' else '')
        raise InputError('%s; %s needs %s in %s: copy them there, or pass --data_dir the '
                         'folder that holds them%s'
                         % (str(e).rstrip('.'), dataset, ', '.join(n for n, _ in missing),
                            data_dir, hint))


def load_data(data_dir, dataset):
    """Load MNIST or Fashion-MNIST, fetching any missing file.

    Returns:
      The dict data_helpers.load_data() returns, with 28*28 = 784 float32 pixels per
      image, scaled to 0..1.
    """
    fetch(data_dir, dataset)
    paths = [os.path.join(data_dir, name) for name in FILES]
    images_train, labels_train, images_test, labels_test = [
        load_idx(path, 3 if 'images' in name else 1) for path, name in zip(paths, FILES)]
    classes = DATASETS[dataset]['classes']
    for images, labels, image_path, label_path in [
            (images_train, labels_train, paths[0], paths[1]),
            (images_test, labels_test, paths[2], paths[3])]:
        if len(images) != len(labels):
            raise InputError('%s holds %d images but %s holds %d labels: delete both and '
                             'run again'
                             % (image_path, len(images), label_path, len(labels)))
        if labels.max() >= len(classes):
            raise InputError('%s has labels above %d' % (label_path, len(classes) - 1))
    if images_train.shape[1:] != images_test.shape[1:]:
        raise InputError('%s holds %s images but %s holds %s images: they must be the same '
                         'size' % (paths[0], 'x'.join(map(str, images_train.shape[1:])),
                                   paths[2], 'x'.join(map(str, images_test.shape[1:]))))
    image_shape = (1,) + images_train.shape[1:]

    def scaled(images):
        return images.reshape(len(images), -1).astype(np.float32) / 255

    return {
        'images_train': scaled(images_train),
        'labels_train': labels_train.astype(np.int64),
        'images_test': scaled(images_test),
        'labels_test': labels_test.astype(np.int64),
        'classes': list(classes),
        'mean_image': np.zeros(int(np.prod(image_shape)), np.float32),
        'image_shape': image_shape,
        'pixel_max': 1.0,
    }


def fill_defaults(args, learning_rate):
    """softmax.py's flags that depend on --dataset: the learning rate (learning_rate
    for CIFAR-10, the MNIST tutorial's for the digits) and the data folder."""
    if args.learning_rate is None:
        args.learning_rate = learning_rate if args.dataset == 'cifar10' else LEARNING_RATE
    args.data_dir = args.data_dir or cli.default_data_dir(args.dataset)


def tutorial_report(args, step, logits_fn, data_sets):
    """The MNIST tutorial's line, 'Accuracy on test-set: 91.9%', before steps
    REPORT_STEPS and after the last (not for CIFAR-10, whose tutorial has none)."""
    if args.dataset != 'cifar10' and (step in REPORT_STEPS or step == args.max_steps):
        right = np.argmax(logits_fn(), axis=1) == data_sets['labels_test']
        print('Accuracy on test-set: {:.1%}'.format(right.mean()))

"""Data helpers shared by the tutorial's scripts: load CIFAR-10, walk it in batches.

`load_data()` and `gen_batch()` are the two functions the tutorial describes. The rest
is what every script needs around them: turning NumPy arrays into TensorFlow tensors
without copying them, command-line flags with range checks, and one-line errors.
"""
import argparse
import ctypes
import gzip
import os
import pickle
import re
import sys
import tempfile
import zlib

import numpy as np

import download

CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
IMAGE_PIXELS = 32 * 32 * 3  # each row: 1024 red, then 1024 green, then 1024 blue values

# Where the data lives unless --data_dir says otherwise: $CIFAR10_DIR, else the folder
# that cifar-10-python.tar.gz extracts to, in the working directory (as in the tutorial).
DEFAULT_DATA_DIR = os.environ.get('CIFAR10_DIR') or 'cifar-10-batches-py'
# The official archive; $CIFAR10_URL may name a mirror or a local copy (file://...), and
# $CIFAR10_MD5 the checksum of a copy that is not byte-identical to the official one.
CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
TRAIN_FILES = ['data_batch_%d' % i for i in range(1, 6)]
TEST_FILE = 'test_batch'

# Handwritten digits and Fashion-MNIST, for the companion tutorial: 28x28 greyscale
# images in the IDX format, four gzipped files per dataset, each with its MD5.
IDX_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
             't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
IDX_DATASETS = {
    'mnist': {
        'dir': 'MNIST_data', 'env': 'MNIST_DIR',
        # A copy of http://yann.lecun.com/exdb/mnist/, the mirror torchvision uses.
        'url': 'https://ossci-datasets.s3.amazonaws.com/mnist/',
        'md5': ['f68b3c2dcbeaaa9fbdd348bbdeb94873', 'd53e105ee54ea40749a09fcbcd1e9432',
                '9fb629c4189551a2d022fa330f9573f3', 'ec29112dd5afa0611ce80d1b7f02629c'],
        'classes': [str(digit) for digit in range(10)],
    },
    'fashion_mnist': {
        'dir': 'fashion_mnist_data', 'env': 'FASHION_MNIST_DIR',
        # Zalando's files, as Keras serves them.
        'url': 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/',
        'md5': ['8d4fb7e6c68d591d4c3dfef9ec88bf0d', '25c81989df183df01b3e8a0aad5dffbe',
                'bef4ecab320f06d8554ea6380940ec79', 'bb300cfdad3c16e7a12a480ee83cd310'],
        'classes': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                    'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    },
}
DATASETS = ['cifar10'] + list(IDX_DATASETS)


def default_data_dir(dataset='cifar10'):
    """Where a dataset is looked for unless --data_dir says otherwise."""
    if dataset == 'cifar10':
        return DEFAULT_DATA_DIR
    info = IDX_DATASETS[dataset]
    return os.environ.get(info['env']) or info['dir']


def _import_tensorflow_quietly():
    """Import TensorFlow, hiding the start-up log lines its C++ core writes to stderr.

    Every start prints INFO lines about oneDNN, CPU features and (where there is no
    GPU) a failed CUDA initialisation, which TF_CPP_MIN_LOG_LEVEL no longer silences
    and which look like errors to a learner. They are captured at the file-descriptor
    level; every other line is passed through.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
    chatter = re.compile(rb'^(WARNING: All log messages before absl|[IW]\d{4} |'
                         rb'E\d{4} .*(cuInit|cuda)|To enable the following instructions)')
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()  # the CUDA probe happens here
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            for line in captured:
                if not chatter.match(line):
                    sys.stderr.buffer.write(line)
            sys.stderr.flush()


def _return_large_buffers_to_the_system():
    """Make glibc give the memory of large freed buffers back at once.

    After the first large free, glibc raises its mmap threshold, so the 30 MB
    buffers of each unpickled CIFAR-10 batch come from the heap and stay resident
    when freed: run_fc_model.py peaked at 1.43 or 1.55 GB from run to run, and at a
    steady 1.41 GB with these fixed thresholds (see the benchmark in the README).
    """
    if sys.platform.startswith('linux'):
        try:
            libc = ctypes.CDLL('libc.so.6')
        except OSError:  # another C library: nothing to tune
            return
        libc.mallopt(-3, 16 << 20)  # M_MMAP_THRESHOLD: map buffers of 16 MB and more
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD: keep 64 MB of freed heap for reuse


_return_large_buffers_to_the_system()
_import_tensorflow_quietly()
import tensorflow as tf  # noqa: E402  (imported above already; this only binds the name)


class InputError(Exception):
    """Bad input the user can fix. Scripts print it as one line and exit with status 1."""


def load_CIFAR10_batch(filename):
    """Load one CIFAR-10 batch file.

    Args:
      filename: path of a pickle in the official CIFAR-10 python format.

    Returns:
      images: uint8 array, one image of IMAGE_PIXELS values per row.
      labels: int64 array of class indices, one per image.

    Raises:
      InputError: the file is missing, truncated or not a CIFAR-10 batch.
    """
    try:
        with open(filename, 'rb') as f:
            batch = pickle.load(f, encoding='latin1')
    except FileNotFoundError:
        raise InputError('%s is missing: the CIFAR-10 folder is incomplete; delete %s and '
                         'run again to fetch a fresh copy' % (filename, os.path.dirname(filename)))
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as e:
        raise InputError('%s is truncated or not a CIFAR-10 pickle (%s): delete %s and run '
                         'again to fetch a fresh copy'
                         % (filename, type(e).__name__, os.path.dirname(filename)))
    except OSError as e:
        raise InputError('cannot read %s: %s' % (filename, e.strerror or e))
    images = batch.get('data') if isinstance(batch, dict) else None
    labels = batch.get('labels') if isinstance(batch, dict) else None
    if (not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2
            or images.shape[1] != IMAGE_PIXELS or labels is None
            or len(labels) != len(images)):
        raise InputError('%s is not a CIFAR-10 batch (expected "data": uint8 N x %d and '
                         'N "labels"): delete %s and run again to fetch a fresh copy'
                         % (filename, IMAGE_PIXELS, os.path.dirname(filename)))
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise InputError('%s has labels outside 0..%d: it is not a CIFAR-10 batch'
                         % (filename, len(CLASSES) - 1))
    return images, labels


def load_data(data_dir=DEFAULT_DATA_DIR, dataset='cifar10'):
    """Load all of CIFAR-10, merge the training batches and centre the images.

    The mean training image is subtracted from both sets, so every pixel varies around
    zero. Images are float32: float64 would double the memory and change no result.

    Args:
      data_dir: the folder cifar-10-python.tar.gz extracts to (cifar-10-batches-py);
        fetched with maybe_download() if it does not exist.
      dataset: 'cifar10', or 'mnist' / 'fashion_mnist' (see load_idx_dataset).

    Returns:
      A dict with 'images_train' (50000 x 3072 float32), 'labels_train' (50000 int64),
      'images_test' (10000 x 3072), 'labels_test' (10000) and 'classes' (10 names), as
      in the tutorial; plus, to draw the images again, 'mean_image' (3072, to add
      back), 'pixel_max' (255.0, the brightest raw value) and 'image_shape'
      (3, 32, 32): each row holds a red, a green and a blue 32x32 plane.

    Raises:
      InputError: the folder or one of its files is missing or broken.
    """
    if dataset != 'cifar10':
        return load_idx_dataset(data_dir, dataset)
    maybe_download(data_dir)
    batches = [load_CIFAR10_batch(os.path.join(data_dir, name)) for name in TRAIN_FILES]
    labels_train = np.concatenate([labels for _, labels in batches])

    # Sum in integers (exact and fast), then write each centred float32 image once,
    # freeing each raw batch as soon as it is converted to keep peak memory low.
    mean_image = sum(images.sum(axis=0, dtype=np.int64) for images, _ in batches)
    mean_image = (mean_image / len(labels_train)).astype(np.float32)
    images_train = aligned_empty((len(labels_train), IMAGE_PIXELS))
    start = 0
    while batches:
        images, _ = batches.pop(0)
        np.subtract(images, mean_image, out=images_train[start:start + len(images)])
        start += len(images)
    del images
    images_test_raw, labels_test = load_CIFAR10_batch(os.path.join(data_dir, TEST_FILE))
    images_test = aligned_empty(images_test_raw.shape)
    np.subtract(images_test_raw, mean_image, out=images_test)

    return {
        'images_train': images_train,
        'labels_train': labels_train,
        'images_test': images_test,
        'labels_test': labels_test,
        'classes': list(CLASSES),
        'mean_image': mean_image,
        'pixel_max': 255.0,
        'image_shape': (3, 32, 32),
    }


def maybe_download(data_dir):
    """Fetch CIFAR-10 into data_dir unless that folder exists already.

    The archive is kept beside the folder (data_dir/../cifar-10-python.tar.gz), so a
    deleted folder is extracted again without the network. See download.py for how an
    interrupted or corrupt download never leaves anything that looks valid.

    Raises:
      InputError: the download, the checksum or the extraction failed.
    """
    if os.path.isdir(data_dir):
        return
    url = os.environ.get('CIFAR10_URL') or CIFAR10_URL
    md5 = os.environ.get('CIFAR10_MD5') or CIFAR10_MD5
    archive = os.path.join(os.path.dirname(os.path.abspath(data_dir)),
                           'cifar-10-python.tar.gz')
    try:
        if os.path.exists(archive) and download.md5_of(archive) != md5:
            print('%s does not match MD5 %s: downloading it again' % (archive, md5))
            os.remove(archive)
        if not os.path.exists(archive):
            print('CIFAR-10 not found in %r: fetching it (170 MB, once)' % data_dir)
            download.download(url, archive, md5)
        print('Extracting %s to %s' % (archive, data_dir))
        download.extract(archive, 'cifar-10-batches-py', data_dir)
    except download.DownloadError as e:
        raise InputError(str(e))


def load_idx(filename, ndim):
    """Read one gzipped IDX file of unsigned bytes (the MNIST format).

    Args:
      filename: path of a .gz IDX file.
      ndim: how many dimensions it must have: 3 for images, 1 for labels.

    Returns:
      A uint8 array of the shape its header gives.

    Raises:
      InputError: the file is missing, not gzip, not IDX or cut short.
    """
    fix = 'delete it and run again to download it afresh'
    try:
        with gzip.open(filename, 'rb') as f:
            content = f.read()
    except FileNotFoundError:
        raise InputError('%s is missing: run again to download it, or copy it there'
                         % filename)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError('%s is truncated or not gzip (%s): %s'
                         % (filename, type(e).__name__, fix))
    magic = 0x0800 + ndim  # two zero bytes, 0x08 for unsigned bytes, the dimensions
    header = 4 + 4 * ndim
    if len(content) < header or int.from_bytes(content[:4], 'big') != magic:
        raise InputError('%s is not an IDX file of %d dimension(s) (wrong magic number): %s'
                         % (filename, ndim, fix))
    shape = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    if len(content) != header + int(np.prod(shape)):
        raise InputError('%s holds %d bytes of data where its header promises %d: %s'
                         % (filename, len(content) - header, int(np.prod(shape)), fix))
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def load_idx_dataset(data_dir, dataset):
    """Load MNIST or Fashion-MNIST, fetching any missing file; pixels scaled to 0..1.

    As in the companion MNIST tutorial, the images are not centred: each of the 784
    pixels is a brightness between 0 and 1.

    Returns:
      The dict load_data() returns, with 28*28 = 784 pixels per image.
    """
    info = IDX_DATASETS[dataset]
    paths = [os.path.join(data_dir, name) for name in IDX_FILES]
    for path, md5 in zip(paths, info['md5']):
        if not os.path.exists(path):
            url = (os.environ.get(dataset.upper() + '_URL') or info['url']) + \
                os.path.basename(path)
            try:
                download.download(url, path, md5)
            except download.DownloadError as e:
                raise InputError(str(e))
    images_train, labels_train, images_test, labels_test = [
        load_idx(path, 3 if 'images' in path else 1) for path in paths]
    for images, labels, image_path, label_path in [
            (images_train, labels_train, paths[0], paths[1]),
            (images_test, labels_test, paths[2], paths[3])]:
        if len(images) != len(labels):
            raise InputError('%s holds %d images but %s holds %d labels: delete both and '
                             'run again' % (image_path, len(images), label_path, len(labels)))
        if labels.size and labels.max() >= len(info['classes']):
            raise InputError('%s has labels above %d' % (label_path, len(info['classes']) - 1))
    image_shape = (1,) + images_train.shape[1:]

    def scaled(images):
        pixels = aligned_empty((len(images), int(np.prod(image_shape))))
        np.multiply(images.reshape(len(images), -1), np.float32(1 / 255), out=pixels)
        return pixels

    return {
        'images_train': scaled(images_train),
        'labels_train': labels_train.astype(np.int64),
        'images_test': scaled(images_test),
        'labels_test': labels_test.astype(np.int64),
        'classes': list(info['classes']),
        'mean_image': np.zeros(int(np.prod(image_shape)), np.float32),
        'pixel_max': 1.0,
        'image_shape': image_shape,
    }


def gen_batch(num_examples, batch_size, num_iter, rng=None):
    """Yield the indices of num_iter batches, walking the data one epoch at a time.

    At the start of each epoch the order is shuffled once; batches are then consecutive
    slices of that order, so no example repeats within an epoch. Like the tutorial, an
    epoch ends when fewer than batch_size examples are left (choose a batch size that
    divides the data to use them all).

    The tutorial zipped images and labels into one list and sliced that list; NumPy 2
    rejects such a ragged array, and copying the images each epoch is slow. Yielding
    indices lets the training step gather its images inside the TensorFlow graph.

    Args:
      num_examples: how many examples the data holds.
      batch_size: examples per batch, 1..num_examples.
      num_iter: how many batches to yield.
      rng: a numpy.random.Generator, for repeatable shuffles.

    Yields:
      int64 arrays of batch_size indices into the data.
    """
    if not 0 < batch_size <= num_examples:
        raise InputError('batch_size must be between 1 and the number of examples '
                         '(%d), got %d' % (num_examples, batch_size))
    rng = rng if rng is not None else np.random.default_rng()
    index = num_examples  # past the end: shuffle before the first batch
    for _ in range(num_iter):
        if index + batch_size > num_examples:
            order = rng.permutation(num_examples)
            index = 0
        yield order[index:index + batch_size]
        index += batch_size


def check_batch_size(batch_size, num_train):
    """Refuse a --batch_size larger than the training set, before any training."""
    if batch_size > num_train:
        raise InputError('--batch_size must be at most the number of training images '
                         '(%d), got %d' % (num_train, batch_size))


def aligned_empty(shape, dtype=np.float32, alignment=64):
    """An uninitialised array whose data starts on an `alignment`-byte boundary.

    TensorFlow can use 64-byte-aligned memory in place (see to_tensor) instead of
    copying it, which for the 600 MB training set saves seconds and as much memory.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(nbytes + alignment, dtype=np.uint8)
    offset = -buffer.ctypes.data % alignment
    return buffer[offset:offset + nbytes].view(dtype).reshape(shape)


def to_tensor(array):
    """A TensorFlow tensor for a NumPy array, sharing its memory when it can.

    tf.constant copies (2 s and 600 MB for the training set on 2 cores); DLPack hands
    TensorFlow the array itself. TensorFlow needs that memory 64-byte aligned, as
    aligned_empty makes it; any other array is copied.
    """
    if array.flags.c_contiguous and array.ctypes.data % 64 == 0 and array.size:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


# Command-line flags --------------------------------------------------------------------

class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a flag error on one line (usage is one `-h` away)."""

    def error(self, message):
        self.exit(2, '%s: error: %s (see %s -h)\n' % (self.prog, message, self.prog))


def _checked(convert, test, requirement):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a number' % text)
        if not test(value):
            raise argparse.ArgumentTypeError('must be %s, got %s' % (requirement, text))
        return value
    return parse


positive_int = _checked(int, lambda v: v > 0, '> 0')
non_negative_int = _checked(int, lambda v: v >= 0, '>= 0')
positive_float = _checked(float, lambda v: v > 0 and np.isfinite(v), '> 0')
non_negative_float = _checked(float, lambda v: v >= 0 and np.isfinite(v), '>= 0')


def add_data_flags(parser, several_datasets=False):
    """The flags every script shares: where the data is, and the random seed."""
    parser.add_argument(
        '--data_dir', default=None if several_datasets else DEFAULT_DATA_DIR,
        help='data folder (default: $CIFAR10_DIR or cifar-10-batches-py; for mnist '
             '$MNIST_DIR or MNIST_data, for fashion_mnist $FASHION_MNIST_DIR or '
             'fashion_mnist_data)' if several_datasets else
             'CIFAR-10 folder (default: $CIFAR10_DIR or %(default)s)')
    parser.add_argument('--seed', type=non_negative_int, default=None,
                        help='random seed: the same seed repeats a run exactly '
                             '(default: a different run each time)')


def set_seed(seed):
    """Seed NumPy and TensorFlow; returns the NumPy generator to draw batches from."""
    if seed is not None:
        tf.random.set_seed(seed)
    return np.random.default_rng(seed)


def run(main):
    """Call main(), turning bad input into a one-line error and Ctrl-C into a quiet exit.

    A script that finishes exits at once with os._exit: the interpreter's usual
    teardown of TensorFlow takes about 0.7 s on 2 cores and has nothing left to do,
    since main() has closed its log writers and written its checkpoints.
    """
    try:
        main()
    except InputError as e:
        sys.exit('Error: %s' % e)
    except KeyboardInterrupt:
        print('Interrupted.', file=sys.stderr)
        sys.exit(130)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

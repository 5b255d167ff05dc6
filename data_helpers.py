"""Part 1, "Preparing the data": load CIFAR-10 and walk it in batches.

load_data() reads the five training batches and the test batch of the python version
of CIFAR-10 (fetching it first if the folder is missing) and works out the mean
training image; gen_batch() walks the training set in shuffled batches. Given a folder
of your own images instead (one subfolder per class), load_data() returns those, in
the same form (support/image_folder.py).
"""
import os

import numpy as np

from support import download, image_folder, mnist, safe_pickle, small_data, zero_copy
from support.errors import InputError

CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
IMAGE_PIXELS = 32 * 32 * 3  # each row: 1024 red, then 1024 green, then 1024 blue values
MAX_BATCH_BYTES = 256 << 20  # an official batch file is 31 MB


def load_CIFAR10_batch(filename):
    """Load one CIFAR-10 batch file.

    Args:
      filename: path of a pickle in the official CIFAR-10 python format.

    Returns:
      images: uint8 array, one image of IMAGE_PIXELS values per row.
      labels: int64 array of class indices, one per image.

    Raises:
      InputError: the file is missing, broken, or not a CIFAR-10 batch.
    """
    fix = 'move %s away and run again to fetch a fresh copy' % os.path.dirname(filename)
    try:
        with open(filename, 'rb') as f:
            batch = safe_pickle.load(f, MAX_BATCH_BYTES)  # pickle.load could run code
    except FileNotFoundError:
        raise InputError('%s is missing: the CIFAR-10 folder is incomplete; %s'
                         % (filename, fix))
    except safe_pickle.UnsafePickleError as e:
        raise InputError('%s was refused: %s; %s' % (filename, e, fix))
    except OSError as e:
        raise InputError('cannot read %s: %s' % (filename, e.strerror or e))
    except Exception as e:  # whatever else a broken pickle raises
        raise InputError('%s is truncated or not a CIFAR-10 pickle (%s): %s'
                         % (filename, type(e).__name__, fix))
    images = batch.get('data') if isinstance(batch, dict) else None
    labels = batch.get('labels') if isinstance(batch, dict) else None
    labels = np.asarray(labels if isinstance(labels, list) else [])
    if (not isinstance(images, np.ndarray) or images.dtype != np.uint8
            or images.shape[1:] != (IMAGE_PIXELS,) or len(images) == 0
            or labels.shape != (len(images),) or labels.dtype.kind not in 'iu'
            or labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise InputError('%s is not a CIFAR-10 batch (expected "data": uint8 N x %d and '
                         'N integer "labels" from 0 to 9): %s'
                         % (filename, IMAGE_PIXELS, fix))
    return images, labels.astype(np.int64)


def load_data(data_dir='cifar-10-batches-py', image_size=32, test_fraction=0.2,
              dataset='cifar10'):
    """Load all CIFAR-10 data, merge the training batches, find the mean image.

    The tutorial subtracts the mean training image from every image here. We keep the
    images as their raw bytes (150 MB, not 600 MB of floats) and subtract 'mean_image'
    from each batch inside the training graph, where it costs nothing.

    Args:
      data_dir: the folder cifar-10-python.tar.gz extracts to; fetched if missing. Or
        a folder of your own images, one subfolder per class.
      image_size, test_fraction: for a folder of images, the side of the square each
        is resized to, and the share of each class held out without a test folder.
      dataset: 'mnist' or 'fashion_mnist' for the MNIST tutorial's data (support/mnist.py).

    Returns:
      A dict with 'images_train' (50000 x 3072 uint8), 'labels_train' (50000 int64),
      'images_test' (10000 x 3072), 'labels_test', 'classes' (10 names) and
      'mean_image' (3072 float32); to draw images, 'image_shape' (3, 32, 32: a red,
      a green and a blue plane per row) and 'pixel_max' (255).
    """
    # The MNIST tutorial's digits, or your own images (a subfolder per class), instead
    if dataset != 'cifar10':
        return mnist.load_data(data_dir, dataset)
    if image_folder.is_image_folder(data_dir):
        return image_folder.load_data(data_dir, image_size, test_fraction)
    if image_size != 32:
        raise InputError('CIFAR-10\'s images are 32x32: --image_size is for a folder of '
                         'your own images')
    download.fetch_cifar10(data_dir)
    # Merge the training batches, each as it is read, into memory TensorFlow can use
    # without a copy (np.concatenate, as support/zero_copy.py does it).
    batches = (load_CIFAR10_batch(os.path.join(data_dir, 'data_batch_%d' % i))
               for i in range(1, 6))
    images_train, labels_train = zero_copy.concatenate(batches, expected_parts=5)
    images_test, labels_test = load_CIFAR10_batch(os.path.join(data_dir, 'test_batch'))

    # Normalize data: the mean of each pixel over the training set (summed exactly).
    mean_image = images_train.sum(axis=0, dtype=np.int64) / len(images_train)

    return {
        'images_train': images_train,
        'labels_train': labels_train,
        'images_test': images_test,
        'labels_test': labels_test,
        'classes': list(CLASSES),
        'mean_image': mean_image.astype(np.float32),
        'image_shape': (3, 32, 32),
        'pixel_max': 255.0,
    }


def gen_batch(num_examples, batch_size, num_iter, seed, first_step=0):
    """Yield the indices of num_iter batches, walking the data one epoch at a time.

    At the start of each epoch the order is shuffled once; batches are then
    consecutive slices of that order, so no example repeats within an epoch. As in the
    tutorial, an epoch ends when fewer than batch_size examples are left. Each epoch's
    order depends only on (seed, epoch), so a resumed run (first_step > 0) gets the
    very batches it would have had without the break. (The tutorial zipped images and
    labels into one list, which NumPy 2 rejects; indices let the training step gather
    its images inside the TensorFlow graph.)

    Args:
      num_examples: how many examples the data holds.
      batch_size: examples per batch, 1..num_examples.
      num_iter: how many batches to yield.
      seed: an int; the same seed gives the same batches.
      first_step: the number of the first batch to yield, counted from the start.

    Yields:
      int64 arrays of batch_size indices into the data.
    """
    small_data.check_batch_size(batch_size, num_examples)
    batches_per_epoch = num_examples // batch_size
    for step in range(first_step, first_step + num_iter):
        epoch, batch = divmod(step, batches_per_epoch)
        if batch == 0 or step == first_step:  # shuffle: the epoch's order
            order = np.random.default_rng([seed, epoch]).permutation(num_examples)
        yield order[batch * batch_size:(batch + 1) * batch_size]

"""Your own images as a dataset: a folder with one subfolder of images per class.

The layout is the one Keras's image_dataset_from_directory and torchvision's ImageFolder
read, with or without a test folder beside the training folder:

    my_photos/cats/*.jpg  my_photos/dogs/*.jpg             a share of each class is held out
    my_photos/train/cats/...  my_photos/test/cats/...      (or training_set/ and test_set/,
                                                            training/ and val/, validation/)

Each image is decoded as support/image_file.py says, and kept decoded by
support/image_cache.py. Without a test folder, an image is a test image when a hash of
its name (within its class folder) falls in the first test_fraction of the hash range, so
the same image always lands on the same side, also after images are added. The folder is
only ever read, and its files are untrusted: hidden files and folders and files without
an image extension are ignored, symbolic links are followed but never in a loop, and an
image that cannot be used is skipped; one warning line counts the skipped images and
names the first.
"""
import hashlib
import json
import os
import stat

import numpy as np

from support import image_cache
from support.errors import InputError

TRAIN_FOLDERS = ('train', 'training', 'training_set')
TEST_FOLDERS = ('test', 'test_set', 'val', 'validation')
EXTENSIONS = {'.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.gif', '.bmp', '.webp', '.tif',
              '.tiff', '.heic', '.heif', '.avif'}  # the last three only where Pillow can
IGNORED_FOLDERS = {'__MACOSX'}  # what macOS adds to a zip: copies of each file's metadata
CIFAR10_FILES = {'data_batch_1', 'test_batch', 'batches.meta'}


def is_image_folder(path):
    """Whether path is a folder that is not CIFAR-10's (so, a folder of images)."""
    try:
        return os.path.isdir(path) and not CIFAR10_FILES & set(os.listdir(path))
    except OSError:
        return False


def load_data(data_dir, size, test_fraction):
    """Load a folder of images, decoding only what image_cache/ does not hold yet.

    Args:
      data_dir: the folder (layouts above).
      size: the side of the square each image is resized to.
      test_fraction: the share of each class held out for testing, without a test folder.

    Returns:
      The dict data_helpers.load_data() returns, with size x size x 3 pixels a row (a
      red, a green and a blue plane) and the class folders' names as 'classes'; and
      'fingerprint', a digest of which file is which image of which class and split.

    Raises:
      InputError: no class folders, a single class, a class without images, or a test
        folder with a class the training folder lacks.
    """
    classes, files = find_images(data_dir, test_fraction)
    files.sort(key=lambda f: f[2])  # the training images first: both sets slice one array
    images, rows, skipped = image_cache.decoded(data_dir, size,
                                                [name for name, _, _ in files])
    if skipped:
        print('Warning: skipped {} file{} that could not be read as images: {}{}'.format(
            len(skipped), 's' if len(skipped) > 1 else '', ', '.join(
                '%s (%s)' % (printable(name), reason) for name, reason in skipped[:3]),
            ', ...' if len(skipped) > 3 else ''))
    kept = [f for f, row in zip(files, rows) if row >= 0]
    labels = np.array([label for _, label, _ in kept], np.int64)
    is_test = np.array([test for _, _, test in kept], bool)
    counts = [(int(np.sum(~is_test & (labels == c))), int(np.sum(is_test & (labels == c))))
              for c in range(len(classes))]
    print_counts(data_dir, size, classes, counts)
    for name, (train, _) in zip(classes, counts):
        if train == 0:
            raise InputError('the class %s has no training image that could be read: '
                             'add images to its folder in %s, or remove the folder'
                             % (name, printable(data_dir)))
    if not is_test.any():
        raise InputError('no test images in %s: add some, or raise --test_fraction'
                         % printable(data_dir))
    train_count = len(kept) - int(is_test.sum())
    mean_image = images[:train_count].sum(axis=0, dtype=np.int64) / train_count
    digest = hashlib.sha256(json.dumps(kept).encode())
    return {
        'images_train': images[:train_count],
        'labels_train': labels[:train_count],
        'images_test': images[train_count:],
        'labels_test': labels[train_count:],
        'classes': classes,
        'mean_image': mean_image.astype(np.float32),
        'image_shape': (3, size, size),
        'pixel_max': 255.0,
        'fingerprint': digest.hexdigest()[:16],
    }


def training_count(data_dir, test_fraction):
    """How many training images load_data() would find (CIFAR-10's 50,000 where data_dir
    is not a folder of images), without decoding any."""
    if not is_image_folder(data_dir):
        return 50000
    return sum(not test for _, _, test in find_images(data_dir, test_fraction)[1])


def printable(text):
    """A file name as text any terminal can show: bytes that are not UTF-8 as escapes."""
    return text.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')


def print_counts(data_dir, size, classes, counts):
    """The table of images per class and split that each run prints."""
    width = max(len(c) for c in classes + ['class'])
    print('Images in {} ({}x{} pixels):'.format(printable(data_dir), size, size))
    print('  {:<{w}}  {:>6}  {:>6}'.format('class', 'train', 'test', w=width))
    for name, (train, test) in zip(classes, counts):
        print('  {:<{w}}  {:>6d}  {:>6d}'.format(name, train, test, w=width))


# Finding the images --------------------------------------------------------------------

def find_images(data_dir, test_fraction):
    """The classes (the class folders' names), and [(image file relative to data_dir,
    class index, whether it is a test image)].

    Raises:
      InputError: no class folders, a single class, an empty class folder, or a test
        class the training folder lacks.
    """
    folders = {e.name.lower().replace('-', '_').replace(' ', '_'): e.name
               for e in visible_entries(data_dir) if e.is_dir()}
    train = next((folders[n] for n in TRAIN_FOLDERS if n in folders), None)
    test = next((folders[n] for n in TEST_FOLDERS if n in folders), None)
    if train is None:  # the class folders are in data_dir itself
        splits = [(None, '')]
    else:
        splits = [(None if test is None else False, train)] + (
            [] if test is None else [(True, test)])
    names, files = None, []
    for is_test, folder in splits:
        where = os.path.join(data_dir, folder) if folder else data_dir
        found = class_folders(where)
        if names is None:
            names = sorted(found)
            inner = os.path.join(where, names[0]) if len(names) == 1 else None
            if inner and any(e.is_dir() for e in visible_entries(inner)):  # too high up?
                raise InputError('%s holds one folder, which holds folders: if those are '
                                 'the classes (or train/ and test/), pass --data_dir %s'
                                 % (printable(where), printable(inner)))
            if len(names) < 2:
                raise InputError(
                    '%s holds %s: a network learns to tell classes apart, so put the '
                    'images of each class in a subfolder of its own, two classes at least'
                    % (printable(where), 'only one class folder, %s' % printable(names[0])
                       if names else 'no class folders'))
        for name, images in sorted(found.items()):
            if name not in names:
                raise InputError('%s has a class folder %s that %s lacks: each test class '
                                 'must be a training class' % (
                                     printable(where), printable(name),
                                     printable(os.path.join(data_dir, train))))
            if not images:
                raise InputError('the class folder %s holds no images (.jpg, .png, .gif, '
                                 '.bmp, ...): add some, or move it away'
                                 % printable(os.path.join(where, name)))
            for image in images:
                files.append(('/'.join(filter(None, [folder, name, image])),
                              names.index(name),
                              split_of(image, test_fraction) if is_test is None
                              else is_test))
    return [printable(name) for name in names], files


def visible_entries(folder, ignore_errors=False):
    """The entries of folder that are not hidden, sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not hidden(e)), key=lambda e: e.name)
    except OSError as e:
        if ignore_errors:
            return []
        raise InputError('cannot read the folder %s: %s'
                         % (printable(folder), e.strerror or e))


def hidden(entry):
    """Names starting with a dot (.DS_Store, .git), macOS's zip leftovers, and files
    Windows marks hidden (Thumbs.db, desktop.ini)."""
    if entry.name.startswith('.') or entry.name in IGNORED_FOLDERS:
        return True
    if os.name != 'nt':
        return False
    try:
        return bool(entry.stat().st_file_attributes & stat.FILE_ATTRIBUTE_HIDDEN)
    except OSError:
        return True  # a broken link


def class_folders(folder):
    """{class name: [image files, relative to its class folder]} for the subfolders
    of folder."""
    return {entry.name: images_under(entry.path)
            for entry in visible_entries(folder) if entry.is_dir()}


def images_under(folder):
    """The image files below folder and its subfolders (relative to it, with '/'), in
    a fixed order. Only regular files count (a pipe named .jpg would block a read);
    links are followed, but a folder already seen (a link loop) is not entered again."""
    files, seen, pending = [], set(), ['']
    while pending:
        current = pending.pop()
        path = os.path.join(folder, current)
        try:
            info = os.stat(path)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        for entry in visible_entries(path, ignore_errors=True):
            name = current + '/' + entry.name if current else entry.name
            if entry.is_dir():
                pending.append(name)
            elif (os.path.splitext(entry.name)[1].lower() in EXTENSIONS
                  and entry.is_file()):
                files.append(name)
    return sorted(files)


def split_of(name, test_fraction):
    """Whether the image at name (relative to its class folder) is a test image: the
    hash of its name, as a number in [0, 1), is below test_fraction."""
    digest = hashlib.sha256(name.encode('utf-8', 'surrogateescape')).digest()
    return int.from_bytes(digest[:8], 'big') / 2**64 < test_fraction

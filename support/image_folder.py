"""Your own images as a dataset: a folder with one subfolder of images per class.

The layout is the one Keras's image_dataset_from_directory and torchvision's ImageFolder
read, with or without a test folder beside the training folder:

    my_photos/cats/*.jpg  my_photos/dogs/*.jpg             a share of each class is held out
    my_photos/train/cats/...  my_photos/test/cats/...      (or training_set/ and test_set/,
                                                            training/ and val/, validation/)

Each image is decoded with Pillow, turned upright as its EXIF orientation says, made RGB
(greyscale copied to three channels, 16-bit scaled to 8, CMYK converted, transparent
parts on white), and resized to size x size: the whole picture, stretched if it is not
square, each pixel the average of the area it covers. Without a test folder, an image is
a test image when a hash of its name (within its class folder) falls in the first
test_fraction of the hash range, so the same image always lands on the same side, also
after images are added.

The folder is only ever read. Decoded images are kept in image_cache/ in the working
directory (one file per folder and size), so the next run reads them at once; a file
added, removed or changed (its size or modification time) is noticed, and only it is
decoded again. Files are untrusted: hidden files and folders and files without an image
extension are ignored, symbolic links are followed but never in a loop, an image over
MAX_PIXELS is skipped unread (a decompression bomb), and one that fails to decode
(truncated, not an image) is skipped; one warning line counts the skipped images and
names the first.
"""
import concurrent.futures
import contextlib
import hashlib
import json
import os
import random
import re
import stat
import sys
import time

import numpy as np
from PIL import Image, ImageOps

from support import zero_copy
from support.cli import InputError, write_error

TRAIN_FOLDERS = ('train', 'training', 'training_set')
TEST_FOLDERS = ('test', 'test_set', 'val', 'validation')
EXTENSIONS = {'.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.gif', '.bmp', '.webp', '.tif',
              '.tiff', '.heic', '.heif', '.avif'}  # the last three only where Pillow can
IGNORED_FOLDERS = {'__MACOSX'}  # what macOS adds to a zip: copies of each file's metadata
MAX_PIXELS = 1 << 27  # 134 million pixels: beyond any camera's photo
CACHE_DIR = 'image_cache'
CACHE_VERSION = 2  # a new number whenever a file decodes to other pixels
MAX_INDEX_BYTES = 256 << 20  # the cache's index of a million files: about 100 MB
CIFAR10_FILES = {'data_batch_1', 'test_batch', 'batches.meta'}

# Pillow warns of images over its own limit, and refuses those twice as large, with a
# message that gives no size: load_image() checks MAX_PIXELS itself instead.
Image.MAX_IMAGE_PIXELS = None


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
    images, rows, skipped = decoded(data_dir, size, [name for name, _, _ in files])
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


# Decoding, once ------------------------------------------------------------------------

class BadImage(Exception):
    """An image file that cannot be used: the message says why."""


def load_image(path, size):
    """The image file at path as a size x size x 3 uint8 RGB array (module docstring).

    Raises:
      BadImage: too large to decode safely, truncated, or not an image Pillow reads.
    """
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise BadImage('%dx%d pixels: too large to decode safely' % image.size)
            # A large JPEG is decoded at 1/2..1/8 of its size where that still leaves
            # 8 pixels a side for each pixel kept: what full decoding gives, nearly.
            # (At fewer, the same photo as JPEG and as PNG became different rows.)
            image.draft('RGB', (8 * size, 8 * size))
            image = upright(image)
            image = rgb(image)
            image = image.resize((size, size), Image.Resampling.BOX)
            return np.asarray(image, np.uint8)
    except BadImage:
        raise
    except Exception as e:  # Pillow raises many kinds for a broken file
        message = str(e)
        if 'truncated' in message.lower() or isinstance(e, (EOFError, SyntaxError)):
            raise BadImage('truncated or damaged')
        if 'cannot identify image file' in message:
            raise BadImage('not an image Pillow can read')
        raise BadImage(message.split('\n')[0][:80] or type(e).__name__)


def load_row(path, size):
    """The image file at path as one row of load_data(): size x size x 3 uint8 values, a
    red, a green and a blue plane (as CIFAR-10's rows are).

    Raises:
      BadImage: as load_image().
    """
    return load_image(path, size).transpose(2, 0, 1).reshape(-1)


def upright(image):
    """The image turned as its EXIF orientation says (a phone's photo is stored as the
    sensor saw it); as it is where the EXIF data are damaged."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # Pillow raises many kinds for damaged EXIF data
        return image


def rgb(image):
    """A Pillow image of any mode as RGB: greyscale copied to the three channels,
    16- and 32-bit values scaled to 8 bits, transparent parts on white."""
    if image.mode.startswith('I') or image.mode == 'F':  # 16-bit (or more) greyscale
        values = np.asarray(image, np.float64)
        scale = 257 if image.mode != 'F' else 1  # 65535 -> 255
        image = Image.fromarray(np.clip(values / scale, 0, 255).round().astype(np.uint8))
    if 'A' in image.mode or 'a' in image.mode or 'transparency' in image.info:
        image = image.convert('RGBA')
        white = Image.new('RGBA', image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert('RGB')


def decoded(data_dir, size, names):
    """The images at names (relative to data_dir) at size x size, one row each, read
    from the cache where it holds the same file (same size and modification time),
    the others decoded now, and the cache rewritten if anything changed.

    Returns:
      A uint8 array of the rows of the images that could be read, in the order of
      names; each name's row in it (-1: skipped); [(name, reason)] of those skipped.
    """
    cache = cache_path(data_dir, size)
    stamps = {name: stamp(os.path.join(data_dir, name)) for name in names}
    cached_rows, cached = read_cache(cache, size)
    unchanged = {name for name in names if cached.get(name, [])[:2] == stamps[name]}
    reasons = {name: cached[name][3] for name in unchanged if cached[name][2] is None}
    if len(unchanged) == len(cached) == len(names) and [
            cached[name][2] for name in names if name not in reasons] == list(
                range(len(cached_rows))):
        # Nothing changed: the cache's rows are these, in this order. One read into
        # the array, where a copy from the mapped file would take the memory twice.
        images = zero_copy.empty(cached_rows.shape, np.uint8)
        with open(cached_rows.filename, 'rb') as f:
            f.seek(cached_rows.offset)
            if f.readinto(memoryview(images).cast('B')) != images.nbytes:
                raise InputError('%s changed while it was read: run again'
                                 % cached_rows.filename)
    else:
        images = zero_copy.empty((len(names), 3 * size * size), np.uint8)
        for i, name in enumerate(names):
            if name in unchanged and name not in reasons:
                images[i] = cached_rows[cached[name][2]]
        todo = [i for i, name in enumerate(names) if name not in unchanged]
        reasons.update(decode_all(data_dir, names, todo, size, images))
        kept = [i for i, name in enumerate(names) if name not in reasons]
        for row, i in enumerate(kept):  # close the gaps the skipped left, in place
            images[row] = images[i]
        images = images[:len(kept)]
    del cached_rows
    rows = {name: row for row, name in enumerate(n for n in names if n not in reasons)}
    if len(unchanged) != len(names) or len(cached) != len(names):
        write_cache(cache, size, data_dir, images, {
            name: stamps[name] + [rows.get(name), reasons.get(name)] for name in names})
    return (images, [rows.get(name, -1) for name in names],
            [(name, reasons[name]) for name in names if name in reasons])


def stamp(path):
    """[size in bytes, modification time in ns] of a file: a changed file changes it."""
    try:
        info = os.stat(path)
        return [info.st_size, info.st_mtime_ns]
    except OSError:
        return [-1, -1]


def decode_all(data_dir, names, todo, size, images):
    """Decode the images names[i] for i in todo into images[i] (load_row()), on every
    core (Pillow lets go of Python's lock while it decodes), with a progress line.
    Returns {name: why it was skipped} of those skipped."""
    if not todo:
        return {}

    def decode(i):
        try:
            images[i] = load_row(os.path.join(data_dir, names[i]), size)
        except BadImage as e:
            return names[i], str(e)
        return None

    print('Decoding {} images at {}x{} (once: they are kept in {})'.format(
        len(todo), size, size, CACHE_DIR + os.sep), flush=True)
    started = shown = time.time()
    skipped = {}
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for done, result in enumerate(pool.map(decode, todo, chunksize=64)):
            if result is not None:
                skipped[result[0]] = result[1]
            if sys.stdout.isatty() and time.time() - shown > 0.5:
                shown = time.time()
                print('\r  {}/{} images'.format(done + 1, len(todo)), end='', flush=True)
    print('{}  {} images decoded in {:.1f} s'.format(
        '\r' if sys.stdout.isatty() else '', len(todo), time.time() - started))
    return skipped


# The cache: image_cache/<folder>-<digest of its path>-<size>px.json and .<token>.npy --

def cache_path(data_dir, size):
    """Where the decoded images of data_dir at size go, without the extension."""
    folder = os.path.realpath(data_dir)
    digest = hashlib.sha256(folder.encode('utf-8', 'surrogateescape')).hexdigest()[:12]
    name = re.sub(r'[^A-Za-z0-9_-]', '_', os.path.basename(folder))[:40]
    return os.path.join(CACHE_DIR, '%s-%s-%dpx' % (name, digest, size))


def read_cache(path, size):
    """(rows, {name: [bytes, modified, row or None, reason or None]}) from the cache
    at path, or (None, {}) where there is none or it does not check out."""
    try:
        with open(path + '.json', 'rb') as f:
            index = json.loads(f.read(MAX_INDEX_BYTES + 1))
        name = index['rows']  # a file of this cache, in CACHE_DIR and nowhere else
        if os.path.basename(name) != name or not name.startswith(
                os.path.basename(path) + '.'):
            raise ValueError('not this cache')
        rows = np.load(os.path.join(CACHE_DIR, name), mmap_mode='r',
                       allow_pickle=False)
        files = index['files']
        if not (index['version'] == CACHE_VERSION and rows.dtype == np.uint8
                and rows.shape[1:] == (3 * size * size,) and isinstance(files, dict)
                and all(len(e) == 4 and (e[2] is None or 0 <= e[2] < len(rows))
                        for e in files.values())):
            raise ValueError('not this cache')
        return rows, files
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None, {}


def write_npy(f, rows):
    """np.save(f, rows), but with a plain write of the data, which names a full disk
    (np.save's says only how many bytes it wrote)."""
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(rows))
    f.write(memoryview(rows).cast('B'))


def write_cache(path, size, data_dir, rows, files):
    """Write the cache at path (the rows, then the index that names them, each whole
    before it is renamed into place); a failure is a warning: the next run decodes again."""
    token = '%016x' % random.getrandbits(64)
    npy = '%s.%s.npy' % (path, token)
    written = []
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        for name, write in [(npy, lambda f: write_npy(f, rows)),
                            (path + '.json', lambda f: f.write(json.dumps({
                                'version': CACHE_VERSION, 'folder': data_dir, 'size': size,
                                'rows': os.path.basename(npy), 'files': files}).encode()))]:
            with open(name + '.tmp', 'wb') as f:
                written.append(name + '.tmp')
                write(f)
            os.replace(name + '.tmp', name)
    except OSError as e:
        print('Warning: the decoded images could not be kept, so the next run decodes '
              'them again: %s' % write_error(e, CACHE_DIR))
        for name in written:
            with contextlib.suppress(OSError):
                os.remove(name)
        return
    prefix = os.path.basename(path) + '.'
    for old in os.listdir(CACHE_DIR):  # the rows of earlier versions of this cache
        if old.startswith(prefix) and old.endswith('.npy') and old != os.path.basename(npy):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(CACHE_DIR, old))

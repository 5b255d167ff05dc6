"""A folder's decoded images, kept in image_cache/ so the next run reads them at once.

image_cache/ in the working directory holds one file of rows per folder and size, and an
index naming each file's size, modification time and row. A file added, removed or
changed is noticed by its size and modification time, and only it is decoded again, on
every core. The cache is untrusted too: an index that does not check out is ignored.
"""
import concurrent.futures
import contextlib
import hashlib
import json
import os
import random
import re
import sys
import time

import numpy as np

from support import image_file, zero_copy
from support.errors import InputError, write_error

CACHE_DIR = 'image_cache'
CACHE_VERSION = 2  # a new number whenever a file decodes to other pixels
MAX_INDEX_BYTES = 256 << 20  # the cache's index of a million files: about 100 MB


def decoded(data_dir, size, names):
    """The images at names (relative to data_dir) at size x size, one row each, read
    from the cache where it holds the same file (same size and modification time),
    the others decoded now, and the cache rewritten if anything changed.

    Returns:
      A uint8 array of the rows of the images that could be read, in the order of
      names; each name's row in it (-1: skipped); [(name, reason)] of those skipped.
    """
    path = cache_path(data_dir, size)
    stamps = {name: stamp(os.path.join(data_dir, name)) for name in names}
    cached_rows, index = read_cache(path, size)
    # What the cache says of each file unchanged since: its row, or why it was skipped.
    known = {name: index[name] for name in names if index.get(name, [])[:2] == stamps[name]}
    reasons = {name: entry[3] for name, entry in known.items() if entry[2] is None}
    known_rows = [entry[2] for entry in known.values() if entry[2] is not None]
    if len(known) == len(index) == len(names) and known_rows == list(
            range(len(cached_rows))):
        images = read_rows(cached_rows)  # nothing changed: the cache's rows are these
    else:
        images = zero_copy.empty((len(names), 3 * size * size), np.uint8)
        for i, name in enumerate(names):
            if name in known and name not in reasons:
                images[i] = cached_rows[known[name][2]]
        todo = [i for i, name in enumerate(names) if name not in known]
        reasons.update(decode_all(data_dir, names, todo, size, images))
        kept = [i for i, name in enumerate(names) if name not in reasons]
        for row, i in enumerate(kept):  # close the gaps the skipped left, in place
            images[row] = images[i]
        images = images[:len(kept)]
    del cached_rows  # the mapped file, before write_cache() replaces it
    rows = {name: row for row, name in enumerate(n for n in names if n not in reasons)}
    if len(known) != len(names) or len(index) != len(names):
        write_cache(path, size, data_dir, images, {
            name: stamps[name] + [rows.get(name), reasons.get(name)] for name in names})
    return (images, [rows.get(name, -1) for name in names],
            [(name, reasons[name]) for name in names if name in reasons])


def read_rows(cached_rows):
    """The cache's mapped rows in memory TensorFlow can use without a copy: one read
    into the array, where a copy from the mapped file would take the memory twice."""
    images = zero_copy.empty(cached_rows.shape, np.uint8)
    with open(cached_rows.filename, 'rb') as f:
        f.seek(cached_rows.offset)
        if f.readinto(memoryview(images).cast('B')) != images.nbytes:
            raise InputError('%s changed while it was read: run again'
                             % cached_rows.filename)
    return images


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
            images[i] = image_file.load_row(os.path.join(data_dir, names[i]), size)
        except image_file.BadImage as e:
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

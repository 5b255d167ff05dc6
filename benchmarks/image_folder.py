"""A folder of 60,000 images against the pickles: CIFAR-10 written as PNG files, loaded
and trained on as a learner's own photos are.

    python benchmarks/image_folder.py [--data_dir cifar-10-batches-py] [--folder DIR]
                                      [--train] [--seed 0]

Writes the official CIFAR-10 (--data_dir) as DIR/train/<class>/<n>.png and
DIR/test/<class>/<n>.png (once; default: a folder in the temporary directory), checks
that the folder's decoded images are the pickles' pixels, and times, each in a process
of its own: load_data() on the pickles; on the folder with an empty image_cache/ (the
first load: every file decoded); and on the folder again (the cache read, the folder
listed to notice changes). Each line gives the wall time and the peak memory.

With --train it also trains run_cnn_model.py (its defaults, --seed) on the pickles and
on the folder, and keras_cnn.py with the folder read by Keras's
image_dataset_from_directory (the same network and schedule), and prints each one's
test accuracy and wall time.
"""
import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from common import DEFAULT_DATA, HERE, ROOT

LOAD = '''
import resource, sys, time
sys.path.insert(0, %r)
started = time.perf_counter()
import data_helpers
data = data_helpers.load_data(%r)
print('loaded %%d + %%d images in %%.2f s, peak %%.0f MB' %% (
    len(data['images_train']), len(data['images_test']), time.perf_counter() - started,
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
'''


def write_folder(data_dir, folder):
    """The pickles' images as PNG files, one subfolder per class; the folder's name
    order within a class is the pickles' order."""
    with open(os.path.join(data_dir, 'batches.meta'), 'rb') as f:
        classes = pickle.load(f, encoding='latin1')['label_names']
    started = time.perf_counter()
    for split, names in [('train', ['data_batch_%d' % i for i in range(1, 6)]),
                         ('test', ['test_batch'])]:
        count = 0
        for name in names:
            with open(os.path.join(data_dir, name), 'rb') as f:
                batch = pickle.load(f, encoding='latin1')
            images = batch['data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            for image, label in zip(images, batch['labels']):
                path = os.path.join(folder, split, classes[label], '%05d.png' % count)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Image.fromarray(image).save(path)
                count += 1
    print('wrote %s in %.1f s' % (folder, time.perf_counter() - started), flush=True)


def check_pixels(data_dir, folder, cwd):
    """The folder's decoded images are the pickles' pixels, class by class."""
    import data_helpers
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        pickles = data_helpers.load_data(data_dir)
        images = data_helpers.load_data(folder)
    finally:
        os.chdir(saved)
    for split in ['train', 'test']:
        labels = pickles['labels_' + split]
        # The folder's order: class folder by folder (batches.meta's names, which are in
        # alphabetical order), each in the pickles' order.
        order = np.argsort(labels, kind='stable')
        assert np.array_equal(images['images_' + split], pickles['images_' + split][order])
        assert np.array_equal(images['labels_' + split], labels[order])
    print('the folder decodes to the pickles\' pixels, all 60,000 images', flush=True)


def load(what, data_dir, cwd):
    out = subprocess.run([sys.executable, '-c', LOAD % (ROOT, data_dir)], cwd=cwd,
                         capture_output=True, text=True, check=True).stdout
    print('%-28s %s' % (what, out.strip().splitlines()[-1]), flush=True)


def train(what, command, cwd):
    started = time.perf_counter()
    out = subprocess.run([sys.executable] + command, cwd=cwd, capture_output=True,
                         text=True, check=True).stdout
    accuracy = re.findall(r'^Test accuracy ([\d.]+)$', out, re.M)[-1]
    print('%-28s test accuracy %s in %.1f s wall' % (
        what, accuracy, time.perf_counter() - started), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=DEFAULT_DATA,
                        help='the official CIFAR-10 pickles (default: $CIFAR10_DIR, or '
                             'the folder the first run downloaded)')
    parser.add_argument('--folder', default=os.path.join(tempfile.gettempdir(),
                                                         'cifar10_png'))
    parser.add_argument('--train', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    data_dir, folder = os.path.abspath(args.data_dir), os.path.abspath(args.folder)
    if not os.path.isdir(os.path.join(folder, 'test')):
        write_folder(data_dir, folder)
    with tempfile.TemporaryDirectory() as cwd:
        load('pickles:', data_dir, cwd)
        load('folder, first load:', folder, cwd)
        load('folder, second load:', folder, cwd)
        check_pixels(data_dir, folder, cwd)
        if args.train:
            flags = ['--seed', str(args.seed), '--train_dir', os.path.join(cwd, 'logs')]
            script = os.path.join(ROOT, 'run_cnn_model.py')
            train('run_cnn_model.py, pickles:', [script, '--data_dir', data_dir] + flags,
                  cwd)
            train('run_cnn_model.py, folder:', [script, '--data_dir', folder] + flags, cwd)
            train('keras_cnn.py, folder:', [os.path.join(HERE, 'keras_cnn.py'),
                                            '--image_folder', folder], cwd)


if __name__ == '__main__':
    main()

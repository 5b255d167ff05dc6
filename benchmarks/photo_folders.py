"""From scratch against pretrained on folders of real photos: run_cnn_model.py's defaults
and run_pretrained_model.py's, each seed in a process of its own.

    python benchmarks/photo_folders.py FOLDER [FOLDER ...] [--seeds 3]

First, how many 224x224 images a second the pretrained network turns into features
here (batches of 100, as run_pretrained_model.py computes them). Then, for each folder
and script, the test accuracy of each seed, their median and the median wall time of
the whole process (image decoding excluded: each folder is decoded once first, into the
image_cache/ the runs read). Runs go to a temporary folder; the photo folders are only
read.
"""
import argparse
import os
import statistics
import tempfile
import time

from common import train

SCRIPTS = [('from scratch (run_cnn_model.py)', 'run_cnn_model.py'),
           ('pretrained (run_pretrained_model.py)', 'run_pretrained_model.py')]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folders', nargs='+', metavar='FOLDER')
    parser.add_argument('--seeds', type=int, default=3)
    args = parser.parse_args()
    features_per_second()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # image_cache/ goes here
        for folder in args.folders:
            for name, script in SCRIPTS:
                train(script, ['--data_dir', folder, '--max_steps', '1'],
                      os.path.join(scratch, 'warm'))  # decode the folder once
                results = [train(script, ['--data_dir', folder, '--seed', str(seed)],
                                 os.path.join(scratch, 'tf_logs'))[:2]
                           for seed in range(args.seeds)]
                accuracies = [accuracy for accuracy, _ in results]
                print('{}, {}: accuracy {} (median {:.4f}), wall {:.1f} s (median)'.format(
                    folder, name, ' '.join('%.4f' % a for a in accuracies),
                    statistics.median(accuracies),
                    statistics.median(seconds for _, seconds in results)), flush=True)


def features_per_second(count=400, batch=100):
    import numpy as np
    import tensorflow as tf
    import pretrained
    base = pretrained.MobileNetV2()
    features = tf.function(lambda images: pretrained.features(images, base))
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (batch, 224, 224, 3)),
                         tf.float32)
    features(images)  # traced once
    started = time.perf_counter()
    for _ in range(count // batch):
        features(images).numpy()
    print('features of {:.0f} images a second (224x224, batches of {})'.format(
        count / (time.perf_counter() - started), batch), flush=True)


if __name__ == '__main__':
    main()

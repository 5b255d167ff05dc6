"""What an export keeps: a run's test accuracy through its SavedModel, its TFLite file
and a smaller TFLite file with 8-bit weights, their sizes, and the time per image.

    python benchmarks/export.py --run RUN_NAME [--train_dir tf_logs] [--data_dir DIR]

Runs export_model.py on the run (timed, as a process of its own), then classifies all
the run's test images (CIFAR-10's 10,000) through the run itself (as restore_model.py),
the SavedModel and model.tflite, and through a copy of model.tflite whose weights are
stored in 8 bits (TensorFlow Lite's dynamic-range quantisation, computing in float32),
written in a temporary folder. Times a batch of 100 images and single images.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import ROOT
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def timed(classify, images):
    """(probabilities of all images, ms per image in batches of 100, ms for one image)."""
    classify(images[:100])  # the first call builds what later calls reuse
    start = time.perf_counter()
    probabilities = np.concatenate([classify(images[i:i + 100])
                                    for i in range(0, len(images), 100)])
    batched = (time.perf_counter() - start) * 1000 / len(images)
    start = time.perf_counter()
    for i in range(100):
        classify(images[i:i + 1])
    return probabilities, batched, (time.perf_counter() - start) * 1000 / 100


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run', required=True)
    parser.add_argument('--train_dir', default='tf_logs')
    parser.add_argument('--data_dir', default=None)
    args = parser.parse_args()

    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, 'export_model.py'), '--run',
                    args.run, '--train_dir', args.train_dir], check=True)
    print('export_model.py: %.1f s' % (time.perf_counter() - start))

    import tensorflow as tf
    from export_model import size_of
    from support import export, restore, runs
    run = runs.find_run(args.train_dir, args.run)
    out = os.path.join(run.path, 'export')
    quantised = os.path.join(tempfile.mkdtemp(), 'model_int8.tflite')
    shutil.copy(os.path.join(out, 'labels.txt'), os.path.dirname(quantised))
    converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(out, 'saved_model'))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with open(quantised, 'wb') as f:
        f.write(converter.convert())

    network = restore.Network(run)
    data_sets = restore.test_data(run, args.data_dir)
    size = network.image_size
    images = data_sets['images_test'].reshape(-1, 3, size, size).transpose(0, 2, 3, 1)
    labels = data_sets['labels_test']
    ways = [('the run (restore_model.py)', None,
             lambda x: tf.nn.softmax(network.logits(tf.constant(
                 x.transpose(0, 3, 1, 2).reshape(len(x), -1)))).numpy())]
    for path in [os.path.join(out, 'saved_model'), os.path.join(out, 'model.tflite'),
                 quantised]:
        ways.append((os.path.basename(path), size_of(path), export.load(path)[2]))
    print('| through | accuracy | size | ms/image, batches of 100 | ms, one image | '
          'largest difference from the run |')
    print('|---|---|---|---|---|---|')
    reference = None
    for name, size_bytes, classify in ways:
        probabilities, batched, single = timed(classify, np.ascontiguousarray(images))
        reference = probabilities if reference is None else reference
        print('| %s | %.4f | %s | %.3f | %.2f | %.1e |' % (
            name, np.mean(np.argmax(probabilities, 1) == labels),
            '' if size_bytes is None else '%.2f MB' % (size_bytes / 1e6), batched, single,
            np.abs(probabilities - reference).max()), flush=True)


if __name__ == '__main__':
    main()

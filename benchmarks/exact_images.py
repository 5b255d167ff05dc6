"""What the JPEG copy of CIFAR-10 in ../shared costs a trained network's test accuracy.

../shared/cifar-10-batches-py is not byte for byte the official data: only the first 846
test images are (and the first 932 of each training batch); the others were decoded from
a JPEG copy, about 6 grey levels off on average (../shared/README.md). A JPEG loses fine
detail that no network can get back, so figures measured on this copy understate what
the same code reaches on the official archive. This scores runs' latest checkpoints on
the test set as load_data() gives it, on its 846 byte-exact images, and on those same
images after a JPEG round trip at several qualities: the drop from the exact images to
their JPEG copies is the cost of the copy's compression on the same pictures.

    python benchmarks/exact_images.py RUN_FOLDER [RUN_FOLDER ...] [--data_dir DIR]
"""
import argparse
import os
import sys

from ablation import DEFAULT_DATA, ROOT

EXACT_TEST_IMAGES = 846  # the first 846 of test_batch are byte-exact (../shared/README.md)
QUALITIES = [95, 85, 75]  # quality 75 is about the copy's 6 grey levels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help="run folders of run_cnn_model.py or "
                        "run_fc_model.py; each one's latest checkpoint is scored")
    parser.add_argument('--data_dir', default=DEFAULT_DATA)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    import numpy as np
    import tensorflow as tf
    import data_helpers
    import restore_model
    from support import runs, training

    found = [runs.Run(os.path.abspath(folder)) for folder in args.runs]
    for run in found:  # before the slow part
        if not run.latest_checkpoint():
            sys.exit('%s is not a run folder with a checkpoint' % run.path)
    data = data_helpers.load_data(args.data_dir)
    exact = data['images_test'][:EXACT_TEST_IMAGES]
    labels, exact_labels = data['labels_test'], data['labels_test'][:EXACT_TEST_IMAGES]
    pictures = exact.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # rows -> HWC images
    views = {'all %d' % len(labels): (data['images_test'], labels),
             'exact %d' % len(exact): (exact, exact_labels)}
    print('the %d exact test images after a JPEG round trip (tf.io.encode_jpeg):'
          % len(exact))
    for quality in QUALITIES:
        jpeg = np.stack([tf.io.decode_jpeg(tf.io.encode_jpeg(p, quality=quality)).numpy()
                         for p in pictures]).transpose(0, 3, 1, 2).reshape(exact.shape)
        print('  quality %d: %.2f grey levels off on average'
              % (quality, np.abs(jpeg.astype(np.int16) - exact).mean()))
        views['JPEG %d' % quality] = (jpeg, exact_labels)

    print('\n| run | step | %s |' % ' | '.join(views))
    print('|---|---|%s' % ('---|' * len(views)))
    for run in found:
        path = run.latest_checkpoint()
        model, _ = restore_model.build_network(run, path)
        run.restore(tf.train.Checkpoint(model=model), path)
        logits = tf.function(restore_model.logits_function(model, data['mean_image']))
        scores = [float(np.mean(training.predict(logits, tf.constant(images)).numpy()
                                .argmax(1) == truth)) for images, truth in views.values()]
        print('| %s | %d | %s |' % (run.name, int(model.global_step.numpy()),
                                    ' | '.join('%.4f' % s for s in scores)), flush=True)


if __name__ == '__main__':
    main()

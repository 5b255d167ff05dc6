"""Restore a trained network from its latest checkpoint and evaluate it on CIFAR-10.

With no flags it takes the newest run in tf_logs; --run picks another. It may be a
run of run_fc_model.py (Part 2) or of run_cnn_model.py (Part 3): the names of the
variables in the checkpoint tell which network it holds, and their shapes its size
(hidden units, channels), so no training flag needs repeating.

    python restore_model.py [--run RUN_NAME] [--train_dir tf_logs]
"""
import time

from support import cli


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run', metavar='RUN_NAME',
                        help='the run to restore: a folder in train_dir (default: the '
                             'newest run with a checkpoint)')
    cli.add_common_flags(parser)
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = cli.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import tensorflow as tf

import cnn
import data_helpers
import two_layer_fc
from support import devices, report, runs, training, zero_copy


def main(args):
    beginTime = time.time()

    # Find the checkpoint first: no need to load the data if there is none.
    run = runs.find_run(args.train_dir, args.run,
                        hint='train first with python run_fc_model.py or '
                             'python run_cnn_model.py')
    path = run.latest_checkpoint()
    shapes = runs.variable_shapes(path)
    if 'model/weights1' in shapes:  # Part 2's two-layer network
        (image_pixels, hidden_units), (_, classes) = (shapes['model/weights1'],
                                                      shapes['model/weights2'])
        size = 'hidden1 = {}'.format(hidden_units)
        model = two_layer_fc.TwoLayerFC(image_pixels, hidden_units, classes)
    elif 'model/filters/0' in shapes:  # Part 3's convolutional network
        image_pixels, (_, classes) = 3072, shapes['model/weights']
        size = 'channels = {}'.format(shapes['model/filters/0'][-1])
        model = cnn.CNN(shapes['model/filters/0'][-1], classes,
                        dtype=devices.compute_dtype('auto'))
    else:
        raise cli.InputError('%s is not a checkpoint of run_fc_model.py or '
                             'run_cnn_model.py' % path)
    print('\nParameters:')
    print('run = {}\ncheckpoint = {}\n{}\n'.format(run.name, path, size))

    print('Restoring variables from checkpoint')
    run.restore(tf.train.Checkpoint(model=model), path)
    print('Current step: {}'.format(int(model.global_step.numpy())))

    data_sets = data_helpers.load_data(args.data_dir)
    if data_sets['images_test'].shape[1] != image_pixels:
        raise cli.InputError('%s expects %d-pixel images but %s holds %d-pixel images'
                             % (path, image_pixels, args.data_dir,
                                data_sets['images_test'].shape[1]))
    # The test images, prepared as in training, 1000 at a time.
    if isinstance(model, cnn.CNN):
        def logits(rows):
            return cnn.test_logits(cnn.to_images(rows, data_sets['mean_image']), model)
    else:
        def logits(rows):
            return two_layer_fc.inference((tf.cast(rows, tf.float32) - data_sets[
                'mean_image']) * model.input_scale, model)
    test_logits = training.predict(logits, zero_copy.to_tensor(data_sets['images_test']))
    test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
    print('Test accuracy {:g}'.format(test_accuracy))
    report.test_set(test_logits.numpy(), data_sets)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    cli.run(main, args)

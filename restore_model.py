"""Restore a trained network from its latest checkpoint and evaluate it on CIFAR-10.

With no flags it takes the newest run in tf_logs; --run picks another. The checkpoint
holds the weights and the global step, and the weights' shapes tell the number of
hidden units, so no training flag needs repeating.

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

import data_helpers
import two_layer_fc
from support import report, runs, training, zero_copy


def main(args):
    beginTime = time.time()

    # Find the checkpoint first: no need to load the data if there is none.
    run = runs.find_run(args.train_dir, args.run,
                        hint='train first with python run_fc_model.py')
    path = run.latest_checkpoint()
    shapes = runs.variable_shapes(path)
    if 'model/weights1' not in shapes:
        raise cli.InputError('%s is not a checkpoint of run_fc_model.py' % path)
    (image_pixels, hidden_units), (_, classes) = (shapes['model/weights1'],
                                                  shapes['model/weights2'])
    print('\nParameters:')
    print('run = {}\ncheckpoint = {}\nhidden1 = {}\n'.format(run.name, path, hidden_units))

    model = two_layer_fc.TwoLayerFC(image_pixels, hidden_units, classes)
    print('Restoring variables from checkpoint')
    run.restore(tf.train.Checkpoint(model=model), path)
    print('Current step: {}'.format(int(model.global_step)))

    data_sets = data_helpers.load_data(args.data_dir)
    if data_sets['images_test'].shape[1] != image_pixels:
        raise cli.InputError('%s expects %d-pixel images but %s holds %d-pixel images'
                             % (path, image_pixels, args.data_dir,
                                data_sets['images_test'].shape[1]))
    # The test images, centred (and scaled) as in training, 1000 at a time.
    test_logits = training.predict(lambda images: two_layer_fc.inference(
        (tf.cast(images, tf.float32) - data_sets['mean_image']) * model.input_scale, model),
        zero_copy.to_tensor(data_sets['images_test']))
    test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
    print('Test accuracy {:g}'.format(test_accuracy))
    report.test_set(test_logits.numpy(), data_sets)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    cli.run(main, args)

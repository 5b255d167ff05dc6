"""Restore the two-layer network from its latest checkpoint and evaluate it on CIFAR-10.

The checkpoint holds the weights and the global step; the weights' shapes tell the
number of hidden units, so no training flag needs repeating.

    python restore_model.py [--train_dir tf_logs]
"""
import time

import data_helpers  # first: it imports TensorFlow without the start-up log noise
import tensorflow as tf
import two_layer_fc
import visualize


def parse_args():
    parser = data_helpers.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train_dir', default='tf_logs',
                        help='directory holding the checkpoints (default: %(default)s)')
    data_helpers.add_data_flags(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    beginTime = time.time()

    # Find the checkpoint first: no need to load the data if there is none.
    path = two_layer_fc.latest_checkpoint(args.train_dir)
    image_pixels, hidden_units, classes = two_layer_fc.checkpoint_sizes(path)
    print('\nParameters:')
    print('checkpoint = {}\nhidden1 = {}\n'.format(path, hidden_units))

    model = two_layer_fc.TwoLayerFC(image_pixels, hidden_units, classes)
    print('Restoring variables from checkpoint')
    two_layer_fc.restore(tf.train.Checkpoint(model=model), args.train_dir)
    print('Current step: {}'.format(int(model.global_step)))

    data_sets = data_helpers.load_data(args.data_dir)
    if data_sets['images_test'].shape[1] != image_pixels:
        raise data_helpers.InputError(
            '%s expects %d-pixel images but %s holds %d-pixel images'
            % (path, image_pixels, args.data_dir, data_sets['images_test'].shape[1]))
    test_logits = two_layer_fc.inference(data_helpers.to_tensor(data_sets['images_test']),
                                         model)
    test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
    print('Test accuracy {:g}'.format(test_accuracy))
    visualize.report_test_set(test_logits.numpy(), data_sets)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    data_helpers.run(main)

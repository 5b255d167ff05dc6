"""Restore a trained network from its latest checkpoint and evaluate it on the test set.

With no flags it takes the newest run in tf_logs; --run picks another. It may be a
run of run_fc_model.py (Part 2), run_cnn_model.py (Part 3) or run_pretrained_model.py:
the flags the run recorded say which network it is and what it trained on
(support/restore.py), so no training flag needs repeating.

    python restore_model.py [--run RUN_NAME] [--train_dir tf_logs]
"""
import time

from support import cli, runs, script


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    runs.add_run_flags(parser, 'to restore')
    parser.add_argument('--data_dir', default=None,
                        help='the data to test on: CIFAR-10\'s folder, or the folder of '
                             'images the run learned (default: the one it trained on)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import two_layer_fc
from support import loop, report, restore, zero_copy


def main(args):
    beginTime = time.time()

    # Find the checkpoint first: no need to load the data if there is none.
    run = runs.trained_run(args)
    print('Restoring variables from checkpoint')
    network = restore.Network(run)  # the recorded network, its weights and mean image
    print('\nParameters:')
    print('run = {}\ncheckpoint = {}\n{}\n'.format(
        run.name, run.latest_checkpoint(), network.description))
    print('Current step: {}'.format(network.step))

    # The test images (of CIFAR-10, or of the run's folder), prepared as in training.
    data_sets = restore.test_data(run, args.data_dir)
    test_logits = loop.predict(network.logits,
                               zero_copy.to_tensor(data_sets['images_test']),
                               batch_size=network.batch_size, what=network.views)
    test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
    print('Test accuracy {:.4f}'.format(test_accuracy))
    report.test_set(test_logits.numpy(), data_sets)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    script.run(main, args)

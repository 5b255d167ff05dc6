"""Part 2: train the two-layer network on CIFAR-10, with TensorBoard logs and checkpoints.

Builds the network from two_layer_fc.py, trains it with gradient descent on batches of
400 images, prints the training accuracy every 100 steps, logs summaries for
TensorBoard to train_dir/<YYYYmmdd-HHMMSS>/, saves a checkpoint to train_dir every
1000 steps, and finally prints the accuracy on the 10,000 test images (about 46 %).

    python run_fc_model.py --hidden1 120
    tensorboard --logdir=tf_logs
    python restore_model.py

Ctrl-C saves a checkpoint of the current step; --resume continues from it.
"""
import itertools
import os
import signal
import sys
import time
from datetime import datetime

import numpy as np
import data_helpers  # first: it imports TensorFlow without the start-up log noise
import tensorflow as tf
import two_layer_fc
import visualize


def parse_args():
    parser = data_helpers.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--learning_rate', type=data_helpers.positive_float, default=0.001,
                        help='learning rate for the training (default: %(default)s)')
    parser.add_argument('--max_steps', type=data_helpers.non_negative_int, default=2000,
                        help='number of steps to run trainer (default: %(default)s)')
    parser.add_argument('--hidden1', type=data_helpers.positive_int, default=120,
                        help='number of units in hidden layer 1 (default: %(default)s)')
    parser.add_argument('--batch_size', type=data_helpers.positive_int, default=400,
                        help='batch size; a divisor of 50000 uses every image in each '
                             'epoch (default: %(default)s)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='directory for checkpoints and TensorBoard logs '
                             '(default: %(default)s)')
    parser.add_argument('--reg_constant', type=data_helpers.non_negative_float, default=0.1,
                        help='regularization constant (default: %(default)s)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the latest checkpoint in train_dir')
    data_helpers.add_data_flags(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    print('\nParameters:')
    for attr, value in sorted(vars(args).items()):
        print('{} = {}'.format(attr, value))
    print()

    beginTime = time.time()
    rng = data_helpers.set_seed(args.seed)

    # Load CIFAR-10 and hand the arrays to TensorFlow without copying them.
    data_sets = data_helpers.load_data(args.data_dir)
    num_train, image_pixels = data_sets['images_train'].shape
    classes = len(data_sets['classes'])
    data_helpers.check_batch_size(args.batch_size, num_train)
    images_train = data_helpers.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])

    # The network, and a checkpoint of it (weights and global step) in train_dir.
    model = two_layer_fc.TwoLayerFC(image_pixels, args.hidden1, classes,
                                    reg_constant=args.reg_constant)
    checkpoint = tf.train.Checkpoint(model=model)
    manager = tf.train.CheckpointManager(checkpoint, args.train_dir, max_to_keep=5,
                                         checkpoint_name='checkpoint')
    if args.resume:
        two_layer_fc.restore(checkpoint, args.train_dir)
        print('Resuming from step {}'.format(int(model.global_step)))

    # Put logs for each run in a separate directory, so TensorBoard can compare runs.
    logdir = os.path.join(args.train_dir, datetime.now().strftime('%Y%m%d-%H%M%S'))
    summary_writer = tf.summary.create_file_writer(logdir)

    def train_step(indices):
        """One step of gradient descent on the training images at `indices`.

        Returns the batch's loss and accuracy before the step. Every 100th step
        also writes the summaries of two_layer_fc for TensorBoard.
        """
        images = tf.gather(images_train, indices)
        labels = tf.gather(labels_train, indices)
        with summary_writer.as_default(step=model.global_step), \
                tf.summary.record_if(model.global_step % 100 == 0):
            with tf.GradientTape() as tape:
                logits = two_layer_fc.inference(images, model)
                loss = two_layer_fc.loss(logits, labels, model)
            accuracy = two_layer_fc.evaluation(logits, labels)
        two_layer_fc.training(tape, loss, model, args.learning_rate)
        return loss, accuracy

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name='indices')])
    def train_steps(batch_indices):
        """Run train_step once per row of batch_indices, all in one graph call.

        Each call of a tf.function costs about a millisecond of overhead; running 100
        steps per call (as Keras' steps_per_execution does) pays it once per 100 steps.
        Returns the loss and the accuracy of each step.
        """
        num_steps = tf.shape(batch_indices)[0]
        losses = tf.TensorArray(tf.float32, size=num_steps)
        accuracies = tf.TensorArray(tf.float32, size=num_steps)
        for k in tf.range(num_steps):
            with tf.name_scope(''):  # names as in the tutorial: Loss/loss, not while/...
                loss, accuracy = train_step(batch_indices[k])
            losses = losses.write(k, loss)
            accuracies = accuracies.write(k, accuracy)
        return losses.stack(), accuracies.stack()

    # The graph of the training steps, for TensorBoard's Graphs tab.
    with summary_writer.as_default():
        tf.summary.graph(train_steps.get_concrete_function().graph)

    # Ctrl-C only raises a flag: the steps under way finish, then the loop saves them.
    interrupted = []

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one quits

    signal.signal(signal.SIGINT, on_interrupt)

    step = int(model.global_step)
    batches = data_helpers.gen_batch(num_train, args.batch_size,
                                     max(args.max_steps - step, 0), rng)
    try:  # the writer stays open until the test set's pictures are logged
        while step < args.max_steps:
            # Up to the next multiple of 100 steps: print, save or stop there.
            num_steps = min(100 - step % 100, args.max_steps - step)
            batch_indices = np.stack(list(itertools.islice(batches, num_steps)))
            losses, accuracies = [t.numpy() for t in train_steps(batch_indices)]
            if not np.all(np.isfinite(losses)):
                first_bad = np.isfinite(losses).argmin()
                latest = manager.latest_checkpoint
                raise data_helpers.InputError(
                    'the loss became {} at step {}: training diverged; lower '
                    '--learning_rate (now {:g}). {}'.format(
                        losses[first_bad], step + first_bad, args.learning_rate,
                        'The last good checkpoint is ' + latest if latest else
                        'No checkpoint was saved.'))
            if step % 100 == 0:
                print('Step {:d}, training accuracy {:g}'.format(step, accuracies[0]))
            step += num_steps
            if step % 1000 == 0:
                print('Saved checkpoint', manager.save(checkpoint_number=step))
            if interrupted:
                path = manager.save(checkpoint_number=step)
                print('\nInterrupted at step {}: saved checkpoint {}; continue with '
                      '--resume'.format(step, path), file=sys.stderr)
                sys.exit(130)
        if step % 1000 != 0:
            print('Saved checkpoint', manager.save(checkpoint_number=step))

        # After finishing the training, evaluate on the test set.
        test_logits = two_layer_fc.inference(
            data_helpers.to_tensor(data_sets['images_test']), model)
        test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
        print('Test accuracy {:g}'.format(test_accuracy))
        visualize.report_test_set(test_logits.numpy(), data_sets, summary_writer,
                                  model.global_step)
    finally:
        summary_writer.close()  # flush the logs, also when stopping early

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    data_helpers.run(main)

"""Part 1: a softmax classifier for CIFAR-10, about 25-30 % test accuracy.

One weight per pixel and class, and one bias per class: an image's score for a class is
the weighted sum of its pixels, and softmax turns the ten scores into probabilities.
Gradient descent on the cross-entropy loss learns the weights from 100 random training
images at a time. --dataset mnist (or fashion_mnist) is the MNIST tutorial's model.

    python softmax.py
    tensorboard --logdir=tf_logs
"""
import contextlib
import time

from support import cli, mnist, run_record, script, small_data


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=['cifar10', 'mnist', 'fashion_mnist'],
                        default='cifar10', help='what to classify (default: %(default)s)')
    parser.add_argument('--learning_rate', type=cli.positive_float,
                        help='gradient descent step size (default: 0.005; the MNIST '
                             'tutorial\'s %s for its digits)' % mnist.LEARNING_RATE)
    parser.add_argument('--max_steps', type=cli.positive_int, default=1000,
                        help='number of training steps (default: %(default)s)')
    parser.add_argument('--batch_size', type=cli.positive_int,
                        default=small_data.default(100),
                        help='random training images per step (default: %(default)s, '
                             'or a tenth of the training images where that is fewer)')
    cli.add_common_flags(parser, several_datasets=True)
    args = run_record.parse_flags(parser, argv, 'softmax')  # names the run, draws a seed
    mnist.fill_defaults(args, learning_rate=0.005)  # and --data_dir for the dataset
    return args


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import numpy as np
import tensorflow as tf

import data_helpers
from support import loop, report, zero_copy


class Softmax(tf.Module):
    """The variables we want to optimize, all zero at first, and the step count."""

    def __init__(self, image_pixels, classes):
        super().__init__(name='softmax')
        self.weights = tf.Variable(tf.zeros([image_pixels, classes]), name='weights')
        self.biases = tf.Variable(tf.zeros([classes]), name='biases')
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)


def inference(images, model):
    # The classifier's result: a weighted sum of the pixels for each class.
    return tf.matmul(images, model.weights) + model.biases


def loss(logits, labels):
    # The loss function: how far the softmax probabilities are from the true classes.
    with tf.name_scope('Loss'):
        mean_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            logits=logits, labels=labels))
        tf.summary.scalar('loss', mean_loss)  # the tags Part 2 uses: one chart for both
    return mean_loss


def training(tape, loss, model, learning_rate):
    # Gradient descent: move each variable a little against its gradient.
    gradients = tape.gradient(loss, [model.weights, model.biases])
    with tf.name_scope('GradientDescent'):
        for variable, gradient in zip([model.weights, model.biases], gradients):
            variable.assign_sub(learning_rate * gradient)
        model.global_step.assign_add(1)


def evaluation(logits, labels):
    # Accuracy: the share of images whose highest score is their true class.
    with tf.name_scope('Accuracy'):
        correct_prediction = tf.equal(tf.argmax(logits, 1), labels)
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        tf.summary.scalar('train_accuracy', accuracy)
    return accuracy


def main(args):
    beginTime = time.time()

    # Prepare data: CIFAR-10 (or your own images, or the MNIST tutorial's digits)
    data_sets = data_helpers.load_data(args.data_dir, args.image_size, args.test_fraction,
                                       args.dataset)
    num_train, image_pixels = data_sets['images_train'].shape
    small_data.fit_batch(args, num_train)  # at most a tenth of the training images
    images_train = zero_copy.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])
    images_test = zero_copy.to_tensor(data_sets['images_test'])
    mean_image = tf.constant(data_sets['mean_image'])

    # Define variables (these are the values we want to optimize)
    model = Softmax(image_pixels, len(data_sets['classes']))

    def centred(images):
        # load_data() left the images as bytes: subtract the mean training image here.
        return tf.cast(images, tf.float32) - mean_image

    def train_step(indices):
        images = centred(tf.gather(images_train, indices))
        labels = tf.gather(labels_train, indices)
        with tf.GradientTape() as tape:
            logits = inference(images, model)
            batch_loss = loss(logits, labels)
        accuracy = evaluation(logits, labels)
        training(tape, batch_loss, model, args.learning_rate)
        return batch_loss, accuracy

    def test_logits():
        return loop.predict(lambda images: inference(centred(images), model), images_test)

    # A folder of its own for the run's TensorBoard logs, ours (locked) until closed
    run = run_record.open_run(args, 'softmax', data_sets)
    with run, contextlib.closing(tf.summary.create_file_writer(run.path)) as summary_writer:
        run_record.log_hparams(summary_writer, 'softmax', run, args)
        train_step = loop.step_function(train_step, summary_writer, model.global_step)

        # Repeat max_steps times (Ctrl-C or SIGTERM stops after the step under way)
        for i in loop.steps(model.global_step, args.max_steps):
            mnist.tutorial_report(args, i, test_logits, data_sets)  # at 0, 1, 10 steps

            # Generate input data batch: random images, picked by the seed and the step
            indices = np.random.default_rng([args.seed, i]).integers(
                num_train, size=args.batch_size)

            # Perform a single training step (summaries go to TensorBoard every 100)
            _, train_accuracy = train_step(indices)

            # Periodically print out the model's current accuracy
            if i % 100 == 0:
                print('Step {:5d}: training accuracy {:.4f}'.format(i, train_accuracy))

        # After finishing the training, evaluate on the test set
        logits = test_logits()
        mnist.tutorial_report(args, args.max_steps, lambda: logits, data_sets)
        print('Test accuracy {:.4f}'.format(evaluation(logits, data_sets['labels_test'])))
        report.test_set(logits.numpy(), data_sets, summary_writer, args.max_steps,
                        templates=model.weights.numpy())

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    script.run(main, args)

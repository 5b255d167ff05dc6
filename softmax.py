"""Part 1: a softmax classifier for CIFAR-10.

The simplest image classifier there is: each class gets one weight per pixel and a bias,
an image's score for a class is the weighted sum of its pixels, and softmax turns the ten
scores into probabilities. Gradient descent on the cross-entropy loss learns the weights
from 100 random training images at a time. Expect about 27-30 % test accuracy: three
times chance, and a baseline for the neural network of Part 2.

After training it prints per-class accuracy and the confusion matrix, and logs to
train_dir/<YYYYmmdd-HHMMSS>/ for TensorBoard: loss and accuracy curves, and in the Images
tab the confusion matrix, sample predictions and each class's weights as an image.

    python softmax.py [--learning_rate 0.005] [--max_steps 1000] [--batch_size 100]
    tensorboard --logdir=tf_logs

`--dataset mnist` (or fashion_mnist) trains the same model on 28x28 greyscale digits (or
clothes) with the companion MNIST tutorial's settings: gradient descent at 0.5, 1000
steps of 100 images, and the test accuracy printed after 0, 1, 10 and 1000 steps.
"""
import os
import time
from datetime import datetime

import numpy as np
import data_helpers  # first: it imports TensorFlow without the start-up log noise
import tensorflow as tf
import visualize


# Each tutorial's hyperparameters: Part 1 for CIFAR-10, the MNIST tutorial for the digits.
DEFAULTS = {
    'cifar10': {'learning_rate': 0.005, 'max_steps': 1000, 'batch_size': 100},
    'mnist': {'learning_rate': 0.5, 'max_steps': 1000, 'batch_size': 100},
    'fashion_mnist': {'learning_rate': 0.5, 'max_steps': 1000, 'batch_size': 100},
}
# The MNIST tutorial prints the test accuracy after these steps (and at the end).
TEST_ACCURACY_STEPS = {'cifar10': set(), 'mnist': {0, 1, 10}, 'fashion_mnist': {0, 1, 10}}


def parse_args():
    parser = data_helpers.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', choices=data_helpers.DATASETS, default='cifar10',
                        help='what to classify (default: %(default)s)')
    parser.add_argument('--learning_rate', type=data_helpers.positive_float,
                        help='gradient descent step size (default: 0.005; 0.5 for mnist '
                             'and fashion_mnist)')
    parser.add_argument('--max_steps', type=data_helpers.non_negative_int,
                        help='number of training steps (default: 1000)')
    parser.add_argument('--batch_size', type=data_helpers.positive_int,
                        help='random training images per step (default: 100)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='directory for the TensorBoard logs (default: %(default)s)')
    data_helpers.add_data_flags(parser, several_datasets=True)
    args = parser.parse_args()
    for flag, default in DEFAULTS[args.dataset].items():
        if getattr(args, flag) is None:
            setattr(args, flag, default)
    if args.data_dir is None:
        args.data_dir = data_helpers.default_data_dir(args.dataset)
    return args


def main():
    args = parse_args()
    beginTime = time.time()
    rng = data_helpers.set_seed(args.seed)

    # Prepare data: the image arrays go to TensorFlow as they are, without a copy.
    data_sets = data_helpers.load_data(args.data_dir, args.dataset)
    num_train = len(data_sets['labels_train'])
    data_helpers.check_batch_size(args.batch_size, num_train)
    images_train = data_helpers.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])
    image_pixels = data_sets['images_train'].shape[1]
    classes = len(data_sets['classes'])

    # The model's parameters: one weight per pixel and class, one bias per class,
    # all starting at zero.
    weights = tf.Variable(tf.zeros([image_pixels, classes]), name='weights')
    biases = tf.Variable(tf.zeros([classes]), name='biases')
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')

    # Put logs for each run in a separate directory, as run_fc_model.py does.
    logdir = os.path.join(args.train_dir, datetime.now().strftime('%Y%m%d-%H%M%S'))
    summary_writer = tf.summary.create_file_writer(logdir)

    def inference(images):
        """Class scores (logits) for each image: a weighted sum of its pixels."""
        return tf.matmul(images, weights) + biases

    def accuracy(logits, labels):
        """Fraction of images whose highest-scoring class is the true one."""
        correct_prediction = tf.equal(tf.argmax(logits, 1), labels)
        return tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    def train_step(indices):
        """One step of gradient descent on the images at `indices`.

        Returns the batch's accuracy before the step, as the tutorial printed it; every
        100th step also logs it and the loss for TensorBoard.
        """
        images = tf.gather(images_train, indices)
        labels = tf.gather(labels_train, indices)
        with tf.GradientTape() as tape:
            logits = inference(images)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits))
        train_accuracy = accuracy(logits, labels)
        with summary_writer.as_default(step=global_step), \
                tf.summary.record_if(global_step % 100 == 0):
            tf.summary.scalar('loss', loss)
            tf.summary.scalar('train_accuracy', train_accuracy)
        grad_weights, grad_biases = tape.gradient(loss, [weights, biases])
        weights.assign_sub(args.learning_rate * grad_weights)
        biases.assign_sub(args.learning_rate * grad_biases)
        global_step.assign_add(1)
        return train_accuracy

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64)])
    def train_steps(batch_indices):
        """Run train_step once per row of batch_indices, all in one graph call.

        Each call of a tf.function costs about a millisecond of overhead; running 100
        steps per call (as Keras' steps_per_execution does) pays it once per 100 steps.
        Returns the accuracy of the first batch.
        """
        first_accuracy = train_step(batch_indices[0])
        for k in tf.range(1, tf.shape(batch_indices)[0]):
            train_step(batch_indices[k])
        return first_accuracy

    test_images = data_helpers.to_tensor(data_sets['images_test'])

    def print_test_accuracy(test_accuracy):
        """The MNIST tutorial's report: accuracy on the whole test set, in percent."""
        print('Accuracy on test-set: {:.1%}'.format(float(test_accuracy)))

    test_steps = TEST_ACCURACY_STEPS[args.dataset]
    step = 0
    while step < args.max_steps:
        if step in test_steps:
            print_test_accuracy(accuracy(inference(test_images), data_sets['labels_test']))
        # Train up to the next multiple of 100 steps, or the next step to test at.
        stop = min([s for s in test_steps if s > step] +
                   [step - step % 100 + 100, args.max_steps])
        # A batch of random training images per step (drawn with replacement, as in
        # the tutorial).
        batch_indices = rng.integers(num_train, size=(stop - step, args.batch_size))
        train_accuracy = train_steps(batch_indices)
        if step % 100 == 0:
            print('Step {:5d}: training accuracy {:g}'.format(step, train_accuracy))
        step = stop

    # After training, evaluate on the test images the model has never seen.
    test_logits = inference(test_images)
    test_accuracy = accuracy(test_logits, data_sets['labels_test'])
    if test_steps:
        print_test_accuracy(test_accuracy)
    print('Test accuracy {:g}'.format(test_accuracy))

    # Which classes are confused, and what each class's weights look like.
    visualize.report_test_set(test_logits.numpy(), data_sets, summary_writer,
                              args.max_steps, templates=weights.numpy())
    summary_writer.close()

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    data_helpers.run(main)

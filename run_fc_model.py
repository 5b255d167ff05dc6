"""Part 2: train the two-layer network on CIFAR-10, with TensorBoard logs and checkpoints.

Builds the network of two_layer_fc.py, trains it with gradient descent on batches of
400 images, prints the training accuracy every 100 steps, and finally the accuracy on
the 10,000 test images (about 46 %). Each run gets its own folder in train_dir for its
TensorBoard logs and its checkpoints (one every 1000 steps).

    python run_fc_model.py --hidden1 120
    tensorboard --logdir=tf_logs
    python restore_model.py

Ctrl-C saves a checkpoint of the current step; --resume continues from it.
"""
import contextlib
import math
import time

from support import cli


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--learning_rate', type=cli.positive_float, default=0.001,
                        help='learning rate for the training (default: %(default)s)')
    parser.add_argument('--max_steps', type=cli.non_negative_int, default=2000,
                        help='number of steps to run trainer (default: %(default)s)')
    parser.add_argument('--hidden1', type=cli.positive_int, default=120,
                        help='number of units in hidden layer 1 (default: %(default)s)')
    parser.add_argument('--batch_size', type=cli.positive_int, default=400,
                        help='batch size; a divisor of 50000 uses every image in each '
                             'epoch (default: %(default)s)')
    parser.add_argument('--reg_constant', type=cli.non_negative_float, default=0.1,
                        help='regularization constant (default: %(default)s)')
    parser.add_argument('--input_scale', type=cli.positive_float, default=1.0,
                        help='multiply the centred pixels by this before layer 1: 0.015625 '
                             '(1/64) brings them to about unit size, so a larger '
                             'learning rate works (default: %(default)s, as the tutorial)')
    parser.add_argument('--resume', nargs='?', const='', metavar='RUN',
                        help='continue the newest run in train_dir, or the run named, '
                             'from its latest checkpoint, up to max_steps in all')
    cli.add_common_flags(parser)
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = cli.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import tensorflow as tf

import data_helpers
import two_layer_fc
from support import report, runs, training, zero_copy


def main(args):
    print('\nParameters:')
    for attr, value in sorted(vars(args).items()):
        print('{} = {}'.format(attr, value))
    print()

    beginTime = time.time()
    rng = training.set_seed(args.seed)

    # Load CIFAR-10 data (the images as bytes; the mean image is subtracted below).
    data_sets = data_helpers.load_data(args.data_dir)
    num_train, image_pixels = data_sets['images_train'].shape
    cli.check_batch_size(args.batch_size, num_train)
    images_train = zero_copy.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])
    mean_image = tf.constant(data_sets['mean_image'])

    # The network, and a checkpoint of it (weights and global step) in the run's folder.
    model = two_layer_fc.TwoLayerFC(image_pixels, args.hidden1, len(data_sets['classes']),
                                    reg_constant=args.reg_constant,
                                    input_scale=args.input_scale)
    checkpoint = tf.train.Checkpoint(model=model)
    if args.resume is None:
        run = runs.new_run(args.train_dir, runs.run_name('fc', args, parse_args([])))
    else:
        run = runs.find_run(args.train_dir, args.resume or None, model='fc',
                            hint='train one first with python run_fc_model.py')
        run.lock()
        _, hidden_units = runs.variable_shapes(run.latest_checkpoint())['model/weights1']
        if hidden_units != args.hidden1:
            raise cli.InputError('run %s has %d hidden units: resume it with --hidden1 %d'
                                 % (run.name, hidden_units, hidden_units))
        run.restore(checkpoint)
        if not math.isclose(float(model.input_scale), args.input_scale, rel_tol=1e-6):
            raise cli.InputError('run %s was trained with --input_scale %g: resume it with '
                                 'that' % (run.name, float(model.input_scale)))
        print('Resuming run {} from step {}'.format(run.name, int(model.global_step)))
    print('Logs and checkpoints go to {}\n'.format(run.path))

    def centred(images):
        # load_data() left the images as bytes: subtract the mean training image here.
        return (tf.cast(images, tf.float32) - mean_image) * model.input_scale

    def train_step(indices):
        images = centred(tf.gather(images_train, indices))
        labels = tf.gather(labels_train, indices)
        with tf.GradientTape() as tape:
            logits = two_layer_fc.inference(images, model)
            loss = two_layer_fc.loss(logits, labels, model)
        accuracy = two_layer_fc.evaluation(logits, labels)
        two_layer_fc.training(tape, loss, model, args.learning_rate)
        return loss, accuracy

    # Generate input data batches, one epoch after another.
    steps_left = max(args.max_steps - int(model.global_step), 0)
    batches = data_helpers.gen_batch(num_train, args.batch_size, steps_left, rng)
    with contextlib.closing(tf.summary.create_file_writer(run.path)) as summary_writer:
        runs.log_hparams(summary_writer, 'fc', run, args)
        training.train(train_step, model.global_step, batches, args.max_steps,
                       summary_writer, run=run, checkpoint=checkpoint,
                       resume_hint='--resume ' + run.name)

        # After finishing the training, evaluate on the test set.
        test_logits = training.predict(lambda images: two_layer_fc.inference(
            centred(images), model), zero_copy.to_tensor(data_sets['images_test']))
        test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
        print('Test accuracy {:g}'.format(test_accuracy))
        report.test_set(test_logits.numpy(), data_sets, summary_writer, model.global_step)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    cli.run(main, args)

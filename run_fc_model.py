"""Part 2: train the two-layer network on CIFAR-10, with TensorBoard logs and checkpoints.

Builds the network of two_layer_fc.py, trains it with gradient descent on batches of
400 images, prints the training accuracy every 100 steps, and finally the accuracy on
the 10,000 test images (about 46 %). Each run gets its own folder in train_dir for its
TensorBoard logs and its checkpoints (one every 1000 steps).

    python run_fc_model.py --hidden1 120
    tensorboard --logdir=tf_logs
    python restore_model.py

Ctrl-C (or SIGTERM) saves a checkpoint of the current step; --resume continues the run
exactly where it stopped, with the flags it was started with.
"""
import contextlib
import time

from support import cli, run_record, script, small_data


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--learning_rate', type=cli.positive_float, default=0.001,
                        help='learning rate for the training (default: %(default)s)')
    parser.add_argument('--max_steps', type=cli.positive_int, default=2000,
                        help='number of steps to run trainer (default: %(default)s)')
    parser.add_argument('--hidden1', type=cli.positive_int, default=120,
                        help='number of units in hidden layer 1 (default: %(default)s)')
    parser.add_argument('--batch_size', type=cli.positive_int,
                        default=small_data.default(400),
                        help='batch size; a divisor of 50000 uses every image in each '
                             'epoch (default: %(default)s, or a tenth of the training '
                             'images where that is fewer)')
    parser.add_argument('--reg_constant', type=cli.non_negative_float, default=0.1,
                        help='regularization constant (default: %(default)s)')
    parser.add_argument('--input_scale', type=cli.positive_float, default=1.0,
                        help='multiply the centred pixels by this before layer 1: 0.015625 '
                             '(1/64) brings them to about unit size, so a larger '
                             'learning rate works (default: %(default)s, as the tutorial)')
    cli.add_common_flags(parser, checkpoint_every=1000)
    return run_record.parse_flags(parser, argv, 'fc')


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import tensorflow as tf

import data_helpers
import two_layer_fc
from support import loop, report, zero_copy


def main(args):
    beginTime = time.time()
    loop.set_seed(args.seed)

    # Load CIFAR-10 data, or your own images (as bytes; the mean image is subtracted below)
    data_sets = data_helpers.load_data(args.data_dir, args.image_size, args.test_fraction)
    num_train, image_pixels = data_sets['images_train'].shape
    # Batches of 400 images, or of a tenth of the training images where that is fewer
    small_data.fit_batch(args, num_train)
    images_train = zero_copy.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])
    mean_image = tf.Variable(data_sets['mean_image'], trainable=False)

    # The network, and a checkpoint of it (weights, global step, and the mean image: a
    # run classifies a photo without its training data) in the run's folder.
    model = two_layer_fc.TwoLayerFC(image_pixels, args.hidden1, len(data_sets['classes']),
                                    reg_constant=args.reg_constant,
                                    input_scale=args.input_scale)
    checkpoint = tf.train.Checkpoint(model=model, mean_image=mean_image)
    run = run_record.open_run(args, 'fc', data_sets)
    print('\nParameters:')
    for attr, value in sorted(vars(args).items()):
        print('{} = {}'.format(attr, value))
    print()
    if args.resume:
        run.restore(checkpoint)
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

    # The run's folder is ours (locked) until the logs are written and closed.
    with run, contextlib.closing(tf.summary.create_file_writer(run.path)) as summary_writer:
        run_record.log_hparams(summary_writer, 'fc', run, args)
        train_step = loop.step_function(train_step, summary_writer, model.global_step,
                                        run)

        # Generate input data batches (from where a resumed run stopped)
        first_step = int(model.global_step)
        batches = data_helpers.gen_batch(num_train, args.batch_size,
                                         args.max_steps - first_step, args.seed, first_step)

        # Ctrl-C or SIGTERM: save a checkpoint after the step under way and stop.
        for i in loop.steps(model.global_step, args.max_steps, run, checkpoint,
                            run.resume_command('run_fc_model.py', args.train_dir)):
            # Get next input data batch
            indices = next(batches)

            # Perform a single training step (summaries go to TensorBoard every 100)
            loss, train_accuracy = train_step(indices)

            # Periodically print out the model's current accuracy
            if i % 100 == 0:
                print('Step {:d}, training accuracy {:.4f}'.format(i, train_accuracy))

            # Periodically save checkpoint, and at the last step
            if (i + 1) % args.checkpoint_every == 0 or i + 1 == args.max_steps:
                print('Saved checkpoint', run.save(checkpoint, i + 1))

        # After finishing the training, evaluate on the test set.
        test_logits = loop.predict(lambda images: two_layer_fc.inference(
            centred(images), model), zero_copy.to_tensor(data_sets['images_test']))
        test_accuracy = two_layer_fc.evaluation(test_logits, data_sets['labels_test'])
        print('Test accuracy {:.4f}'.format(test_accuracy))
        report.test_set(test_logits.numpy(), data_sets, summary_writer, model.global_step)
        run_record.finish(run, args.max_steps, test_accuracy)  # --resume: nothing to do

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    script.run(main, args)

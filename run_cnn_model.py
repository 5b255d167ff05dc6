"""Part 3: train the convolutional network on CIFAR-10, about 92 % in 13 epochs.

Builds the network of cnn.py and trains it as run_fc_model.py trains Part 2's, with
what the fastest CIFAR-10 trainers (airbench) found makes a small network learn in a
few epochs: batch normalisation and a first layer computed from the data (in cnn.py),
flips and shifts of the training images, Nesterov momentum, a learning rate that rises
for the first 23% of the steps and then falls, label smoothing, and lookahead (an
average of the weights that training keeps returning to). The test images are
classified as they are, mirrored and shifted by a pixel, and the scores averaged.

    python run_cnn_model.py
    tensorboard --logdir=tf_logs
    python restore_model.py

Ctrl-C (or SIGTERM) saves a checkpoint of the current step; --resume continues the run
exactly where it stopped, with the flags it was started with. With TF_CONFIG set, the
process is one worker of a cluster of machines (README, "Several machines").
"""
import contextlib
import time

from support import cli, run_record, script, small_data


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--learning_rate', type=cli.positive_float,
                        default=small_data.default(1.5),
                        help='the highest learning rate, reached after --warmup; '
                             'scale it with --batch_size (default: %(default)s)')
    parser.add_argument('--warmup', type=cli.fraction, default=0.23,
                        help='share of the steps over which the learning rate rises '
                             'from a fifth of --learning_rate (default: %(default)s)')
    parser.add_argument('--final_rate', type=cli.fraction, default=0.07,
                        help='the learning rate at the last step, as a share of '
                             '--learning_rate (default: %(default)s)')
    parser.add_argument('--spectral_rate', type=cli.non_negative_float, default=0.0,
                        help='step size of spectral steps for the convolutions\' filters '
                             '(cnn.training(); 0.24 for record runs); 0: gradient '
                             'descent, as the other weights (default: %(default)s)')
    parser.add_argument('--max_steps', type=cli.positive_int, default=650,
                        help='number of steps to run trainer (default: %(default)s)')
    parser.add_argument('--small_steps', type=cli.non_negative_int, default=0,
                        help='progressive resizing: the first this many steps train on '
                             'random --small_size crops of the images, which cost '
                             '(small_size/side)**2 of a full step (side 32 for '
                             'CIFAR-10); the rest see whole images, as the test does '
                             '(default: %(default)s)')
    parser.add_argument('--small_size', type=cli.positive_int, default=24,
                        help='side in pixels of the crops of --small_steps '
                             '(default: %(default)s)')
    parser.add_argument('--channels', type=cli.positive_int, default=48,
                        help='channels of the first block of convolutions; the other '
                             'two have twice as many, or --later_channels '
                             '(default: %(default)s)')
    parser.add_argument('--later_channels', type=cli.positive_int,
                        help='channels of the second and third blocks, for record runs '
                             '(default: twice --channels)')
    parser.add_argument('--activation', choices=['relu', 'gelu'], default='relu',
                        help='the blocks\' activation: gelu (airbench\'s) learns a little '
                             'more per epoch, but slower on a CPU (default: %(default)s)')
    parser.add_argument('--batch_size', type=cli.positive_int,
                        default=small_data.default(1000),
                        help='batch size; a divisor of 50000 uses every image in each '
                             'epoch (default: %(default)s, or a tenth of the training '
                             'images where that is fewer; below 200, --learning_rate is '
                             'scaled alike, x batch/200)')
    parser.add_argument('--reg_constant', type=cli.non_negative_float, default=1.33e-3,
                        help='regularization constant (default: %(default)s)')
    parser.add_argument('--label_smoothing', type=cli.fraction, default=0.2,
                        help='share of each target spread over all classes '
                             '(default: %(default)s)')
    parser.add_argument('--momentum', type=cli.fraction, default=0.85,
                        help='momentum of gradient descent (default: %(default)s)')
    parser.add_argument('--no_whitening', action='store_true',
                        help='learn the first layer instead of computing it from the '
                             'data (to measure what whitening adds)')
    parser.add_argument('--no_lookahead', action='store_true',
                        help='train without lookahead (to measure what it adds)')
    parser.add_argument('--random_flips', action='store_true',
                        help='flip each image at random in each epoch instead of every '
                             'other epoch (to measure what alternating adds)')
    parser.add_argument('--dtype', choices=['auto', 'float32', 'bfloat16'], default='auto',
                        help='what the convolutions compute in: auto is bfloat16 where '
                             'the hardware has it (default: %(default)s)')
    cli.add_common_flags(parser, checkpoint_every=100)
    return run_record.parse_flags(parser, argv, 'cnn')


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import numpy as np
import tensorflow as tf

import cnn
import data_helpers
from support import devices, loop, report, zero_copy
from support.errors import InputError


def schedule(step, args):
    """The share of the highest learning rate at a step: rise linearly from a fifth
    over the first 23% of the steps (--warmup), then fall linearly to 7% (--final_rate)
    at the last."""
    progress, warmup = tf.cast(step, tf.float32) / args.max_steps, args.warmup
    return tf.where(progress < warmup, 0.2 + 0.8 * progress / warmup,
                    1 - (1 - args.final_rate) * (progress - warmup) / (1 - warmup))


def main(args):
    # This machine's device(s), or with TF_CONFIG one worker of a cluster (README).
    strategy = devices.strategy()
    args.dtype = devices.compute_dtype(args.dtype, explain=True).name  # auto: says why
    args.seed = devices.agree(strategy, args)  # a cluster trains with the chief's seed
    beginTime = time.time()
    loop.set_seed(args.seed)

    # Load CIFAR-10 data, or your own images (as bytes; cnn.to_images() centres them).
    data_sets = data_helpers.load_data(args.data_dir, args.image_size, args.test_fraction)
    num_train = len(data_sets['images_train'])
    # Batches of 1000 images, or of a tenth of the training images where that is fewer
    # (and below 200 images, the learning rate scaled alike: support/small_data.py)
    small_data.fit_batch(args, num_train, scale_rate=True)
    if args.batch_size < strategy.num_replicas_in_sync:
        raise InputError('--batch_size must be at least the number of devices (%d)'
                         % strategy.num_replicas_in_sync)
    side = cnn.image_side(data_sets['images_train'])
    if args.small_steps and not 9 <= args.small_size <= side:  # 9: a last pixel left
        raise InputError('--small_size must be from 9 to the images\' size (%d)' % side)
    images_train = zero_copy.to_tensor(data_sets['images_train'])
    labels_train = tf.constant(data_sets['labels_train'])
    mean_image = tf.Variable(data_sets['mean_image'], trainable=False)

    # The network, and a checkpoint of it (weights, momentum, global step, the mean
    # image: a run classifies a photo without its training data). Its first
    # layer whitens the 2x2 patches of 5000 training images from all over the training
    # set (a folder's are sorted by class); of larger images, fewer, for as many pixels.
    count = min(num_train, 5000 * 3072 // images_train.shape[1])
    sample = data_sets['images_train'][np.linspace(0, num_train - 1, count).astype(int)]
    whitening = None if args.no_whitening else cnn.whitening_filters(
        cnn.to_images(sample, mean_image).numpy())
    with strategy.scope():
        model = cnn.CNN(args.channels, len(data_sets['classes']), whitening,
                        reg_constant=args.reg_constant, dtype=tf.as_dtype(args.dtype),
                        later_channels=args.later_channels, activation=args.activation,
                        spectral=args.spectral_rate > 0)
    checkpoint = tf.train.Checkpoint(model=model, mean_image=mean_image)
    run = run_record.open_run(args, 'cnn', data_sets, chief=devices.is_chief(strategy))
    print('\nParameters:')
    for attr, value in sorted(vars(args).items()):
        print('{} = {}'.format(attr, value))
    print()
    if args.resume:
        run.restore(checkpoint)
        print('Resuming run {} from step {}'.format(run.name,
                                                    int(model.global_step.numpy())))
    print('Logs and checkpoints go to {}\n'.format(run.path))

    # Flips: each image is flipped at random in the first epoch, and in every other
    # epoch after that, so the network sees both sides of each image equally often.
    batches_per_epoch = num_train // args.batch_size
    first_flips = tf.random.stateless_uniform(
        [num_train], tf.constant([args.seed, -1], tf.int64)) < 0.5

    def flips(indices, seed):
        if args.random_flips:
            return tf.random.stateless_uniform(
                tf.shape(indices), tf.random.experimental.stateless_fold_in(seed, 1)) < 0.5
        odd_epoch = model.global_step // batches_per_epoch % 2 == 1
        return tf.not_equal(tf.gather(first_flips, indices), odd_epoch)

    # Lookahead every 5 steps after the first 3 epochs, keeping more of the average
    # as training ends: decay 0.95**5 * (step / max_steps)**3.
    lookahead_start = (3 * batches_per_epoch // 5 + 1) * 5

    def lookahead_at(step):
        active = (step >= lookahead_start) & ((step % 5 == 0) | (step == args.max_steps))
        decay = 0.95**5 * (tf.cast(step, tf.float32) / args.max_steps)**3
        cnn.lookahead(model, tf.where(step == lookahead_start, 0.0, decay), active)

    def replica_step(indices, size):
        # With several devices, each takes its share of the batch, and its own
        # shifts: random numbers that depend on the seed and step only.
        replica = tf.distribute.get_replica_context()
        replicas = replica.num_replicas_in_sync
        indices = indices[replica.replica_id_in_sync_group::replicas]
        seed = tf.stack([tf.constant(args.seed, tf.int64), model.global_step * replicas +
                         tf.cast(replica.replica_id_in_sync_group, tf.int64)])
        images = cnn.augment(cnn.to_images(tf.gather(images_train, indices), mean_image),
                             flips(indices, seed), seed, size)
        labels = tf.gather(labels_train, indices)
        with tf.GradientTape() as tape:
            logits = cnn.inference(images, model, training=True)
            loss = cnn.loss(logits, labels, model, args.label_smoothing)
        accuracy = cnn.evaluation(logits, labels)
        share = schedule(model.global_step, args)
        cnn.training(tape, loss, model, args.learning_rate * share, args.momentum,
                     args.spectral_rate * share)
        if not args.no_lookahead:
            lookahead_at(model.global_step)
        return loss, accuracy

    def train_step(indices, size):
        losses, accuracies = strategy.run(replica_step, args=(indices, size))
        return (strategy.reduce('MEAN', losses, axis=None),
                strategy.reduce('MEAN', accuracies, axis=None))

    # The run's folder is ours (locked) until the logs are written and closed.
    with run, contextlib.closing(tf.summary.create_file_writer(run.path)) as summary_writer:
        run_record.log_hparams(summary_writer, 'cnn', run, args)
        # Progressive resizing: one graph for the steps on small crops, one for the rest.
        train_step = loop.step_function(
            train_step, summary_writer, model.global_step, run,
            variant_at=lambda step: args.small_size if step < args.small_steps else None)
        progress = loop.Progress(args.batch_size, num_train, args.max_steps)

        # Generate input data batches (from where a resumed run stopped)
        first_step = int(model.global_step.numpy())
        batches = data_helpers.gen_batch(num_train, args.batch_size,
                                         args.max_steps - first_step, args.seed, first_step)

        # Ctrl-C or SIGTERM: save a checkpoint after the step under way and stop.
        for i in loop.steps(model.global_step, args.max_steps, run, checkpoint,
                            run.resume_command('run_cnn_model.py', args.train_dir)):
            # Get next input data batch
            indices = next(batches)

            # Perform a single training step (summaries go to TensorBoard every 100)
            loss, train_accuracy = train_step(indices)

            # Periodically print out the model's current accuracy, and the speed
            if i % 100 == 0:
                print('Step {:d}, training accuracy {:.4f}{}'.format(
                    i, train_accuracy, progress(i)), flush=True)

            # Periodically save checkpoint, and at the last step
            if (i + 1) % args.checkpoint_every == 0 or i + 1 == args.max_steps:
                print('Saved checkpoint', run.save(checkpoint, i + 1))

        # After finishing the training, evaluate on the test set (and only then call
        # the run finished: stopped before, --resume scores it).
        test_logits = loop.predict(
            lambda rows: cnn.test_logits(cnn.to_images(rows, mean_image), model),
            zero_copy.to_tensor(data_sets['images_test']), what=cnn.TEST_VIEWS)
        test_accuracy = cnn.evaluation(test_logits, data_sets['labels_test'])
        print('Test accuracy {:.4f}'.format(test_accuracy))
        report.test_set(test_logits.numpy(), data_sets, summary_writer, model.global_step,
                        filters=model.whitening.numpy())
        run_record.finish(run, args.max_steps, test_accuracy)

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    script.run(main, args)

"""Your own photos: a new last layer on a network pretrained on ImageNet (pretrained.py).

For a folder of a few hundred photos, one subfolder per class: from scratch, Part 3's
network gets 0.77 on 398 photos of ants and bees; this gets 0.94, in 11 s on 2 CPU
cores (docs/images.md). The photos are read at 224 x 224 pixels, the size the network was
trained at; the pretrained MobileNetV2 turns each, and its mirror image, into 1280
features once, and only the new last layer trains, on those features. Not for CIFAR-10:
its 32 x 32 images, enlarged, are blurs to the pretrained network, and Part 3's network
trained on them from scratch does better (0.92 against 0.84: docs/images.md).

    python run_pretrained_model.py --data_dir my_photos
    python predict_image.py photo.jpg
    python export_model.py

Ctrl-C (or SIGTERM) saves a checkpoint of the current step; --resume continues the run
exactly where it stopped, with the flags it was started with.
"""
import contextlib
import time

from support import cli, run_record, script, small_data

WHEN = ('Use it for a folder of photos of everyday things, tens to thousands a class '
        '(ImageNet\'s kind of photo): 0.94 on 245 photos of ants and bees, where '
        'run_cnn_model.py gets 0.77. Not for CIFAR-10: its 32 x 32 images, enlarged, '
        'are blurs to MobileNetV2 (0.84, where run_cnn_model.py gets 0.92 in about the '
        'same time: docs/images.md).')


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0], epilog=WHEN)
    parser.add_argument('--learning_rate', type=cli.positive_float, default=0.01,
                        help='learning rate at the first step; it falls linearly to 0 at '
                             'the last (default: %(default)s)')
    parser.add_argument('--max_steps', type=cli.positive_int, default=300,
                        help='number of steps to run trainer (default: %(default)s)')
    parser.add_argument('--batch_size', type=cli.positive_int,
                        default=small_data.default(100),
                        help='batch size, in views of the training images (each image '
                             'and its mirror image) (default: %(default)s, or a tenth of '
                             'the views where that is fewer)')
    parser.add_argument('--reg_constant', type=cli.non_negative_float, default=0.01,
                        help='regularization constant (default: %(default)s)')
    parser.add_argument('--label_smoothing', type=cli.fraction, default=0.1,
                        help='share of each target spread over all classes '
                             '(default: %(default)s)')
    parser.add_argument('--momentum', type=cli.fraction, default=0.9,
                        help='momentum of gradient descent (default: %(default)s)')
    cli.add_common_flags(parser, checkpoint_every=100,
                         default_image_size=small_data.default(224))
    return run_record.parse_flags(parser, argv, 'pretrained')


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

import tensorflow as tf

import data_helpers
import pretrained
from support import image_folder, loop, report, zero_copy


def main(args):
    beginTime = time.time()
    loop.set_seed(args.seed)
    base = pretrained.MobileNetV2()  # first: without its weights file, nothing to do

    # Load your photos at 224 x 224 (or CIFAR-10, 32 x 32: features() enlarges them)
    if not image_folder.is_image_folder(args.data_dir) and \
            isinstance(args.image_size, small_data.DefaultInt):
        args.image_size = 32
    data_sets = data_helpers.load_data(args.data_dir, args.image_size, args.test_fraction)

    # The pretrained network's features of each training image and of its mirror
    # image, computed once: the network does not change while the last layer trains.
    @tf.function
    def views(images):
        return tf.stack([pretrained.features(images, base),
                         pretrained.features(tf.reverse(images, axis=[2]), base)], axis=1)
    features_train = loop.predict(lambda rows: views(pretrained.to_images(rows)),
                                  zero_copy.to_tensor(data_sets['images_train']),
                                  batch_size=100, what='training ' + pretrained.VIEWS)
    features_train = tf.reshape(features_train, [-1, pretrained.FEATURES])
    labels_train = tf.repeat(tf.constant(data_sets['labels_train']), 2)
    num_train = len(features_train)
    # Batches of 100 views, or of a tenth of them where that is fewer
    small_data.fit_batch(args, num_train)

    # The new last layer, and a checkpoint of it (the pretrained network ships with the
    # project, and its weights file is checked to be the same wherever a run is used).
    head = pretrained.Head(len(data_sets['classes']), reg_constant=args.reg_constant)
    checkpoint = tf.train.Checkpoint(model=head)
    run = run_record.open_run(args, 'pretrained', data_sets)
    print('\nParameters:')
    for attr, value in sorted(vars(args).items()):
        print('{} = {}'.format(attr, value))
    print()
    if args.resume:
        run.restore(checkpoint)
        print('Resuming run {} from step {}'.format(run.name, int(head.global_step)))
    print('Logs and checkpoints go to {}\n'.format(run.path))

    def train_step(indices):
        features = tf.gather(features_train, indices)
        labels = tf.gather(labels_train, indices)
        with tf.GradientTape() as tape:
            logits = pretrained.inference(features, head)
            loss = pretrained.loss(logits, labels, head, args.label_smoothing)
        accuracy = pretrained.evaluation(logits, labels)
        share = 1 - tf.cast(head.global_step, tf.float32) / args.max_steps
        pretrained.training(tape, loss, head, args.learning_rate * share, args.momentum)
        return loss, accuracy

    # The run's folder is ours (locked) until the logs are written and closed.
    with run, contextlib.closing(tf.summary.create_file_writer(run.path)) as summary_writer:
        run_record.log_hparams(summary_writer, 'pretrained', run, args)
        train_step = loop.step_function(train_step, summary_writer, head.global_step,
                                        run)

        # Generate input data batches (from where a resumed run stopped)
        first_step = int(head.global_step)
        batches = data_helpers.gen_batch(num_train, args.batch_size,
                                         args.max_steps - first_step, args.seed, first_step)

        # Ctrl-C or SIGTERM: save a checkpoint after the step under way and stop.
        for i in loop.steps(head.global_step, args.max_steps, run, checkpoint,
                            run.resume_command('run_pretrained_model.py', args.train_dir)):
            # Get next input data batch, and perform a single training step
            loss, train_accuracy = train_step(next(batches))

            # Periodically print out the model's current accuracy
            if i % 100 == 0:
                print('Step {:d}, training accuracy {:.4f}'.format(i, train_accuracy))

            # Periodically save checkpoint, and at the last step
            if (i + 1) % args.checkpoint_every == 0 or i + 1 == args.max_steps:
                print('Saved checkpoint', run.save(checkpoint, i + 1))

        # After finishing the training, evaluate on the test set.
        scores = tf.function(lambda images: pretrained.test_logits(images, base, head))
        test_logits = loop.predict(lambda rows: scores(pretrained.to_images(rows)),
                                   zero_copy.to_tensor(data_sets['images_test']),
                                   batch_size=100, what='test ' + pretrained.VIEWS)
        test_accuracy = pretrained.evaluation(test_logits, data_sets['labels_test'])
        print('Test accuracy {:.4f}'.format(test_accuracy))
        report.test_set(test_logits.numpy(), data_sets, summary_writer, head.global_step)
        run_record.finish(run, args.max_steps, test_accuracy)  # --resume: nothing to do

    endTime = time.time()
    print('Total time: {:5.2f}s'.format(endTime - beginTime))


if __name__ == '__main__':
    script.run(main, args)

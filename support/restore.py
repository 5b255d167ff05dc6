"""A recorded run's network rebuilt from its folder alone, ready to classify.

For restore_model.py, predict_image.py and export_model.py: the network its flags.json
names, restored from its newest checkpoint, which holds the mean image beside the
weights; the classes and image size it recorded. Only restore_model.py needs data from
outside the run: test_data().
"""
import os

import tensorflow as tf

import cnn
import data_helpers
import pretrained
import two_layer_fc
from support import run_record, runs
from support.errors import InputError


class Network:
    """A trained run's network, ready to classify.

    Attributes:
      kind: 'fc' (Part 2), 'cnn' (Part 3) or 'pretrained' (run_pretrained_model.py).
      model: the TwoLayerFC, CNN or pretrained.Head, restored.
      base: for 'pretrained', the pretrained.MobileNetV2 under the head; else None.
      mean_image: float32 tf.Variable [3 * image_size**2]: the mean training image,
        a red, a green and a blue plane, as load_data() returns it.
      classes: the class names, in the order of the network's scores.
      image_size: the side of the square images it takes (32 for CIFAR-10).
      step: the training step of the checkpoint.
      description: the network's size, as lines to print.
      views: what logits() looks at, for loop.predict()'s progress: Part 3's test
        views (cnn.TEST_VIEWS), or None for Part 2's one look, which takes no time.
      batch_size: images logits() takes at a time (the pretrained network's
        activations of 100 photos at 224 x 224 take 500 MB).
    """

    def __init__(self, run, dtype=None):
        """Restore run's newest checkpoint; dtype overrides what Part 3's convolutions
        compute in (export_model.py: float32).

        Raises:
          InputError: a run whose flags.json or checkpoint is damaged, or a run of
            softmax.py, which keeps no checkpoint.
        """
        path = run.latest_checkpoint()
        record = run_record.read(run)
        self.kind, self.classes = record.model, record.classes
        if self.kind not in ('fc', 'cnn', 'pretrained'):
            raise InputError('run %s is not a network of run_fc_model.py, '
                             'run_cnn_model.py or run_pretrained_model.py: pick one of '
                             'those with --run' % run.name)
        try:
            self.image_size = int(record.flags['image_size'])
            self.model, self.description = build(self.kind, record.flags,
                                                 len(self.classes), self.image_size, dtype)
        except (KeyError, TypeError, ValueError):
            raise InputError('the flags.json of run %s is not what %s records: it is '
                             'damaged; train it again'
                             % (run.name, runs.SCRIPTS[self.kind]))
        self.mean_image = tf.Variable(tf.zeros([3 * self.image_size**2]), trainable=False)
        self.base, self.batch_size = None, 1000
        if self.kind == 'pretrained':  # the project's weights file, and the new layer
            self.base, self.batch_size = pretrained.MobileNetV2(), 100
            checkpoint = tf.train.Checkpoint(model=self.model)
        else:
            checkpoint = tf.train.Checkpoint(model=self.model, mean_image=self.mean_image)
        run.restore(checkpoint, path)
        self.step = int(self.model.global_step.numpy())
        self.views = {'cnn': cnn.TEST_VIEWS, 'pretrained': 'test ' + pretrained.VIEWS,
                      'fc': None}[self.kind]

    def logits(self, rows):
        """load_data()'s uint8 image rows -> logits, prepared as in training."""
        if self.base is not None:
            return pretrained.test_logits(pretrained.to_images(rows), self.base, self.model)
        if isinstance(self.model, cnn.CNN):
            return cnn.test_logits(cnn.to_images(rows, self.mean_image), self.model)
        return two_layer_fc.inference(
            (tf.cast(rows, tf.float32) - self.mean_image) * self.model.input_scale,
            self.model)

    def probabilities(self, images):
        """uint8 RGB images [count, image_size, image_size, 3] -> the probability of
        each class [count, classes]."""
        rows = tf.transpose(images, [0, 3, 1, 2])  # a red, a green and a blue plane
        return tf.nn.softmax(self.logits(tf.reshape(rows, [-1, 3 * self.image_size**2])))


def build(kind, flags, classes, image_size, dtype=None):
    """The network flags.json describes, not yet restored, and its size as lines."""
    if kind == 'fc':  # Part 2's two-layer network
        return (two_layer_fc.TwoLayerFC(3 * image_size**2, flags['hidden1'], classes),
                'hidden1 = {}'.format(flags['hidden1']))
    if kind == 'pretrained':  # a new last layer on the pretrained MobileNetV2
        return pretrained.Head(classes), 'network = MobileNetV2 (pretrained), a new layer'
    # A whitened first layer is not learned: a placeholder, restored like the rest.
    whitening = None if flags['no_whitening'] else tf.zeros([2, 2, 3, cnn.WHITENING_WIDTH])
    later_channels = flags['later_channels'] or 2 * flags['channels']
    model = cnn.CNN(flags['channels'], classes, whitening,
                    dtype=tf.as_dtype(dtype or flags['dtype']),
                    later_channels=later_channels, activation=flags['activation'])
    return model, 'channels = {}\nlater_channels = {}\nactivation = {}'.format(
        flags['channels'], later_channels, flags['activation'])


def test_data(run, data_dir=None):
    """The data the run trained on (or data_dir), read as it was read for the run and
    checked to hold the classes the run learned. Nothing is downloaded.

    Raises:
      InputError: the folder is missing, or holds other classes.
    """
    flags = run_record.read(run).flags
    data_dir = data_dir or flags['data_dir']
    if not os.path.isdir(data_dir):
        raise InputError('run %s tests on the images in %s, which is not there: pass '
                         '--data_dir the folder that holds them' % (run.name, data_dir))
    data_sets = data_helpers.load_data(data_dir, int(flags['image_size']),
                                       float(flags['test_fraction']))
    run_record.check_data(run, data_sets, data_dir)
    return data_sets

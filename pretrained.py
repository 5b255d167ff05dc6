"""Your own photos: a network pretrained on ImageNet, and a new last layer for your classes.

A few hundred photos are too few to learn from scratch what Part 3's network learns
from CIFAR-10's 50,000 images. But the early layers of any network trained on many
photos come to detect the same things (edges, textures, fur, eyes, wheels); only the
last layer decides which of them make each class. Transfer learning keeps such a
network, trained on ImageNet's 1.3 million photos of 1000 classes, frozen, and trains
only a new last layer on your photos: Part 1's softmax classifier, given the network's
1280 features of each photo instead of its pixels.

The network is MobileNetV2 (Sandler et al., 2018), built for phones: a 3x3
convolution, then 17 blocks that each widen the channels six times with a 1x1
convolution, filter each channel on its own with a 3x3 (depthwise) convolution and
narrow them again with a 1x1 convolution, adding the block's input back where the
shape allows; a 1x1 convolution to 1280 channels, averaged over the image, gives the
features. Its weights are weights/tf2_mobilenet_v2_1.0_224_ptq.tflite (weights/README.md
says where it comes from), 8-bit numbers read here as float32, each convolution's batch
normalisation already folded into its bias.
"""
import hashlib
import math
import os

import numpy as np
import tensorflow as tf

# Accuracy does not depend on the network: evaluation() is Part 2's, unchanged.
from two_layer_fc import evaluation  # noqa: F401
from support.errors import InputError

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'weights',
                       'tf2_mobilenet_v2_1.0_224_ptq.tflite')
SHA256 = '5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c'
IMAGE_SIZE = 224  # the network saw ImageNet's photos at 224 x 224 pixels
FEATURES = 1280
HALVING_BLOCKS = {2, 4, 7, 14}  # blocks of stride 2: 112 -> 56 -> 28 -> 14 -> 7 pixels
VIEWS = 'images, each seen 2 ways (mirrored) by the pretrained network'


class MobileNetV2(tf.Module):
    """The pretrained network, frozen: its 53 convolutions' filters and biases (the
    last one gives ImageNet's 1001 scores, 0 = background), as the weights file holds
    them."""

    def __init__(self, path=None):
        super().__init__(name='mobilenet_v2')
        layers = read_weights(path or WEIGHTS)
        self.filters = [tf.Variable(f, trainable=False, name='filters') for f, _ in layers]
        self.biases = [tf.Variable(b, trainable=False, name='bias') for _, b in layers]


def read_weights(path):
    """The convolutions of the TFLite file at path, in order, as float32 (filters in
    TensorFlow's layout [height, width, inputs, outputs] or, for depthwise ones,
    [height, width, channels, 1]; biases [outputs]).

    Raises:
      InputError: the file is missing or not the one the project ships.
    """
    fix = 'restore it with git checkout -- weights, or clone the project again'
    try:
        with open(path, 'rb') as f:
            content = f.read(8 << 20)
    except OSError as e:
        raise InputError('the pretrained network\'s weights %s cannot be read (%s): %s'
                         % (path, e.strerror or e, fix))
    if hashlib.sha256(content).hexdigest() != SHA256:
        raise InputError('%s is not the MobileNetV2 file the project ships (its SHA-256 '
                         'differs): %s' % (path, fix))
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    layers = []
    for tensor, bias in zip(tensors, tensors[1:]):
        # A convolution's 8-bit filters have a scale per output channel; its int32
        # bias follows it.
        quantization = tensor['quantization_parameters']
        if tensor['dtype'] != np.int8 or len(quantization['scales']) < 2:
            continue
        axis, shape = quantization['quantized_dimension'], [1, 1, 1, 1]
        shape[axis] = -1
        filters = ((interpreter.get_tensor(tensor['index']).astype(np.float32)
                    - quantization['zero_points'].reshape(shape))
                   * quantization['scales'].reshape(shape))
        layers.append((filters.transpose(1, 2, 3, 0).astype(np.float32),
                       (interpreter.get_tensor(bias['index'])
                        * bias['quantization_parameters']['scales']).astype(np.float32)))
    return layers


def to_images(rows):
    """load_data()'s rows (a red, a green and a blue plane each) as float32 images
    [count, size, size, 3], RGB 0-255, as features() takes them."""
    size = math.isqrt(rows.shape[-1] // 3)  # the images are square
    rows = tf.reshape(tf.cast(rows, tf.float32), [-1, 3, size, size])
    return tf.transpose(rows, [0, 2, 3, 1])


def features(images, base):
    """The pretrained network's 1280 features of each image.

    Args:
      images: tensor [count, height, width, 3], RGB 0-255; other sizes than 224 x 224
        are resized to it (CIFAR-10's 32 x 32 images enlarged).
      base: the MobileNetV2.

    Returns:
      float32 tensor [count, 1280]: the last convolution's channels, each averaged over
      the image.
    """
    x = tf.cast(images, tf.float32) / 127.5 - 1  # -1 to 1, as the network trained
    if x.shape[1] != IMAGE_SIZE or x.shape[2] != IMAGE_SIZE:
        x = tf.image.resize(x, [IMAGE_SIZE, IMAGE_SIZE])
    layer = iter(zip(base.filters, base.biases))

    def conv(x, stride=1, relu=True):
        filters, bias = next(layer)
        if filters.shape[-1] == 1 and filters.shape[-2] > 1:  # depthwise
            x = tf.nn.depthwise_conv2d(x, filters, [1, stride, stride, 1], 'SAME')
        else:
            x = tf.nn.conv2d(x, filters, stride, 'SAME')
        return tf.nn.relu6(x + bias) if relu else x + bias

    x = conv(x, stride=2)
    for block in range(1, 18):
        block_input = x
        if block > 1:  # the first block's channels are not widened
            x = conv(x)
        x = conv(x, stride=2 if block in HALVING_BLOCKS else 1)
        x = conv(x, relu=False)
        if x.shape == block_input.shape:
            x += block_input
    return tf.reduce_mean(conv(x), axis=[1, 2])


def imagenet_logits(features, base):
    """ImageNet's 1001 scores (weights/imagenet_labels.txt) from features()."""
    return tf.matmul(features, base.filters[-1][0, 0]) + base.biases[-1]


class Head(tf.Module):
    """The new last layer: weights [1280, classes] and biases, zero at first as in
    Part 1, their velocities (momentum) and the global step, which checkpoints save."""

    def __init__(self, classes, reg_constant=0.0):
        super().__init__(name='head')
        self.reg_constant = reg_constant
        with tf.name_scope('Output'):
            self.weights = tf.Variable(tf.zeros([FEATURES, classes]), name='weights')
            self.biases = tf.Variable(tf.zeros([classes]), name='biases')
        self.velocities = [tf.Variable(tf.zeros_like(v), trainable=False, name='velocity')
                           for v in (self.weights, self.biases)]
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name='global_step')


def inference(features, head):
    """Scores [count, classes] of the images whose features() these are."""
    with tf.name_scope('Output'):
        logits = tf.matmul(features, head.weights) + head.biases
        tf.summary.histogram('logits', logits)
    return logits


def loss(logits, labels, head, label_smoothing=0.0):
    """Mean cross-entropy (targets smoothed by label_smoothing) plus
    reg_constant * sum(weights**2) / 2."""
    with tf.name_scope('Loss'):
        classes = logits.shape[-1]
        targets = (tf.one_hot(labels, classes) * (1 - label_smoothing) +
                   label_smoothing / classes)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            labels=targets, logits=logits)) + head.reg_constant * tf.nn.l2_loss(
                head.weights)
        tf.summary.scalar('loss', loss)
    return loss


def training(tape, loss, head, learning_rate, momentum=0.9):
    """One step of gradient descent with momentum on the head (the base stays)."""
    variables = [head.weights, head.biases]
    with tf.name_scope('GradientDescent'):
        for variable, gradient, velocity in zip(variables, tape.gradient(loss, variables),
                                                head.velocities):
            velocity.assign(momentum * velocity + gradient)
            variable.assign_sub(learning_rate * velocity)
        head.global_step.assign_add(1)


def test_logits(images, base, head):
    """Scores for test images: the average of those of each image and its mirror
    image."""
    return (inference(features(images, base), head) +
            inference(features(tf.reverse(images, axis=[2]), base), head)) / 2

"""Part 3: a convolutional neural network, built in the same four functions as Part 2.

Part 2's network looked at each image as 3072 unrelated numbers: a cat in the top left
corner and the same cat in the bottom right shared no weights. A convolution instead
slides a small filter (3x3 pixels here) over the whole image and computes at each
position how well the patch under it matches: the same few weights look for an edge, a
colour blob, later an eye or a wheel, wherever it is. A layer has many such filters,
each giving one output image (a channel); the next layer's filters combine those
channels into larger patterns.

Max pooling keeps the largest value of each 2x2 square: the image halves in width and
height, so the next filters see twice as far for the same cost, and a pattern that
moves by a pixel still gives the same output. Batch normalisation rescales each channel
to mean 0 and variance 1 over the batch (then by a learned scale and shift), so every
layer's inputs keep one size while the weights before it change: training tolerates a
large learning rate and converges in a few epochs instead of hundreds.

The network: a convolution of the colour channels, then three blocks of (convolution,
max pooling, batch norm, ReLU, convolution, batch norm, ReLU), each with twice the
channels of the one before on a quarter of the pixels, and a last layer, as in Part 2,
that gives one score per class from the largest response of each final channel.
"""
import numpy as np
import tensorflow as tf

# Accuracy does not depend on the network: evaluation() is Part 2's, unchanged.
from two_layer_fc import evaluation  # noqa: F401


class CNN(tf.Module):
    """The network's variables.

    Filters start from a truncated normal distribution with standard deviation
    1/sqrt(fan-in), as in Part 2 (the fan-in of a 3x3 filter on C channels is 9*C).
    Each batch norm has a learned scale (gamma, starting at 1) and shift (beta, 0),
    and the running mean and variance of its inputs, used to classify test images one
    by one. velocities hold the momentum of training() and global_step counts steps:
    both are saved in every checkpoint with the weights.
    """

    def __init__(self, channels, classes, reg_constant=0.0, dtype=tf.float32):
        super().__init__(name='cnn')
        self.reg_constant = reg_constant
        self.dtype = dtype  # what the convolutions compute in (bfloat16 is faster)
        # (channels in, channels out) of each 3x3 convolution: one on the colour
        # channels, then two per block, each block twice as wide as the one before.
        shapes = [(3, channels)]
        for width_in, width in [(channels, channels), (channels, 2 * channels),
                                (2 * channels, 4 * channels)]:
            shapes += [(width_in, width), (width, width)]
        self.filters, self.batch_norms = [], []
        for layer, (width_in, width) in enumerate(shapes):
            with tf.name_scope('Conv%d' % (layer + 1)):
                self.filters.append(variable(tf.random.truncated_normal(
                    [3, 3, width_in, width], stddev=1.0 / np.sqrt(9 * width_in)),
                    'filters'))
                self.batch_norms.append(BatchNorm(width))
        with tf.name_scope('Output'):
            self.weights = variable(tf.random.truncated_normal(
                [4 * channels, classes], stddev=1.0 / np.sqrt(4 * channels)), 'weights')
            self.biases = variable(tf.zeros([classes]), 'biases')
        self.velocities = [variable(tf.zeros_like(v), 'velocity', trainable=False)
                           for v in self.trainable_variables]
        self.global_step = tf.Variable(
            0, dtype=tf.int64, trainable=False, name='global_step',
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def regularization_loss(self):
        """reg_constant * sum(w**2) / 2 over the filters and the output weights."""
        return self.reg_constant * tf.add_n(
            [tf.nn.l2_loss(w) for w in self.filters + [self.weights]])


def variable(initial_value, name, trainable=True):
    """A tf.Variable that several devices may update: each computes the same new value
    (or, for the batch norm statistics, its own), and their average is kept."""
    return tf.Variable(initial_value, name=name, trainable=trainable,
                       aggregation=tf.VariableAggregation.MEAN)


class BatchNorm(tf.Module):
    """One batch normalisation: y = gamma * (x - mean) / sqrt(variance + 0.001) + beta
    for each channel, with the mean and variance of the batch while training (and a
    running average of them, for testing) or that running average at test time."""

    def __init__(self, channels, momentum=0.9):
        super().__init__()
        self.momentum = momentum
        self.gamma = variable(tf.ones([channels]), 'gamma')
        self.beta = variable(tf.zeros([channels]), 'beta')
        self.mean = variable(tf.zeros([channels]), 'mean', trainable=False)
        self.variance = variable(tf.ones([channels]), 'variance', trainable=False)

    def __call__(self, x, training):
        # TensorFlow's fused kernel computes the statistics and the formula above in
        # one pass over x, and so its gradient: twice as fast as separate operations.
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=self.gamma, offset=self.beta, epsilon=0.001,
            mean=tf.zeros([0]) if training else self.mean,
            variance=tf.zeros([0]) if training else self.variance,
            is_training=training)
        if training:
            self.mean.assign(self.momentum * self.mean + (1 - self.momentum) * mean)
            self.variance.assign(self.momentum * self.variance +
                                 (1 - self.momentum) * variance)
        return y


def to_images(rows, mean_image):
    """load_data()'s rows of bytes (a red, a green and a blue 32x32 plane each) as
    float32 images [batch size, 32, 32, 3], the mean training image subtracted and
    divided by 64, about the pixels' standard deviation, so they are about unit size."""
    centred = (tf.cast(rows, tf.float32) - mean_image) / 64
    return tf.transpose(tf.reshape(centred, [-1, 3, 32, 32]), [0, 2, 3, 1])


def augment(images, seed):
    """Data augmentation: flip each image left to right at random and shift it by up
    to 2 pixels each way (filling in with the mirror image of its border). A cat is
    still a cat, so the network sees a new variant of each image in every epoch.

    Args:
      images: float32 tensor, [batch size, height, width, channels].
      seed: int64 tensor [2]: the random choices depend on it alone (TensorFlow's
        stateless random numbers), so a resumed run repeats them exactly.

    Returns:
      Tensor of the same shape: image i is a variant of images[i].
    """
    with tf.name_scope('Augment'):
        flip_seed, shift_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        images = tf.image.stateless_random_flip_left_right(images, flip_seed)
        shape = tf.shape(images)
        padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode='REFLECT')
        shifts = tf.random.stateless_uniform([shape[0], 2], shift_seed, 0, 5, tf.int32)
        rows = shifts[:, 0:1] + tf.range(shape[1])  # the rows each image keeps
        columns = shifts[:, 1:2] + tf.range(shape[2])
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(images, columns, axis=2, batch_dims=1)


def inference(images, model, training=False):
    """Build the model up to where it may be used for inference.

    Args:
      images: float32 tensor, [batch size, 32, 32, 3]: centred images.
      model: a CNN holding the weights.
      training: True to normalise with the batch's statistics (and update the running
        ones), False to use the running statistics.

    Returns:
      logits: float32 tensor, [batch size, classes]: one score per class.
    """
    def conv(x, layer):
        with tf.name_scope('Conv%d' % (layer + 1)):
            x = tf.nn.conv2d(x, tf.cast(model.filters[layer], model.dtype), 1, 'SAME')
            if layer % 2 == 1:  # the first convolution of a block: pool after it
                x = tf.nn.max_pool2d(x, 2, 2, 'VALID')
            return tf.nn.relu(model.batch_norms[layer](x, training))

    x = tf.cast(images, model.dtype)
    for layer in range(len(model.filters)):
        x = conv(x, layer)
    with tf.name_scope('Output'):
        features = tf.cast(tf.reduce_max(x, axis=[1, 2]), tf.float32)
        logits = tf.matmul(features, model.weights) + model.biases
        tf.summary.histogram('logits', logits)
    return logits


def loss(logits, labels, model, label_smoothing=0.0):
    """Calculate the loss from logits and labels.

    Args:
      logits: float32 tensor, [batch size, classes], from inference().
      labels: int64 tensor, [batch size]: the true classes.
      model: the CNN, whose weights are penalised by L2 regularisation.
      label_smoothing: the share of each target spread evenly over all classes, so
        the network is not pushed to ever more confident scores.

    Returns:
      loss: scalar tensor: mean cross-entropy plus the L2 penalty.
    """
    with tf.name_scope('Loss'):
        classes = logits.shape[-1]
        targets = (tf.one_hot(labels, classes) * (1 - label_smoothing) +
                   label_smoothing / classes)
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            labels=targets, logits=logits, name='cross_entropy'))
        loss = cross_entropy + model.regularization_loss()
        tf.summary.scalar('loss', loss)
    return loss


def training(tape, loss, model, learning_rate, momentum=0.9):
    """Take one step of gradient descent with Nesterov momentum.

    Momentum keeps a running sum of past gradients (a velocity) and steps along it,
    so the noise of single batches averages out; Nesterov's variant looks one step
    ahead along the velocity. On several devices, each computes the gradients of its
    share of the batch and they are averaged before the step.

    Args:
      tape: the tf.GradientTape that recorded the computation of loss.
      loss: scalar tensor, from loss().
      model: the CNN to update.
      learning_rate: step size (a scalar tensor: it changes during training).
      momentum: how much of the velocity carries over to the next step.
    """
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    gradients = tf.distribute.get_replica_context().all_reduce('mean', gradients)
    with tf.name_scope('GradientDescent'):
        for variable, gradient, velocity in zip(variables, gradients, model.velocities):
            new_velocity = momentum * velocity + gradient
            velocity.assign(new_velocity)
            variable.assign_sub(learning_rate * (gradient + momentum * new_velocity))
        model.global_step.assign_add(1)


def test_logits(images, model):
    """Scores for test images: the average of those of each image and of its mirror
    image, a second look that costs no training (test-time augmentation).

    Args:
      images: float32 tensor, [batch size, 32, 32, 3].
      model: a trained CNN.

    Returns:
      logits: float32 tensor, [batch size, classes].
    """
    return (inference(images, model) + inference(tf.reverse(images, axis=[2]), model)) / 2

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
to mean 0 and variance 1 over the batch (then shifts it by a learned amount), so every
layer's inputs keep one size while the weights before it change: training tolerates a
large learning rate and converges in a few epochs instead of hundreds.

The network follows the fastest known CIFAR-10 trainers (Keller Jordan's airbench,
2024): a first layer of 2x2 filters that is not learned but computed from the data
(whitening, below), then three blocks of (convolution, max pooling, batch norm, ReLU,
convolution, batch norm, ReLU), the first with `channels` channels and the others
with twice as many (airbench's record network: 64, then 256, and GELU for ReLU), and a
last layer, as in Part 2, that gives one score per class from the largest response of
each final channel.

On a CPU, a step's time is its arithmetic, and a convolution's arithmetic is its
image's area. Progressive resizing (run_cnn_model.py's --small_steps) trains the
first steps on random 24x24 squares of the images (augment()), 0.53x the arithmetic
of whole ones, and the last steps on whole images, as the test sees them: the last
layer takes the largest response of each channel anywhere, so any size fits.
"""
import math

import numpy as np
import tensorflow as tf

# Accuracy does not depend on the network: evaluation() is Part 2's, unchanged.
from two_layer_fc import evaluation  # noqa: F401

WHITENING_WIDTH = 24  # two filters (+ and -) for each of the 12 numbers of a 2x2 patch
# GELU, x * P(a standard normal < x), is a smooth ReLU: a little better per epoch, but
# slower to compute on a CPU.
ACTIVATIONS = {'relu': tf.nn.relu, 'gelu': tf.nn.gelu}
BIAS_SPEEDUP = 64  # batch norm shifts learn this much faster: they get small gradients
SPECTRAL_MOMENTUM = 0.6  # the filters' momentum in spectral steps (airbench's)
TEST_VIEWS = 'test images, each seen 6 ways (mirrored, shifted)'  # by test_logits()


class CNN(tf.Module):
    """The network's variables, and its activation function (ReLU, or GELU).

    Each 3x3 filter starts uniform in +-1/sqrt(fan-in) (the fan-in of a 3x3 filter on
    C channels is 9*C), except that the first filters of each convolution pass their
    input channel through unchanged (an identity): a new network starts by passing the
    whitened image on, and learns what to add to it. Batch norms have a learned shift
    (beta) and the running mean and variance of their inputs, used to classify test
    images. velocities (momentum), averages (lookahead) and global_step are saved in
    every checkpoint with the weights, so a resumed run continues exactly.
    """

    def __init__(self, channels, classes, whitening=None, reg_constant=0.0,
                 dtype=tf.float32, later_channels=None, activation='relu', spectral=False):
        super().__init__(name='cnn')
        self.reg_constant = reg_constant
        self.spectral = spectral  # the filters take spectral steps (training())
        self.dtype = dtype  # what the convolutions compute in (float32 or bfloat16)
        self.activation = ACTIVATIONS[activation]
        with tf.name_scope('Whitening'):
            # Computed by whitening_filters() and kept fixed; None: learned instead.
            # No bias: learning one costs the gradient with respect to the first
            # convolution's input, a sixth of each step; more steps are worth more.
            self.whitening = variable(
                uniform([2, 2, 3, WHITENING_WIDTH], 12) if whitening is None
                else whitening, 'filters', trainable=whitening is None)
        later_channels = later_channels or 2 * channels  # the 2nd and 3rd blocks' width
        widths = [WHITENING_WIDTH, channels, later_channels, later_channels]
        self.filters, self.batch_norms = [], []
        for block, (width_in, width) in enumerate(zip(widths, widths[1:])):
            for layer, fan_in in enumerate([width_in, width]):
                with tf.name_scope('Conv%d_%d' % (block + 1, layer + 1)):
                    filters = uniform([3, 3, fan_in, width], 9 * fan_in).numpy()
                    same = np.arange(min(fan_in, width))  # outputs that copy an input
                    filters[:, :, :, same] = 0
                    filters[1, 1, same, same] = 1
                    self.filters.append(variable(filters, 'filters'))
                    self.batch_norms.append(BatchNorm(width))
        with tf.name_scope('Output'):
            self.weights = variable(uniform([later_channels, classes], later_channels),
                                    'weights')
        self.velocities = [variable(tf.zeros_like(v), 'velocity', trainable=False)
                           for v in self.trainable_variables]
        self.averages = [variable(v, 'average', trainable=False)
                         for v in self.averaged_variables()]
        self.global_step = tf.Variable(
            0, dtype=tf.int64, trainable=False, name='global_step',
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def averaged_variables(self):
        """What lookahead() averages: the weights and the batch norms' statistics."""
        return list(self.trainable_variables) + [
            s for norm in self.batch_norms for s in (norm.mean, norm.variance)]

    def regularization_loss(self):
        """reg_constant * sum(w**2) / 2 over the weights and the biases; a bias moves
        BIAS_SPEEDUP times faster (training()), so its penalty is that much smaller,
        and every weight shrinks by the same share of itself at each step. Filters
        that take spectral steps keep their size anyway: no penalty for them."""
        weights = [self.weights] + ([] if self.spectral else self.filters)
        biases = [n.beta for n in self.batch_norms]
        return self.reg_constant * tf.add_n(
            [tf.nn.l2_loss(w) for w in weights]
            + [tf.nn.l2_loss(b) / BIAS_SPEEDUP for b in biases])


def uniform(shape, fan_in):
    """Random weights, uniform in +-1/sqrt(fan_in): outputs of about the inputs' size."""
    return tf.random.uniform(shape, -1 / np.sqrt(fan_in), 1 / np.sqrt(fan_in))


def variable(initial_value, name, trainable=True):
    """A tf.Variable that several devices may update: each computes the same new value
    (or, for the batch norm statistics, its own), and their average is kept."""
    return tf.Variable(initial_value, name=name, trainable=trainable,
                       aggregation=tf.VariableAggregation.MEAN)


def whitening_filters(images, epsilon=5e-4):
    """The first layer's filters: whitening of the images' 2x2 patches.

    Neighbouring pixels and colours are strongly correlated, so most of a patch's 12
    numbers repeat the others. The eigenvectors of the patches' covariance are the
    directions in which patches vary independently; projecting on each, divided by
    the square root of its eigenvalue, gives 12 uncorrelated outputs of variance 1,
    fine details as loud as broad shades. Each comes as + and -, so that the ReLU after
    it keeps both signs.

    Args:
      images: float32 array [count, height, width, 3]: centred training images.
      epsilon: added to the eigenvalues, so that the faintest directions (mostly
        noise) are not blown up.

    Returns:
      float32 array [2, 2, 3, 24]: the filters.
    """
    patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)  # (y, x, colour)
    covariance = (patches.T @ patches).astype(np.float64) / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    filters = (eigenvectors / np.sqrt(eigenvalues + epsilon)).reshape(2, 2, 3, 12)
    return np.concatenate([filters, -filters], axis=-1).astype(np.float32)


class BatchNorm(tf.Module):
    """One batch normalisation: y = (x - mean) / sqrt(variance + 1e-5) + beta for
    each channel, with the mean and variance of the batch while training (and a
    running average of them, for testing) or that running average at test time. Its
    scale is fixed at 1: the next convolution's weights can scale it anyway."""

    def __init__(self, channels, momentum=0.6):
        super().__init__()
        self.momentum = momentum
        self.beta = variable(tf.zeros([channels]), 'beta')
        self.mean = variable(tf.zeros([channels]), 'mean', trainable=False)
        self.variance = variable(tf.ones([channels]), 'variance', trainable=False)

    def __call__(self, x, training):
        # TensorFlow's fused kernel computes the statistics and the formula above in
        # one pass over x, and so its gradient: twice as fast as separate operations.
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=tf.ones_like(self.beta), offset=self.beta, epsilon=1e-5,
            mean=tf.zeros([0]) if training else self.mean,
            variance=tf.zeros([0]) if training else self.variance,
            is_training=training)
        if training:
            self.mean.assign(self.momentum * self.mean + (1 - self.momentum) * mean)
            self.variance.assign(self.momentum * self.variance +
                                 (1 - self.momentum) * variance)
        return y


def image_side(rows):
    """The side in pixels of load_data()'s square images, from a row's length (3
    colour planes of side x side bytes)."""
    return math.isqrt(rows.shape[-1] // 3)


def to_images(rows, mean_image):
    """load_data()'s rows of bytes (a red, a green and a blue plane each, 32x32 for
    CIFAR-10) as float32 images [batch size, height, width, 3], the mean training image
    subtracted and divided by 64, about the pixels' standard deviation, so they are
    about unit size."""
    size = image_side(rows)
    centred = (tf.cast(rows, tf.float32) - mean_image) / 64
    return tf.transpose(tf.reshape(centred, [-1, 3, size, size]), [0, 2, 3, 1])


def augment(images, flip, seed, size=None):
    """Data augmentation: flip images left to right and shift each by up to 2 pixels
    each way (filling in with the mirror image of its border). A cat is still a cat,
    so the network sees a new variant of each image in every epoch.

    With a smaller size, each image is cut to a random size x size square of itself
    (anywhere in the shifted image): the network sees the cat at the size it has in
    the test images, only less of the picture around it, and every convolution
    computes on (size/32)**2 of the pixels (progressive resizing, below).

    Args:
      images: float32 tensor, [batch size, height, width, channels].
      flip: bool tensor [batch size]: which images to flip.
      seed: int64 tensor [2]: the shifts depend on it alone (TensorFlow's stateless
        random numbers), so a resumed run repeats them exactly.
      size: the side of the images returned (a Python int); None: the images' own.

    Returns:
      Tensor [batch size, size, size, channels]: image i is a variant of images[i].
    """
    with tf.name_scope('Augment'):
        images = tf.where(flip[:, None, None, None], tf.reverse(images, [2]), images)
        side = images.shape[1]  # square images: rows and columns alike
        size = size or side
        padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode='REFLECT')
        shifts = tf.random.stateless_uniform([tf.shape(images)[0], 2], seed, 0,
                                             side + 5 - size, tf.int32)
        rows = shifts[:, 0:1] + tf.range(size)  # the rows each image keeps
        columns = shifts[:, 1:2] + tf.range(size)
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        return tf.gather(images, columns, axis=2, batch_dims=1)


def inference(images, model, training=False):
    """Build the model up to where it may be used for inference.

    Args:
      images: float32 tensor, [batch size, height, width, 3]: centred images.
      model: a CNN holding the weights.
      training: True to normalise with the batch's statistics (and update the running
        ones), False to use the running statistics.

    Returns:
      logits: float32 tensor, [batch size, classes]: one score per class.
    """
    def conv(x, layer):
        x = tf.nn.conv2d(x, tf.cast(model.filters[layer], model.dtype), 1, 'SAME')
        if layer % 2 == 0:  # the first convolution of a block: pool after it
            x = tf.nn.max_pool2d(x, 2, 2, 'VALID')
        return model.activation(model.batch_norms[layer](x, training))

    x = tf.cast(images, model.dtype)
    with tf.name_scope('Whitening'):  # 2x2 patches: 32x32 pixels give 31x31
        x = tf.nn.relu(tf.nn.conv2d(x, tf.cast(model.whitening, model.dtype), 1, 'VALID'))
    for layer in range(len(model.filters)):
        with tf.name_scope('Conv%d_%d' % (layer // 2 + 1, layer % 2 + 1)):
            x = conv(x, layer)
    with tf.name_scope('Output'):
        features = tf.cast(tf.reduce_max(x, axis=[1, 2]), tf.float32)
        # Divided by 9: small scores at first, so training starts unconfident.
        logits = tf.matmul(features, model.weights) / 9
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


def training(tape, loss, model, learning_rate, momentum=0.9, spectral_rate=0.0):
    """Take one step of gradient descent with Nesterov momentum.

    Momentum keeps a running sum of past gradients (a velocity) and steps along it,
    so the noise of single batches averages out; Nesterov's variant looks one step
    ahead along the velocity. On several devices, each computes the gradients of its
    share of the batch and they are averaged before the step.

    With model.spectral, the convolutions' filters take spectral steps instead
    (airbench94_spectral, 2024; the Muon optimizer is the same idea): a filter keeps
    a fixed size, and steps by the orthogonal matrix nearest its velocity, which moves
    every direction the velocity points to by the same amount, not mostly the few
    largest. Batch norm after each convolution makes the filters' size irrelevant, so
    only their direction learns, and it learns in fewer epochs.

    Args:
      tape: the tf.GradientTape that recorded the computation of loss.
      loss: scalar tensor, from loss().
      model: the CNN to update.
      learning_rate: step size (a scalar tensor: it changes during training).
      momentum: how much of the velocity carries over to the next step.
      spectral_rate: the filters' step size with model.spectral (a scalar tensor).
    """
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    gradients = tf.distribute.get_replica_context().all_reduce('mean', gradients)
    biases = {id(n.beta) for n in model.batch_norms}
    spectral = {id(f) for f in model.filters} if model.spectral else set()
    with tf.name_scope('GradientDescent'):
        for variable, gradient, velocity in zip(variables, gradients, model.velocities):
            carry = SPECTRAL_MOMENTUM if id(variable) in spectral else momentum
            new_velocity = carry * velocity + gradient
            velocity.assign(new_velocity)
            ahead = gradient + carry * new_velocity  # Nesterov's look ahead
            if id(variable) in spectral:
                size = np.sqrt(variable.shape[-1])  # as orthogonal()'s: sqrt(outputs)
                variable.assign(variable * size / tf.norm(variable))
                variable.assign_sub(spectral_rate * orthogonal(ahead))
            else:
                rate = learning_rate * (BIAS_SPEEDUP if id(variable) in biases else 1)
                variable.assign_sub(rate * ahead)
        model.global_step.assign_add(1)


def orthogonal(filters):
    """The orthogonal matrix nearest filters [3, 3, inputs, outputs] seen as a matrix
    [9 * inputs, outputs]: U V^T of its singular value decomposition U S V^T, all its
    singular values set to 1. Returns a tensor of the shape of filters."""
    _, u, v = tf.linalg.svd(tf.reshape(filters, [-1, filters.shape[-1]]))
    return tf.reshape(tf.matmul(u, v, transpose_b=True), filters.shape)


def lookahead(model, decay, active):
    """Lookahead: keep an average of the weights and, every few steps, move it
    towards the weights and the weights back to it. The noise of single steps
    averages out, and the average is what training continues from.

    Args:
      model: the CNN.
      decay: scalar tensor, 0..1: how much of the old average to keep.
      active: scalar bool tensor: whether to do it at this step (doing nothing
        otherwise, without a branch in the graph).
    """
    share = tf.where(active, 1 - decay, 0.0)
    with tf.name_scope('Lookahead'):
        for variable, average in zip(model.averaged_variables(), model.averages):
            new_average = average + share * (variable - average)
            average.assign(new_average)
            variable.assign(tf.where(active, new_average, variable))


def test_logits(images, model, shifts=True):
    """Scores for test images: the average of those of each image and of its mirror
    image, and (shifts) of both moved by a pixel up and left, and down and right: more
    looks that cost no training (test-time augmentation).

    Args:
      images: float32 tensor, [batch size, height, width, 3].
      model: a trained CNN.
      shifts: False to average only the image and its mirror image.

    Returns:
      logits: float32 tensor, [batch size, classes].
    """
    def mirrored(x):
        return (inference(x, model) + inference(tf.reverse(x, axis=[2]), model)) / 2

    if not shifts:
        return mirrored(images)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT')
    return (mirrored(images) / 2 + mirrored(padded[:, :-2, :-2]) / 4 +
            mirrored(padded[:, 2:, 2:]) / 4)

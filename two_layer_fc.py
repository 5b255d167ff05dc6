"""Part 2: a two-layer fully connected neural network, built in four functions.

inference() computes class scores, loss() measures how wrong they are, training()
takes one step of gradient descent, evaluation() counts correct predictions: the split
of TensorFlow's classic mnist.py. In TensorFlow 2 the variables live in a small
tf.Module, TwoLayerFC, created once and passed to each function, because functions
can no longer create variables on every call as tf.get_variable did.

Summaries (a histogram of the logits, the loss, the training accuracy) are written
whenever the caller has opened a tf.summary writer; otherwise they cost nothing.
"""
import numpy as np
import tensorflow as tf


class TwoLayerFC(tf.Module):
    """The network's variables: what the tutorial's inference() created.

    Layer 1 maps image_pixels inputs to hidden_units ReLU units, layer 2 maps those to
    one score per class. Weights start from a truncated normal distribution with
    standard deviation 1/sqrt(fan-in), so every layer's outputs start at a similar
    scale; biases start at zero. global_step counts training steps and is saved with
    the weights in every checkpoint, and so is input_scale: what the centred pixels
    are multiplied by before layer 1 (1 in the tutorial; see run_fc_model.py).
    """

    def __init__(self, image_pixels, hidden_units, classes, reg_constant=0.0,
                 input_scale=1.0):
        super().__init__(name='two_layer_fc')
        self.reg_constant = reg_constant
        self.input_scale = tf.Variable(input_scale, trainable=False, name='input_scale')
        with tf.name_scope('Layer1'):
            self.weights1 = tf.Variable(tf.random.truncated_normal(
                [image_pixels, hidden_units], stddev=1.0 / np.sqrt(image_pixels)),
                name='weights')
            self.biases1 = tf.Variable(tf.zeros([hidden_units]), name='biases')
        with tf.name_scope('Layer2'):
            self.weights2 = tf.Variable(tf.random.truncated_normal(
                [hidden_units, classes], stddev=1.0 / np.sqrt(hidden_units)),
                name='weights')
            self.biases2 = tf.Variable(tf.zeros([classes]), name='biases')
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name='global_step')

    def regularization_loss(self):
        """reg_constant * sum(w**2) / 2 over both weight matrices (biases are exempt)."""
        return self.reg_constant * (tf.nn.l2_loss(self.weights1) +
                                    tf.nn.l2_loss(self.weights2))


def inference(images, model):
    """Build the model up to where it may be used for inference.

    Args:
      images: float32 tensor, [batch size, image pixels].
      model: a TwoLayerFC holding the weights.

    Returns:
      logits: float32 tensor, [batch size, classes]: one score per class.
    """
    with tf.name_scope('Layer1'):
        hidden = tf.nn.relu(tf.matmul(images, model.weights1) + model.biases1)
    with tf.name_scope('Layer2'):
        logits = tf.matmul(hidden, model.weights2) + model.biases2
        tf.summary.histogram('logits', logits)
    return logits


def loss(logits, labels, model):
    """Calculate the loss from logits and labels.

    Args:
      logits: float32 tensor, [batch size, classes], from inference().
      labels: int64 tensor, [batch size]: the true classes.
      model: the TwoLayerFC, whose weights are penalised by L2 regularisation.

    Returns:
      loss: scalar tensor: mean cross-entropy plus the L2 penalty.
    """
    with tf.name_scope('Loss'):
        cross_entropy = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            logits=logits, labels=labels, name='cross_entropy'))
        loss = cross_entropy + model.regularization_loss()
        tf.summary.scalar('loss', loss)
    return loss


def training(tape, loss, model, learning_rate):
    """Take one step of gradient descent on loss and count it in model.global_step.

    Args:
      tape: the tf.GradientTape that recorded the computation of loss.
      loss: scalar tensor, from loss().
      model: the TwoLayerFC to update.
      learning_rate: step size of gradient descent.
    """
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    with tf.name_scope('GradientDescent'):
        for variable, gradient in zip(variables, gradients):
            variable.assign_sub(learning_rate * gradient)
        model.global_step.assign_add(1)


def evaluation(logits, labels):
    """Evaluate how well the logits predict the labels.

    Args:
      logits: float32 tensor, [batch size, classes], from inference().
      labels: int64 tensor, [batch size].

    Returns:
      accuracy: scalar tensor: the fraction of images whose class was predicted.
    """
    with tf.name_scope('Accuracy'):
        correct_prediction = tf.equal(tf.argmax(logits, 1), labels)
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        tf.summary.scalar('train_accuracy', accuracy)
    return accuracy

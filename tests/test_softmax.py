"""softmax.py's model: inference(), loss(), training() and evaluation()."""
import numpy as np
import pytest
import tensorflow as tf

import softmax


def test_first_step_from_zero_weights_is_the_closed_form():
    # With every weight and bias zero, each class has probability 1/10, so the gradient
    # of the mean cross-entropy is X^T (1/10 - Y) / n for the weights and the mean of
    # (1/10 - Y) for the biases: one step must move both by -learning_rate times that.
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 12)).astype(np.float32)
    labels = np.array([0, 1, 1, 2, 3, 3, 3, 9])
    model = softmax.Softmax(12, 10)
    with tf.GradientTape() as tape:
        loss = softmax.loss(softmax.inference(images, model), labels)
    assert float(loss) == pytest.approx(np.log(10), rel=1e-6)
    softmax.training(tape, loss, model, 0.005)

    error = 0.1 - np.eye(10)[labels]
    np.testing.assert_allclose(model.weights.numpy(), -0.005 * images.T @ error / 8,
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(model.biases.numpy(), -0.005 * error.mean(axis=0),
                               rtol=1e-5)
    assert model.biases.numpy()[3] > 0 > model.biases.numpy()[4]  # seen vs unseen class
    assert int(model.global_step) == 1


def test_training_separates_two_classes_with_the_biases_alone():
    # Identical images, two labels in proportion 3:1: only the biases can tell, and
    # they learn the log-odds of the classes.
    images = np.zeros((4, 5), np.float32)
    labels = np.array([2, 2, 2, 7])
    model = softmax.Softmax(5, 10)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = softmax.loss(softmax.inference(images, model), labels)
        softmax.training(tape, loss, model, 2.0)

    for _ in range(300):
        step()
    probabilities = tf.nn.softmax(model.biases).numpy()
    np.testing.assert_allclose(probabilities[[2, 7]], [0.75, 0.25], atol=0.01)
    np.testing.assert_array_equal(model.weights.numpy(), 0)  # zero images: no gradient


def test_evaluation_is_the_share_of_right_top_scores():
    logits = tf.constant([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0],
                          [1.0, 0.0, 0.0]])
    assert float(softmax.evaluation(logits, tf.constant([1, 0, 2, 2], tf.int64))) == 0.75

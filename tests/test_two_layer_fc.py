"""two_layer_fc.py: inference(), loss(), training() and evaluation()."""
import numpy as np
import pytest

import data_helpers
import tensorflow as tf
import two_layer_fc


def small_model(reg_constant=0.1, hidden=16, seed=0):
    tf.random.set_seed(seed)
    return two_layer_fc.TwoLayerFC(3072, hidden, 10, reg_constant=reg_constant)


def test_shapes_and_initialisation():
    model = two_layer_fc.TwoLayerFC(3072, 120, 10)
    assert model.weights1.shape == (3072, 120) and model.weights2.shape == (120, 10)
    np.testing.assert_array_equal(model.biases1.numpy(), 0)
    np.testing.assert_array_equal(model.biases2.numpy(), 0)
    for weights, fan_in in [(model.weights1, 3072), (model.weights2, 120)]:
        w = weights.numpy()
        stddev = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= 2 * stddev  # truncated at two standard deviations
        # A normal truncated at +-2 sigma has 0.88 sigma standard deviation.
        assert abs(w.std() / (0.88 * stddev) - 1) < 0.1
    assert int(model.global_step) == 0
    assert len(model.trainable_variables) == 4  # the step counter is not trained


def test_inference_and_evaluation():
    model = small_model()
    images = tf.random.normal([7, 3072])
    logits = two_layer_fc.inference(images, model)
    assert logits.shape == (7, 10)
    hidden = np.maximum(images.numpy() @ model.weights1.numpy(), 0)
    np.testing.assert_allclose(logits.numpy(), hidden @ model.weights2.numpy(), rtol=1e-4,
                               atol=1e-4)
    labels = tf.argmax(logits, 1)
    assert float(two_layer_fc.evaluation(logits, labels)) == 1.0
    assert float(two_layer_fc.evaluation(logits, (labels + 1) % 10)) == 0.0


@pytest.mark.parametrize('reg_constant', [0.0, 0.1, 2.5])
def test_l2_term_is_reg_constant_times_half_the_sum_of_squared_weights(reg_constant):
    model = small_model(reg_constant)
    logits = tf.zeros([4, 10])  # cross-entropy of equal scores is exactly log(10)
    labels = tf.constant([0, 1, 2, 3], tf.int64)
    total = float(two_layer_fc.loss(logits, labels, model))
    squares = (np.sum(model.weights1.numpy().astype(np.float64) ** 2) +
               np.sum(model.weights2.numpy().astype(np.float64) ** 2))
    assert total == pytest.approx(np.log(10) + reg_constant * squares / 2, rel=1e-5)


def test_training_lowers_the_loss_and_counts_steps(tiny_cifar):
    data = data_helpers.load_data(str(tiny_cifar))
    images = tf.constant(data['images_train'] - data['mean_image'])
    labels = tf.constant(data['labels_train'])
    model = small_model(reg_constant=0.01)

    def step():
        with tf.GradientTape() as tape:
            loss = two_layer_fc.loss(two_layer_fc.inference(images, model), labels, model)
        two_layer_fc.training(tape, loss, model, 0.0005)
        return float(loss)

    losses = [step() for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert int(model.global_step) == 30
    accuracy = two_layer_fc.evaluation(two_layer_fc.inference(images, model), labels)
    assert float(accuracy) > 0.5


def test_one_step_is_backpropagation_with_the_biases_learnt_and_not_regularised():
    # The step worked out by hand in numpy: the biases move by their gradient alone
    # (L2 penalises the weights only), the weights by theirs plus reg_constant * W.
    model = small_model(reg_constant=0.1, hidden=6)
    rng = np.random.default_rng(1)
    images = rng.normal(size=(5, 3072)).astype(np.float32)
    labels = np.array([0, 3, 3, 7, 9])
    w1, w2 = model.weights1.numpy().astype(np.float64), model.weights2.numpy().astype(np.float64)
    with tf.GradientTape() as tape:
        loss = two_layer_fc.loss(two_layer_fc.inference(images, model), labels, model)
    two_layer_fc.training(tape, loss, model, 0.01)

    hidden = np.maximum(images @ w1, 0)
    scores = np.exp(hidden @ w2)
    d_logits = (scores / scores.sum(1, keepdims=True) - np.eye(10)[labels]) / 5
    d_pre = (d_logits @ w2.T) * (hidden > 0)
    expected = {'biases2': -0.01 * d_logits.sum(0), 'biases1': -0.01 * d_pre.sum(0),
                'weights2': w2 - 0.01 * (hidden.T @ d_logits + 0.1 * w2),
                'weights1': w1 - 0.01 * (images.T @ d_pre + 0.1 * w1)}
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(model, name).numpy(), value, rtol=1e-4,
                                   atol=1e-7, err_msg=name)
    assert np.abs(model.biases1.numpy()).max() > 1e-4  # both biases moved
    assert np.abs(model.biases2.numpy()).max() > 1e-4

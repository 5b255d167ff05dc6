"""Part 3: the convolutional network of cnn.py and its scripts, on small synthetic data."""
import numpy as np
import pytest
import tensorflow as tf

import cnn
from conftest import (assert_one_line_error, assert_restores_the_saved_weights,
                      lines_starting, logged_images, printed_value, read_events, restore,
                      run_folder, run_folders, run_script, run_subprocess, train_fc)


def test_inference_gives_one_score_per_class_from_whitening_and_six_convolutions():
    model = cnn.CNN(8, 10)
    assert model.whitening.shape == (2, 2, 3, 24)
    assert [f.shape.as_list() for f in model.filters] == [
        [3, 3, 24, 8], [3, 3, 8, 8], [3, 3, 8, 16], [3, 3, 16, 16], [3, 3, 16, 16],
        [3, 3, 16, 16]]
    images = tf.random.normal([5, 32, 32, 3])
    assert cnn.inference(images, model, training=True).shape == (5, 10)
    assert cnn.test_logits(images, model).shape == (5, 10)
    # Whitening filters given: the first layer is not learned; otherwise it is.
    assert model.whitening.trainable
    fixed = cnn.CNN(8, 10, cnn.whitening_filters(images.numpy()))
    assert not fixed.whitening.trainable
    assert len(fixed.velocities) == len(model.velocities) - 1


def test_later_channels_and_gelu_change_the_network_for_record_runs():
    tf.random.set_seed(0)
    gelu = cnn.CNN(8, 10, later_channels=24, activation='gelu')
    assert [f.shape.as_list()[2:] for f in gelu.filters] == [
        [24, 8], [8, 8], [8, 24], [24, 24], [24, 24], [24, 24]]
    assert gelu.weights.shape == (24, 10)
    tf.random.set_seed(0)
    relu = cnn.CNN(8, 10, later_channels=24)  # the same weights, ReLU
    np.testing.assert_array_equal(relu.weights.numpy(), gelu.weights.numpy())
    images = tf.random.normal([5, 32, 32, 3])
    assert np.abs(cnn.inference(images, gelu).numpy() -
                  cnn.inference(images, relu).numpy()).max() > 1e-3
    import run_cnn_model  # its --activation choices, written before TensorFlow loads
    for name in cnn.ACTIVATIONS:
        assert run_cnn_model.parse_args(['--activation', name]).activation == name


def test_each_convolution_starts_by_passing_its_input_channels_through():
    model = cnn.CNN(8, 10)
    for filters in model.filters:  # 24 -> 8, 8 -> 8, 8 -> 16, 16 -> 16 ... channels
        fan_in, width = filters.shape[2:]
        x = tf.random.normal([2, 16, 16, fan_in])
        y = tf.nn.conv2d(x, filters, 1, 'SAME').numpy()
        np.testing.assert_allclose(y[..., :min(fan_in, width)], x.numpy()[..., :width],
                                   atol=1e-6)
        if width > fan_in:
            assert np.abs(y[..., fan_in:]).mean() > 0.1  # the others start random


def test_whitening_filters_make_the_patches_uncorrelated_with_variance_one():
    # Strongly correlated images: smooth noise, with colours that follow each other.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 33, 33, 1))
    smooth = (base[:, 1:, 1:] + base[:, :-1, 1:] + base[:, 1:, :-1] + base[:, :-1, :-1])
    images = (smooth * [1.0, 0.9, 0.7] + 0.2 * rng.normal(size=(200, 32, 32, 3)))
    filters = cnn.whitening_filters(images.astype(np.float32), epsilon=0)
    assert filters.shape == (2, 2, 3, 24)
    np.testing.assert_array_equal(filters[..., 12:], -filters[..., :12])  # + and -
    outputs = tf.nn.conv2d(images.astype(np.float32), filters[..., :12], 1, 'VALID')
    outputs = outputs.numpy().reshape(-1, 12)
    np.testing.assert_allclose(outputs.T @ outputs / len(outputs), np.eye(12), atol=1e-3)


def test_lookahead_moves_the_average_and_the_weights_to_each_other():
    model = cnn.CNN(4, 10)
    weights = model.weights.numpy()
    model.weights.assign(weights + 1)  # the average still holds the starting weights
    cnn.lookahead(model, tf.constant(0.25), tf.constant(False))
    np.testing.assert_array_equal(model.weights.numpy(), weights + 1)  # not this step
    np.testing.assert_array_equal(model.averages[
        model.averaged_variables().index(model.weights)].numpy(), weights)
    cnn.lookahead(model, tf.constant(0.25), tf.constant(True))
    np.testing.assert_allclose(model.weights.numpy(), weights + 0.75, rtol=1e-6)
    for variable, average in zip(model.averaged_variables(), model.averages):
        np.testing.assert_array_equal(variable.numpy(), average.numpy())


def test_to_images_turns_colour_planes_into_centred_pixels():
    rows = np.random.default_rng(0).integers(0, 256, (2, 3072)).astype(np.uint8)
    mean = np.full(3072, 100, np.float32)
    images = cnn.to_images(rows, mean).numpy()
    assert images.shape == (2, 32, 32, 3)
    # Pixel (y, x) of colour c is at c * 1024 + y * 32 + x in a row.
    assert images[1, 5, 7, 2] == (rows[1, 2 * 1024 + 5 * 32 + 7] - 100.0) / 64


@pytest.mark.parametrize('spectral, rates', [
    (False, {}), (True, {'momentum': 0.85, 'spectral_rate': 0.1})],
    ids=['gradient-descent', 'spectral'])
def test_training_lowers_the_loss(spectral, rates):
    tf.random.set_seed(0)
    model = cnn.CNN(8, 10, reg_constant=5e-4, spectral=spectral)
    images = tf.random.normal([64, 32, 32, 3])
    labels = tf.constant(np.arange(64) % 10, tf.int64)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = cnn.loss(cnn.inference(images, model, training=True), labels, model,
                            label_smoothing=0.2)
        cnn.training(tape, loss, model, 0.5, **rates)
        return loss

    losses = [float(step()) for _ in range(30)]
    assert int(model.global_step) == 30
    assert losses[-1] < 0.5 * losses[0], losses
    accuracy = cnn.evaluation(cnn.inference(images, model, training=True), labels)
    assert accuracy > 0.9


def test_orthogonal_sets_every_singular_value_to_one_and_keeps_the_directions():
    filters = tf.random.normal([3, 3, 4, 8])
    result = cnn.orthogonal(filters)
    assert result.shape == (3, 3, 4, 8)
    matrix, nearest = (tf.reshape(t, [36, 8]).numpy() for t in (filters, result))
    np.testing.assert_allclose(np.linalg.svd(nearest, compute_uv=False), 1, atol=1e-5)
    u, _, vt = np.linalg.svd(matrix, full_matrices=False)
    np.testing.assert_allclose(nearest, u @ vt, atol=1e-5)  # the same U and V


def test_spectral_steps_keep_the_filters_size_and_step_by_an_orthogonal_matrix():
    tf.random.set_seed(0)
    model = cnn.CNN(8, 10, reg_constant=5e-4, spectral=True)
    images = tf.random.normal([64, 32, 32, 3])
    labels = tf.constant(np.arange(64) % 10, tf.int64)
    before = [f.numpy() for f in model.filters]
    weights_before = model.weights.numpy()
    velocities = dict(zip(map(id, model.trainable_variables), model.velocities))
    earlier = [tf.random.normal(f.shape) for f in model.filters]  # as after a step
    for filters, velocity in zip(model.filters, earlier):
        velocities[id(filters)].assign(velocity)
    with tf.GradientTape(persistent=True) as tape:
        loss = cnn.loss(cnn.inference(images, model, training=True), labels, model)
    gradients = tape.gradient(loss, model.filters + [model.weights])
    cnn.training(tape, loss, model, 0.5, momentum=0.9, spectral_rate=0.1)
    for old, new, gradient, velocity in zip(before, model.filters, gradients, earlier):
        # Scaled to size sqrt(outputs), then a step of 0.1 x the orthogonal matrix
        # nearest the Nesterov velocity, with momentum SPECTRAL_MOMENTUM (0.6).
        new_velocity = 0.6 * velocity + gradient
        np.testing.assert_allclose(velocities[id(new)].numpy(), new_velocity, atol=1e-6)
        resized = old * np.sqrt(old.shape[-1]) / np.linalg.norm(old)
        np.testing.assert_allclose(new.numpy(), resized - 0.1 * cnn.orthogonal(
            gradient + 0.6 * new_velocity).numpy(), atol=1e-5)
    # The last layer takes a step of gradient descent with momentum 0.9, as before.
    np.testing.assert_allclose(model.weights.numpy(),
                               weights_before - 0.5 * 1.9 * gradients[-1].numpy(),
                               atol=1e-6)
    # No L2 penalty on the filters: their size is fixed.
    assert float(model.regularization_loss()) == pytest.approx(
        5e-4 * (float(tf.nn.l2_loss(model.weights)) +
                sum(float(tf.nn.l2_loss(n.beta)) for n in model.batch_norms) /
                cnn.BIAS_SPEEDUP), rel=1e-6)


@pytest.mark.parametrize('flags, shares', [
    (['--max_steps', '100'], {0: 0.2, 10: 0.2 + 0.8 * 0.1 / 0.23, 23: 1, 100: 0.07}),
    (['--max_steps', '200', '--warmup', '0', '--final_rate', '0'],
     {0: 1, 100: 0.5, 199: 0.005})], ids=['defaults', 'record'])
def test_the_learning_rate_rises_over_warmup_then_falls_to_final_rate(flags, shares):
    import run_cnn_model
    args = run_cnn_model.parse_args(flags + ['--seed', '0'])
    for step, share in shares.items():
        assert float(run_cnn_model.schedule(step, args)) == pytest.approx(share, abs=1e-6)


def test_batch_norm_normalises_with_the_batch_and_tracks_running_statistics():
    norm = cnn.BatchNorm(3, momentum=0.5)
    x = tf.random.normal([16, 4, 4, 3], mean=5.0, stddev=2.0)
    y = norm(x, training=True).numpy()
    assert np.allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    assert np.allclose(y.std(axis=(0, 1, 2)), 1, atol=1e-2)
    # The running statistics move halfway (momentum 0.5) from 0 and 1 to the batch's
    # mean and its unbiased variance (over 16 x 4 x 4 = 256 values per channel).
    batch_mean = x.numpy().mean(axis=(0, 1, 2))
    batch_variance = x.numpy().var(axis=(0, 1, 2), ddof=1)
    np.testing.assert_allclose(norm.mean.numpy(), 0.5 * batch_mean, rtol=1e-5)
    np.testing.assert_allclose(norm.variance.numpy(), 0.5 + 0.5 * batch_variance, rtol=1e-4)
    for _ in range(30):  # the same batch again: they converge to its statistics
        norm(x, training=True)
    np.testing.assert_allclose(norm.mean.numpy(), batch_mean, rtol=1e-4)
    np.testing.assert_allclose(norm.variance.numpy(), batch_variance, rtol=1e-4)
    # At test time the running statistics are used, whatever the batch holds, and
    # left as they are.
    single = norm(x[:1], training=False).numpy()
    np.testing.assert_allclose(norm.mean.numpy(), batch_mean, rtol=1e-4)
    expected = (x[:1].numpy() - norm.mean.numpy()) / np.sqrt(norm.variance.numpy() + 1e-5)
    assert np.allclose(single, expected, atol=1e-4)


def variants(image):
    """The 50 images augment() may make of one image: 2 flips x 5 x 5 shifts."""
    result = []
    for flipped in [image, image[:, ::-1]]:
        padded = np.pad(flipped, [(2, 2), (2, 2), (0, 0)], mode='reflect')
        result += [padded[dy:dy + 32, dx:dx + 32] for dy in range(5) for dx in range(5)]
    return np.stack(result)


def test_augment_flips_the_images_asked_and_shifts_each_in_its_place():
    tf.random.set_seed(1)
    images = tf.random.normal([40, 32, 32, 3])
    flip = tf.constant(np.arange(40) % 3 == 0)
    seed = tf.constant([7, 3], tf.int64)
    augmented = cnn.augment(images, flip, seed).numpy()
    # Stateless: the same seed, the same variants; another seed, others.
    assert np.array_equal(cnn.augment(images, flip, seed).numpy(), augmented)
    assert not np.array_equal(cnn.augment(images, flip, seed + 1).numpy(), augmented)
    assert augmented.shape == images.shape
    seen = set()
    for i in range(len(images)):
        # Image i is still a shift of image i, flipped if asked, so labels[i] still
        # names it.
        matches = np.flatnonzero(np.all(variants(images[i].numpy()) == augmented[i],
                                        axis=(1, 2, 3)))
        assert len(matches) == 1, i
        assert (matches[0] >= 25) == (i % 3 == 0), i  # variants 25..49 are flipped
        seen.add(int(matches[0]) % 25)
    assert len(seen) > 10  # the shifts differ from image to image


def test_augment_with_a_smaller_size_cuts_a_random_square_of_each_shifted_image():
    tf.random.set_seed(2)
    images = tf.random.normal([40, 32, 32, 3])
    flip = tf.constant(np.arange(40) % 2 == 0)
    crops = cnn.augment(images, flip, tf.constant([4, 1], tf.int64), size=24).numpy()
    assert crops.shape == (40, 24, 24, 3)
    corners = set()
    for i in range(len(images)):
        image = images[i].numpy()[:, ::-1] if i % 2 == 0 else images[i].numpy()
        padded = np.pad(image, [(2, 2), (2, 2), (0, 0)], mode='reflect')
        found = [(y, x) for y in range(13) for x in range(13)
                 if np.array_equal(padded[y:y + 24, x:x + 24], crops[i])]
        assert len(found) == 1, i  # one square of the image, flipped if asked
        corners.add(found[0])
    assert len(corners) > 20  # anywhere in the padded image, not only near its centre


def test_progressive_resizing_trains_on_small_crops_then_whole_images(tiny_cifar,
                                                                      tmp_path):
    result = train_cnn(tiny_cifar, tmp_path / 'tf_logs', '--max_steps', 30,
                       '--small_steps', 20, '--small_size', 16)
    assert result.returncode == 0, result.stderr
    assert 'small_steps = 20' in result.stdout.splitlines()
    assert printed_value(restore(tiny_cifar, tmp_path / 'tf_logs').stdout,
                         'Test accuracy') == printed_value(result.stdout, 'Test accuracy')


def train_cnn(data_dir, train_dir, *flags, env=None):
    # CPU_DEVICES=2 splits the CPU as TensorFlow starts: a new process.
    run = run_subprocess if (env or {}).get('CPU_DEVICES') == '2' else run_script
    # Batches of 100, a tenth of the default's: a tenth of its learning rate.
    return run('run_cnn_model.py', '--data_dir', data_dir, '--train_dir', train_dir,
               '--channels', 4, '--batch_size', 100, '--learning_rate', 0.15,
               '--seed', 1, *flags, cwd=train_dir.parent, env=env)


@pytest.fixture(scope='module')
def cnn_run(tiny_cifar, tmp_path_factory):
    """One 300-step run of run_cnn_model.py shared by the tests that read its results."""
    train_dir = tmp_path_factory.mktemp('cnn') / 'tf_logs'
    result = train_cnn(tiny_cifar, train_dir, '--max_steps', 300, '--checkpoint_every', 200)
    assert result.returncode == 0, result.stderr
    return train_dir, result


def test_run_cnn_model_prints_progress_checkpoints_and_accuracy(cnn_run):
    train_dir, result = cnn_run
    lines = result.stdout.splitlines()
    for line in ['channels = 4', 'momentum = 0.85', 'label_smoothing = 0.2']:
        assert line in lines
    steps = lines_starting(result.stdout, 'Step')
    assert steps[0] == 'Step 0, training accuracy %s' % steps[0].split()[-1]
    # From the second line on: the epoch (1000 images, 100 a step), speed, time left.
    for step, line in zip(range(100, 300, 100), steps[1:]):
        assert line.startswith('Step %d, training accuracy ' % step), line
        assert ', epoch %.1f/30.0, ' % (step / 10) in line and line.endswith(' s left')
    run = run_folder(train_dir, 'cnn_')
    assert lines_starting(result.stdout, 'Saved checkpoint') == [
        'Saved checkpoint %s' % (run / 'checkpoint-200'),
        'Saved checkpoint %s' % (run / 'checkpoint-300')]
    assert printed_value(result.stdout, 'Test accuracy') > 0.5  # chance: 0.1


def test_tensorboard_shows_the_layers_and_the_first_filters(cnn_run):
    train_dir, _ = cnn_run
    events = read_events(run_folder(train_dir))
    scopes = {node.name.split('/')[0] for node in events.Graph().node}
    assert {'Augment', 'Whitening', 'Loss', 'Accuracy', 'Output', 'Lookahead'} | {
        'Conv%d_%d' % (block, layer) for block in (1, 2, 3) for layer in (1, 2)} <= scopes
    losses = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors('Loss/loss')]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert [e.step for e in events.Tensors('Output/logits')] == list(range(0, 300, 100))
    for tag in ['first_layer_filters', 'confusion_matrix', 'test_predictions']:
        [(step, image)] = logged_images(events, tag)
        assert step == 300 and image.ndim == 3, tag


def test_restore_tells_the_two_networks_apart(tiny_cifar, cnn_run, tmp_path):
    import shutil
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(cnn_run[0], train_dir)
    fc = train_fc(tiny_cifar, train_dir, '--max_steps', 200)
    assert fc.returncode == 0, fc.stderr
    cnn_folder, fc_folder = run_folders(train_dir)
    for folder, size, trained in [(cnn_folder, 'channels = 4', cnn_run[1]),
                                  (fc_folder, 'hidden1 = 120', fc)]:
        restored = restore(tiny_cifar, train_dir, '--run', folder.name)
        assert restored.returncode == 0, restored.stderr
        assert size in restored.stdout
        assert printed_value(restored.stdout, 'Test accuracy') == \
            printed_value(trained.stdout, 'Test accuracy')


def test_restore_model_restores_the_saved_weights(cnn_run, tmp_path):
    assert_restores_the_saved_weights(cnn_run[0], tmp_path)  # batch-norm statistics too


def test_resume_continues_and_refuses_other_channels(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    assert train_cnn(tiny_cifar, train_dir, '--max_steps', 100).returncode == 0
    resumed = train_cnn(tiny_cifar, train_dir, '--max_steps', 200, '--resume')
    assert resumed.returncode == 0, resumed.stderr
    run = run_folder(train_dir)
    assert 'Resuming run %s from step 100' % run.name in resumed.stdout
    assert printed_value(restore(tiny_cifar, train_dir).stdout, 'Current step:') == 200
    other = train_cnn(tiny_cifar, train_dir, '--max_steps', 300, '--resume',
                      '--channels', 8)
    assert_one_line_error(other, 'was trained with --channels 4', 'leave --channels out')


def test_a_gelu_run_with_wider_later_blocks_restores(tiny_cifar, tmp_path):
    import json
    train_dir = tmp_path / 'tf_logs'
    trained = train_cnn(tiny_cifar, train_dir, '--max_steps', 30, '--later_channels', 12,
                        '--activation', 'gelu')
    assert trained.returncode == 0, trained.stderr
    restored = restore(tiny_cifar, train_dir)
    assert restored.returncode == 0, restored.stderr
    assert printed_value(restored.stdout, 'Test accuracy') == \
        printed_value(trained.stdout, 'Test accuracy')
    for line in ['channels = 4', 'later_channels = 12', 'activation = gelu']:
        assert line in restored.stdout.splitlines()
    flags_file = run_folder(train_dir) / 'flags.json'
    recorded = json.loads(flags_file.read_text())
    assert recorded['flags']['activation'] == 'gelu'
    for flag, value in [('activation', 'tanh'), ('later_channels', 16)]:
        damaged = dict(recorded, flags=dict(recorded['flags'], **{flag: value}))
        flags_file.write_text(json.dumps(damaged))
        assert_one_line_error(restore(tiny_cifar, train_dir), 'it is damaged')


@pytest.mark.parametrize('flags, env, message', [
    (['--channels', 0], None, 'argument --channels: must be > 0, got 0'),
    (['--activation', 'tanh'], None, "argument --activation: invalid choice: 'tanh'"),
    (['--label_smoothing', 1], None, 'argument --label_smoothing: must be >= 0 and < 1'),
    (['--small_steps', 10, '--small_size', 33], None,
     '--small_size must be from 9 to the images\' size (32)'),
    (['--dtype', 'float16'], None, "argument --dtype: invalid choice: 'float16'"),
    (['--max_steps', 1], {'CPU_DEVICES': 'many'}, 'CPU_DEVICES must be a number'),
    (['--batch_size', 1], {'CPU_DEVICES': '2'}, 'at least the number of devices (2)'),
    (['--max_steps', 1], {'TF_CONFIG': '{"cluster": {}}'}, 'TF_CONFIG must be {"cluster"'),
])
def test_run_cnn_model_rejects_bad_input(tiny_cifar, tmp_path, flags, env, message):
    result = train_cnn(tiny_cifar, tmp_path / 'tf_logs', *flags, env=env)
    assert_one_line_error(result, message)

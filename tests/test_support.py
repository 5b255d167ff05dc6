"""The support package: zero-copy tensors, run folders and checkpoints, the training
loop's helpers, the pictures."""
import os
import signal
import sys

import numpy as np
import pytest
import tensorflow as tf

import two_layer_fc
from support import devices, loop, report, runs, script, zero_copy
from support.errors import InputError

CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']


# zero_copy -------------------------------------------------------------------------------

def test_concatenate_matches_numpy_in_aligned_memory():
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 255, (n, 7), dtype=np.uint8), np.arange(n)) for n in (5, 3, 9)]
    images, labels = zero_copy.concatenate(iter(parts), expected_parts=2)  # grows once
    np.testing.assert_array_equal(images, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(labels, np.concatenate([p[1] for p in parts]))
    assert images.ctypes.data % 64 == 0 and labels.ctypes.data % 64 == 0


def test_to_tensor_shares_aligned_memory_and_copies_the_rest():
    images, = zero_copy.concatenate([(np.zeros((4, 3072), np.uint8),)])
    tensor = zero_copy.to_tensor(images)
    images[3, 5] = 123  # a shared buffer shows the change; a copy would not
    assert int(tensor[3, 5]) == 123
    unaligned = np.arange(4 * 3072 + 1, dtype=np.float32)[1:].reshape(4, 3072)
    assert unaligned.ctypes.data % 64 != 0
    np.testing.assert_array_equal(zero_copy.to_tensor(unaligned).numpy(), unaligned)


# runs ------------------------------------------------------------------------------------

def test_run_name_lists_the_flags_given_that_differ_from_their_defaults():
    import run_fc_model
    args = run_fc_model.parse_args(['--hidden1', '40', '--learning_rate', '0.001',
                                    '--train_dir', 'elsewhere', '--seed', '3'])
    # The seed and where the run goes are left out (every run has a seed, drawn when not
    # given, in flags.json), and so is a flag given at its default value.
    assert args.run.startswith('fc_hidden1=40_') and len(args.run) == len(
        'fc_hidden1=40_') + len('20261122-101500')


def test_new_runs_never_share_a_folder(tmp_path):
    first = runs.new_run(str(tmp_path), 'fc_x')
    second = runs.new_run(str(tmp_path), 'fc_x')
    assert (first.name, second.name) == ('fc_x', 'fc_x_2')


def small_checkpoint(hidden=16, step=0):
    model = two_layer_fc.TwoLayerFC(3072, hidden, 10)
    model.global_step.assign(step)
    return model, tf.train.Checkpoint(model=model)


def test_save_keeps_five_checkpoints_and_restores_the_newest(tmp_path):
    run = runs.new_run(str(tmp_path), 'fc_a')
    model, checkpoint = small_checkpoint()
    for step in range(100, 800, 100):
        model.global_step.assign(step)
        run.save(checkpoint, step)
    assert run.checkpoints() == [300, 400, 500, 600, 700]
    assert not [n for n in os.listdir(run.path) if n.startswith('checkpoint-100')]
    restored, restored_checkpoint = small_checkpoint()
    assert run.restore(restored_checkpoint) == run.checkpoint_path(700)
    assert int(restored.global_step) == 700
    np.testing.assert_array_equal(restored.weights1.numpy(), model.weights1.numpy())
    assert ('model/weights1/.ATTRIBUTES/VARIABLE_VALUE', [3072, 16]) in tf.train.list_variables(
        run.latest_checkpoint())


def test_find_run_takes_the_newest_or_the_named(tmp_path):
    older = runs.new_run(str(tmp_path), 'fc_old')
    newer = runs.new_run(str(tmp_path), 'fc_new')
    runs.new_run(str(tmp_path), 'softmax_x')  # no checkpoint: never chosen
    _, checkpoint = small_checkpoint()
    newer.save(checkpoint, 5)
    older.save(checkpoint, 9)  # written last: the newest
    assert runs.find_run(str(tmp_path)).name == 'fc_old'
    assert runs.find_run(str(tmp_path), 'fc_new').name == 'fc_new'
    for name, message in [('nope', "no run 'nope'"), ('../x', "no run '../x'"),
                          ('softmax_x', 'has no checkpoint')]:
        with pytest.raises(InputError, match=message):
            runs.find_run(str(tmp_path), name)
    with pytest.raises(InputError, match='no run with a checkpoint'):
        runs.find_run(str(tmp_path / 'empty'))


def test_restoring_another_shape_is_refused(tmp_path):
    run = runs.new_run(str(tmp_path), 'fc_a')
    run.save(small_checkpoint(hidden=16)[1], 1)
    with pytest.raises(InputError, match='cannot restore'):
        run.restore(small_checkpoint(hidden=8)[1])


# loop ------------------------------------------------------------------------------------

def test_predict_in_batches_equals_all_at_once():
    images = tf.random.normal([2500, 6])
    weights = tf.random.normal([6, 3])
    np.testing.assert_allclose(
        loop.predict(lambda x: tf.matmul(x, weights), images, batch_size=1000).numpy(),
        tf.matmul(images, weights).numpy(), rtol=1e-5)


def test_predict_says_that_it_starts_and_how_far_it_is(monkeypatch, capsys):
    images = tf.zeros([2500, 6])
    loop.predict(lambda x: x, images)
    assert capsys.readouterr().out == ''  # asked for no progress
    monkeypatch.setattr(loop, 'PROGRESS_EVERY', 0)  # a line after every batch
    loop.predict(lambda x: x, images, what='test images, each seen 6 ways')
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Classifying the 2500 test images, each seen 6 ways'
    assert [line.split(' s left')[0].rsplit(', ', 1)[0] for line in lines[1:]] == [
        '  1000 of 2500 classified', '  2000 of 2500 classified']  # none at the end


# report ----------------------------------------------------------------------------------

@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    guesses = np.where(rng.random(500) < 0.4, labels, rng.integers(0, 10, 500))
    return labels, guesses


def test_confusion_matrix_counts_every_image_once(predictions):
    labels, guesses = predictions
    matrix = report.confusion_matrix(labels, guesses, 10)
    assert matrix.shape == (10, 10) and matrix.sum() == len(labels)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(guesses, minlength=10))
    np.testing.assert_array_equal(
        matrix, tf.math.confusion_matrix(labels, guesses, 10).numpy())


def test_per_class_accuracy_matches_numpy(predictions):
    labels, guesses = predictions
    accuracy = report.per_class_accuracy(report.confusion_matrix(labels, guesses, 10))
    np.testing.assert_allclose(accuracy, [np.mean(guesses[labels == c] == c)
                                          for c in range(10)])


def test_text_report_lists_every_class_with_its_row(predictions):
    labels, guesses = predictions
    matrix = report.confusion_matrix(labels, guesses, 10)
    lines = report.text_report(matrix, CLASSES).splitlines()
    assert lines[0] == 'Per-class accuracy:'
    for c, name in enumerate(CLASSES):
        accuracy_line = lines[1 + c].split()
        assert accuracy_line[0] == name
        assert float(accuracy_line[1]) == pytest.approx(matrix[c, c] / matrix[c].sum(),
                                                        abs=5e-4)
        row = lines[13 + c].split()
        assert row[0] == name and [int(n) for n in row[1:]] == matrix[c].tolist()
    assert lines[12].split() == CLASSES


def test_confusion_figure_writes_counts_and_full_class_names(predictions):
    labels, guesses = predictions
    matrix = report.confusion_matrix(labels, guesses, 10)
    axes, = report.confusion_figure(matrix, CLASSES).axes
    assert [t.get_text() for t in axes.get_xticklabels()] == CLASSES
    assert [t.get_text() for t in axes.get_yticklabels()] == CLASSES
    cells = sorted((t.get_position(), t.get_text()) for t in axes.texts)
    assert len(cells) == 100
    assert [int(text) for _, text in cells] == matrix.T.ravel().tolist()


def test_prediction_figure_colours_right_and_wrong():
    images = np.random.default_rng(0).random((3, 32, 32, 3))
    figure = report.prediction_figure(images, [0, 1, 2], [0, 5, 2], CLASSES)
    captions = [[(t.get_text(), t.get_color()) for t in axes.texts] for axes in figure.axes]
    assert captions[1] == [('true: car', 'black'), ('predicted: dog', 'red')]
    assert captions[2][1] == ('predicted: bird', 'green')


def test_to_hwc_reads_channel_planes():
    rows = np.arange(2 * 3 * 4 * 5).reshape(2, 3 * 4 * 5)
    images = report.to_hwc(rows, (3, 4, 5))
    assert images.shape == (2, 4, 5, 3)
    assert images[1, 2, 3, 1] == rows[1, 1 * 20 + 2 * 5 + 3]


@pytest.mark.skipif(sys.platform == 'win32', reason='Windows cannot signal its own process')
@pytest.mark.parametrize('worker', [False, True])
def test_ctrl_c_ends_the_loop_after_the_step_with_a_checkpoint_and_the_command(
        tmp_path, capsys, worker):
    # A run's own folder gets the checkpoint and the command that continues it; a
    # cluster's worker 1, 2... (a WorkerRun, whose folder goes at the end) neither.
    run = runs.WorkerRun() if worker else runs.new_run(str(tmp_path), 'fc_a')
    model, checkpoint = small_checkpoint(step=3)
    taken = []
    with pytest.raises(SystemExit) as stopped:
        for step in loop.steps(model.global_step, 10, run, checkpoint,
                               run.resume_command('run_fc_model.py', 'tf_logs')):
            taken.append(step)
            model.global_step.assign_add(1)
            if step == 5:
                os.kill(os.getpid(), signal.SIGINT)
    assert stopped.value.code == 130 and taken == [3, 4, 5]
    message = capsys.readouterr().err.strip()
    if worker:
        assert message == ('Interrupted at step 6: continue with the same command with '
                           '--resume on every worker')
        run.close()
        assert not os.path.exists(run.path)
    else:
        assert message == ('Interrupted at step 6: saved checkpoint %s; continue with: '
                           'python run_fc_model.py --resume fc_a'
                           % run.checkpoint_path(6))
        assert run.checkpoints() == [6]


# devices ---------------------------------------------------------------------------------

@pytest.fixture
def cpuinfo(monkeypatch, tmp_path):
    """A file that support.script reads for /proc/cpuinfo (none until written)."""
    path, real_open = tmp_path / 'cpuinfo', open
    monkeypatch.setattr(script, 'open', lambda name, *args: real_open(
        path if name == '/proc/cpuinfo' else name, *args), raising=False)
    return path


@pytest.mark.parametrize('flags, expected, why', [
    ('fpu sse2 avx2 avx512f avx512_vnni', tf.float32, 'this CPU has no bfloat16 '
     'instructions (AVX512_BF16 or AMX_BF16), so Part 3 takes longer: docs/part3.md has '
     'a faster command'),
    ('fpu avx2 avx512f avx512_bf16 avx512_vnni', tf.bfloat16,  # AMD Zen 4, say
     'this CPU has bfloat16 instructions (AVX512_BF16)'),
    ('fpu avx512_bf16 amx_bf16 amx_tile', tf.bfloat16,  # Intel from Sapphire Rapids on
     'this CPU has bfloat16 instructions (AMX_BF16, AVX512_BF16)'),
    (None, tf.float32, 'bfloat16 instructions are looked for in /proc/cpuinfo, which only '
     'Linux has')])  # macOS, Windows
def test_auto_precision_is_bfloat16_on_cpus_with_bfloat16_instructions_and_says_why(
        cpuinfo, capsys, flags, expected, why):
    if flags is not None:
        cpuinfo.write_text('processor\t: 0\nflags\t\t: %s\n\nprocessor\t: 1\n' % flags)
    assert devices.compute_dtype('auto') == expected
    assert capsys.readouterr().out == ''
    assert devices.compute_dtype('auto', explain=True) == expected
    assert capsys.readouterr().out == 'dtype = %s (--dtype auto): %s\n' % (
        expected.name, why)
    assert devices.compute_dtype('float32', explain=True) == tf.float32
    assert capsys.readouterr().out == ''  # chosen by the learner: nothing to explain


def test_an_x86_cpu_without_avx_is_refused_before_tensorflow_aborts(monkeypatch, cpuinfo):
    import platform
    monkeypatch.setattr(platform, 'machine', lambda: 'x86_64')
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx avx2\n')
    script.check_cpu()
    assert script.cpu_flags() == {'fpu', 'sse2', 'avx', 'avx2'}
    cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu sse2 sse4_2\n')
    with pytest.raises(ImportError, match='no AVX instructions'):
        script.check_cpu()


def test_flags_are_taken_with_hyphens_too():
    import run_cnn_model
    hyphens = run_cnn_model.parse_args(['--max-steps', '300', '--label-smoothing=0.1',
                                        '--no-lookahead', '--seed', '1'])
    underscores = run_cnn_model.parse_args(['--max_steps', '300', '--label_smoothing=0.1',
                                            '--no_lookahead', '--seed', '1'])
    assert vars(hyphens) == vars(underscores)
    assert hyphens.max_steps == 300 and hyphens.no_lookahead
    with pytest.raises(SystemExit):  # a flag that does not exist either way
        run_cnn_model.parse_args(['--max-stepz', '300'])


def test_git_ignores_the_data_and_the_runs_also_as_symbolic_links():
    import shutil
    import subprocess
    from conftest import ROOT
    if shutil.which('git') is None or not (ROOT / '.git').exists():
        pytest.skip('not a git checkout')
    # A path that does not exist counts as a file, as a symbolic link does.
    for name in ['cifar-10-batches-py', 'tf_logs', 'image_cache', 'MNIST_data',
                 'fashion_mnist_data']:
        assert subprocess.run(['git', '-C', str(ROOT), 'check-ignore', '-q', '--no-index',
                               name]).returncode == 0, name

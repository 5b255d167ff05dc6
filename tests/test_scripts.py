"""End to end: each script run as a learner runs it, on the small dataset."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import (ROOT, assert_bitwise_equal, assert_one_line_error,
                      assert_restores_the_saved_weights, checkpoint_weights, lines_starting,
                      logged_images, printed_value, read_events, restore, run_folder,
                      run_folders, run_script, run_subprocess, sends_signals, train_fc,
                      write_cifar)

CHANCE = 0.1
CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
           'truck']


def printed_confusion_matrix(output):
    """The confusion matrix and per-class accuracies a script printed."""
    lines = output.splitlines()
    start = lines.index('Per-class accuracy:')
    accuracies = {l.split()[0]: float(l.split()[1]) for l in lines[start + 1:start + 11]}
    header = lines.index('Confusion matrix (rows: true class, columns: predicted class):')
    assert lines[header + 1].split() == CLASSES
    rows = [l.split() for l in lines[header + 2:header + 12]]
    assert [r[0] for r in rows] == CLASSES
    return np.array([[int(n) for n in r[1:]] for r in rows]), accuracies


def assert_tables_match_accuracy(output, test_images):
    matrix, accuracies = printed_confusion_matrix(output)
    assert matrix.sum() == test_images
    assert np.trace(matrix) / matrix.sum() == pytest.approx(
        printed_value(output, 'Test accuracy'), abs=5e-5)  # printed to 4 digits
    for c, name in enumerate(CLASSES):
        if matrix[c].sum():
            assert accuracies[name] == pytest.approx(matrix[c, c] / matrix[c].sum(),
                                                     abs=5e-4)


# softmax.py ----------------------------------------------------------------------------

def test_softmax_trains_and_prints_the_tutorial_lines(tiny_cifar, tmp_path):
    result = run_script('softmax.py', '--data_dir', tiny_cifar, '--seed', 3, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    steps = lines_starting(result.stdout, 'Step')
    assert [int(re.match(r'Step +(\d+): training accuracy [\d.]+$', s).group(1))
            for s in steps] == list(range(0, 1000, 100))
    assert printed_value(result.stdout, 'Test accuracy') > 2 * CHANCE
    assert re.search(r'^Total time: +[\d.]+s$', result.stdout, re.M)
    assert result.stderr == ''
    assert_tables_match_accuracy(result.stdout, 200)

    # TensorBoard: curves every 100 steps (the tags of Part 2, so they share a chart),
    # and the three pictures at the last step.
    events = read_events(run_folder(tmp_path / 'tf_logs', 'softmax_'))
    for tag in ['Loss/loss', 'Accuracy/train_accuracy']:
        assert [e.step for e in events.Tensors(tag)] == list(range(0, 1000, 100))
    for tag in ['weight_templates', 'test_predictions', 'confusion_matrix']:
        (step, picture), = logged_images(events, tag)
        assert step == 1000 and picture.shape[0] > 300 and picture.shape[1] > 500


def test_seed_makes_runs_repeatable(tiny_cifar, tmp_path):
    def accuracies(seed):
        result = run_script('softmax.py', '--data_dir', tiny_cifar, '--seed', seed,
                            '--max_steps', 300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [l for l in result.stdout.splitlines() if 'accuracy' in l]
    first = accuracies(7)
    assert first == accuracies(7)
    assert first != accuracies(8)


@pytest.mark.parametrize('flags,message', [
    (['--learning_rate', '0'], '--learning_rate: must be > 0'),
    (['--learning_rate', 'fast'], "'fast' is not a number"),
    (['--max_steps', '-1'], '--max_steps: must be > 0'),
    (['--max_steps', '0'], '--max_steps: must be > 0, got 0'),  # a run takes a step
    (['--batch_size', '0'], '--batch_size: must be > 0'),
    (['--batch_size', '1001'], '--batch_size must be at most the number of training '
                               'images (1000)'),
])
def test_softmax_rejects_bad_flags(tiny_cifar, tmp_path, flags, message):
    result = run_script('softmax.py', '--data_dir', tiny_cifar, *flags, cwd=tmp_path)
    assert_one_line_error(result, message)
    assert not (tmp_path / 'tf_logs').exists()  # no run folder, with or without a step


@pytest.mark.parametrize('script', ['run_fc_model.py', 'run_cnn_model.py'])
def test_a_run_of_no_steps_is_refused_before_it_makes_a_folder(tiny_cifar, tmp_path, script):
    result = run_script(script, '--data_dir', tiny_cifar, '--max_steps', 0, cwd=tmp_path)
    assert_one_line_error(result, '--max_steps: must be > 0, got 0')
    assert not (tmp_path / 'tf_logs').exists()


def test_missing_data_folder_without_network_is_one_line(tmp_path):
    refused = 'http://127.0.0.1:9/cifar-10-python.tar.gz'  # the discard port: closed
    for script in ['softmax.py', 'run_fc_model.py']:
        result = run_script(script, '--data_dir', tmp_path / 'cifar-10-batches-py', cwd=tmp_path,
                            env={'CIFAR10_URL': refused})
        assert_one_line_error(result, 'cannot download %s' % refused, 'by hand')
        assert result.returncode == 1
        assert list(tmp_path.iterdir()) == []  # no partial download, no empty run


def test_broken_pickle_is_named(tmp_path):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    (folder / 'data_batch_5').write_bytes(b'\x80\x02}q\x00(X')
    result = run_script('softmax.py', '--data_dir', folder, cwd=tmp_path)
    assert_one_line_error(result, 'data_batch_5 is truncated')


# run_fc_model.py and restore_model.py --------------------------------------------------

@pytest.fixture(scope='module')
def trained(tiny_cifar, tmp_path_factory):
    """One 1200-step training run shared by the tests that read its results."""
    train_dir = tmp_path_factory.mktemp('run') / 'tf_logs'
    result = train_fc(tiny_cifar, train_dir, '--max_steps', 1200)
    assert result.returncode == 0, result.stderr
    return train_dir, result


def test_run_fc_model_prints_parameters_steps_checkpoints_and_accuracy(trained):
    train_dir, result = trained
    lines = result.stdout.splitlines()
    assert lines[:3] == ['', 'Parameters:', 'batch_size = 100']
    for line in ['hidden1 = 120', 'learning_rate = 0.001', 'max_steps = 1200',
                 'reg_constant = 0.1', 'train_dir = %s' % train_dir]:
        assert line in lines
    steps = lines_starting(result.stdout, 'Step')
    assert [int(re.match(r'Step (\d+), training accuracy [\d.]+$', s).group(1))
            for s in steps] == list(range(0, 1200, 100))
    run = run_folder(train_dir, 'fc_batch_size=100_max_steps=1200_')
    assert 'Logs and checkpoints go to %s' % run in lines
    assert lines_starting(result.stdout, 'Saved checkpoint') == [
        'Saved checkpoint %s' % (run / 'checkpoint-1000'),
        'Saved checkpoint %s' % (run / 'checkpoint-1200')]
    assert printed_value(result.stdout, 'Test accuracy') > 3 * CHANCE
    assert lines[-1].startswith('Total time:')


def test_tensorboard_reads_scalars_histogram_graph_and_images(trained):
    train_dir, result = trained
    events = read_events(run_folder(train_dir))
    assert events.Tags()['graph']
    # The Graphs tab shows the network of one step, as in the tutorial, not the loop.
    graph = events.Graph()
    scopes = {node.name.split('/')[0] for node in graph.node}
    assert {'Layer1', 'Layer2', 'Loss', 'Accuracy'} <= scopes
    assert any(node.op == 'MatMul' and node.name.startswith('Layer1/') for node in graph.node)
    assert not any(node.op in ('While', 'StatelessWhile') for node in graph.node)
    for tag, plugin in [('Loss/loss', 'scalars'), ('Accuracy/train_accuracy', 'scalars'),
                        ('Layer2/logits', 'histograms')]:
        logged = events.Tensors(tag)
        assert [e.step for e in logged] == list(range(0, 1200, 100)), tag
        assert events.SummaryMetadata(tag).plugin_data.plugin_name == plugin
    losses = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors('Loss/loss')]
    assert losses[-1] < losses[0]
    assert [step for step, _ in logged_images(events, 'confusion_matrix')] == [1200]
    assert [step for step, _ in logged_images(events, 'test_predictions')] == [1200]
    assert 'weight_templates' not in events.Tags()['tensors']  # a softmax-only view
    assert_tables_match_accuracy(result.stdout, 200)


def test_softmax_and_two_layer_runs_share_their_scalar_tags(tiny_cifar, trained, tmp_path):
    assert run_script('softmax.py', '--data_dir', tiny_cifar, '--max_steps', 200,
                      cwd=tmp_path).returncode == 0
    softmax_tags = set(read_events(run_folder(tmp_path / 'tf_logs')).Tags()['tensors'])
    fc_tags = set(read_events(run_folder(trained[0])).Tags()['tensors'])
    assert {'Loss/loss', 'Accuracy/train_accuracy'} <= softmax_tags & fc_tags


def test_restore_model_reproduces_the_printed_accuracy(tiny_cifar, trained):
    train_dir, result = trained
    restored = restore(tiny_cifar, train_dir)
    assert restored.returncode == 0, restored.stderr
    assert 'Restoring variables from checkpoint' in restored.stdout
    assert printed_value(restored.stdout, 'Current step:') == 1200
    assert printed_value(restored.stdout, 'Test accuracy') == \
        printed_value(result.stdout, 'Test accuracy')
    assert_tables_match_accuracy(restored.stdout, 200)
    assert printed_confusion_matrix(restored.stdout)[0].tolist() == \
        printed_confusion_matrix(result.stdout)[0].tolist()


def test_restore_model_restores_the_saved_weights(trained, tmp_path):
    assert_restores_the_saved_weights(trained[0], tmp_path)


@pytest.mark.parametrize('script, flags', [
    ('run_fc_model.py', ['--hidden1', 8, '--batch_size', 50, '--max_steps', 100]),
    ('run_cnn_model.py', ['--channels', 4, '--batch_size', 20, '--max_steps', 20,
                          '--dtype', 'float32']),
])
def test_the_same_seed_repeats_a_run_bit_for_bit(tiny_cifar, tmp_path, script, flags):
    def run(seed, folder):
        result = run_script(script, '--data_dir', tiny_cifar, '--train_dir',
                            tmp_path / folder, '--seed', seed, *flags, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return (lines_starting(result.stdout, 'Saved checkpoint')[-1].split()[-1],
                [line for line in result.stdout.splitlines() if 'accuracy' in line])
    (first, printed), (again, printed_again), (other, _) = run(4, 'a'), run(4, 'b'), run(5, 'c')
    assert_bitwise_equal(first, again)
    assert printed == printed_again
    first, other = checkpoint_weights(first), checkpoint_weights(other)
    assert any(first[n].tobytes() != other[n].tobytes() for n in first if 'model/' in n)


def test_two_runs_keep_their_own_folders_and_restore_picks_either(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    first = train_fc(tiny_cifar, train_dir, '--max_steps', 300, '--hidden1', 30)
    second = train_fc(tiny_cifar, train_dir, '--max_steps', 300, '--hidden1', 40)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    folders = run_folders(train_dir)
    assert [f.name.split('_20')[0] for f in folders] == [
        'fc_batch_size=100_hidden1=30_max_steps=300',
        'fc_batch_size=100_hidden1=40_max_steps=300']
    for folder in folders:
        assert sorted(p.name for p in folder.glob('checkpoint-*.index')) == [
            'checkpoint-300.index']
    newest = restore(tiny_cifar, train_dir)
    assert newest.returncode == 0, newest.stderr
    assert 'run = %s' % folders[1].name in newest.stdout and 'hidden1 = 40' in newest.stdout
    assert printed_value(newest.stdout, 'Test accuracy') == \
        printed_value(second.stdout, 'Test accuracy')
    named = restore(tiny_cifar, train_dir, '--run', folders[0].name)
    assert 'hidden1 = 30' in named.stdout
    assert printed_value(named.stdout, 'Test accuracy') == \
        printed_value(first.stdout, 'Test accuracy')


def test_resume_continues_with_the_step_counter(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    assert train_fc(tiny_cifar, train_dir, '--max_steps', 1000).returncode == 0
    run = run_folder(train_dir)
    resumed = train_fc(tiny_cifar, train_dir, '--max_steps', 1300, '--resume')
    assert resumed.returncode == 0, resumed.stderr
    assert 'Resuming run %s from step 1000' % run.name in resumed.stdout
    assert run_folder(train_dir) == run  # the same folder, no new one
    assert sorted(p.name for p in run.glob('checkpoint-*.index')) == [
        'checkpoint-1000.index', 'checkpoint-1300.index']
    steps = lines_starting(resumed.stdout, 'Step')
    assert steps[0].startswith('Step 1000,') and steps[-1].startswith('Step 1200,')
    assert printed_value(restore(tiny_cifar, train_dir).stdout, 'Current step:') == 1300


@sends_signals
def test_ctrl_c_saves_the_current_step(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    process = subprocess.Popen(
        [sys.executable, '-u', str(ROOT / 'run_fc_model.py'), '--data_dir', str(tiny_cifar),
         '--train_dir', str(train_dir), '--max_steps', '1000000', '--batch_size', '100'],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith('Step 200,'):
            break
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    run = run_folder(train_dir)
    match = re.search(r'Interrupted at step (\d+): saved checkpoint (\S+); continue with: '
                      r'python run_fc_model.py --resume (\S+) --train_dir (\S+)$', err)
    assert match and 'Traceback' not in err, err
    step = int(match.group(1))
    assert step >= 200
    assert match.group(2) == str(run / ('checkpoint-%d' % step))
    assert match.group(3) == run.name
    assert printed_value(restore(tiny_cifar, train_dir).stdout, 'Current step:') == step


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    result = train_fc(tiny_cifar, train_dir, '--max_steps', 1000, '--learning_rate', 0.05,
                      '--checkpoint_every', 1)
    assert_one_line_error(result, 'training diverged', 'lower --learning_rate')
    match = re.search(r'loss became nan at step (\d+).*last good checkpoint is (\S+)$',
                      result.stderr.strip())
    step, last_good = int(match.group(1)), match.group(2)
    # The checkpoint of the weights the diverging step started from: all finite.
    assert last_good == str(run_folder(train_dir) / ('checkpoint-%d' % step))
    reader = tf.train.load_checkpoint(last_good)
    for name, _ in tf.train.list_variables(last_good):
        if 'OBJECT_GRAPH' not in name:
            assert np.all(np.isfinite(reader.get_tensor(name))), name
    after = restore(tiny_cifar, train_dir)
    assert printed_value(after.stdout, 'Current step:') == step


@pytest.mark.parametrize('flags,message', [
    (['--hidden1', '0'], '--hidden1: must be > 0'),
    (['--reg_constant', '-0.1'], '--reg_constant: must be >= 0'),
    (['--learning_rate', '-1'], '--learning_rate: must be > 0'),
    (['--learning_rate', 'nan'], '--learning_rate: must be > 0'),
    (['--max_steps', '-5'], '--max_steps: must be > 0'),
    (['--batch_size', '0'], '--batch_size: must be > 0'),
    (['--batch_size', '5000'], '--batch_size must be at most the number of training '
                               'images (1000)'),
    (['--resume'], 'no run with a checkpoint in'),
    (['--resume', 'fc_none'], "no run 'fc_none'"),
])
def test_run_fc_model_rejects_bad_input(tiny_cifar, tmp_path, flags, message):
    result = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                        tmp_path / 'tf_logs', *flags, cwd=tmp_path)
    assert_one_line_error(result, message)
    assert not list(tmp_path.glob('tf_logs/*'))  # no run folder left behind


def test_resume_with_other_hidden_units_is_refused(tiny_cifar, trained, tmp_path):
    train_dir, _ = trained
    result = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                        train_dir, '--resume', '--hidden1', 64, cwd=tmp_path)
    assert_one_line_error(result, 'was trained with --hidden1 120', 'leave --hidden1 out')


def test_restore_model_without_a_checkpoint(tiny_cifar, tmp_path):
    (tmp_path / 'empty').mkdir()
    for train_dir in [tmp_path / 'empty', tmp_path / 'missing']:
        result = restore(tiny_cifar, train_dir)
        assert_one_line_error(result, 'no run with a checkpoint in', 'run_fc_model.py')


def test_restore_model_refuses_a_checkpoint_of_another_shape(tiny_cifar, trained, tmp_path):
    import shutil
    import two_layer_fc
    from support import runs
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(trained[0], train_dir)
    other = two_layer_fc.TwoLayerFC(784, 8, 10)  # an MNIST-sized network, in place
    mean_image = tf.Variable(tf.zeros([784]))  # of the run's checkpoints
    run = runs.Run(str(run_folder(train_dir)))
    run.save(tf.train.Checkpoint(model=other, mean_image=mean_image), 5000)
    result = restore(tiny_cifar, train_dir)
    assert_one_line_error(result, 'cannot restore', 'checkpoint-5000', 'another network')


def test_restore_model_refuses_a_corrupt_checkpoint(tiny_cifar, trained, tmp_path):
    import shutil
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(trained[0], train_dir)
    index = run_folder(train_dir) / 'checkpoint-1200.index'
    index.write_bytes(index.read_bytes()[:40])
    result = restore(tiny_cifar, train_dir)
    assert_one_line_error(result, 'checkpoint-1200')


# Starting up -----------------------------------------------------------------------------

@pytest.mark.parametrize('script', [
    'softmax.py', 'run_fc_model.py', 'run_cnn_model.py', 'run_pretrained_model.py',
    'restore_model.py', 'predict_image.py', 'tune_fc_model.py'])
def test_help_and_flag_errors_answer_before_tensorflow_is_imported(script, tmp_path):
    # A tensorflow that cannot be imported: the answers come before any import of it.
    fake = tmp_path / 'fake' / 'tensorflow'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text('raise SystemExit("tensorflow was imported")')
    env = {'PYTHONPATH': os.pathsep.join(filter(None, [str(fake.parent),
                                                       os.environ.get('PYTHONPATH')]))}
    result = run_subprocess(script, '-h', cwd=tmp_path, env=env)
    assert result.returncode == 0 and 'usage:' in result.stdout, result.stderr
    images = ['photo.jpg'] if script == 'predict_image.py' else []
    bad = run_subprocess(script, *images, '--no_such_flag', cwd=tmp_path, env=env)
    assert_one_line_error(bad, 'unrecognized arguments: --no_such_flag')


def wait_for_tensorflow_import(process):
    """Return once process has begun to load TensorFlow's library: its flags are
    parsed then. (Where /proc does not tell, as on macOS, after half a second.)"""
    maps = '/proc/%d/maps' % process.pid
    if not os.path.exists(maps):
        time.sleep(0.5)
        return
    while process.poll() is None:
        with open(maps) as f:
            if 'tensorflow' in f.read():
                return
        time.sleep(0.01)


@sends_signals
def test_ctrl_c_during_start_up_is_one_line(tiny_cifar, tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(ROOT / 'run_fc_model.py'), '--data_dir', str(tiny_cifar)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_tensorflow_import(process)  # not the clock: a busy machine starts slowly
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == 'Interrupted.'
    assert not (tmp_path / 'tf_logs').exists()


def test_input_scale_is_kept_in_the_checkpoint(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    scaled = train_fc(tiny_cifar, train_dir, '--max_steps', 200, '--input_scale', 0.015625,
                      '--learning_rate', 0.02)
    assert scaled.returncode == 0, scaled.stderr
    restored = restore(tiny_cifar, train_dir)
    assert printed_value(restored.stdout, 'Test accuracy') == \
        printed_value(scaled.stdout, 'Test accuracy')
    # Resumed without repeating its flags, the run keeps them.
    resumed = run_script('run_fc_model.py', '--train_dir', train_dir, '--resume',
                         '--max_steps', 300, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'input_scale = 0.015625' in resumed.stdout.splitlines()
    assert 'learning_rate = 0.02' in resumed.stdout.splitlines()

"""A resumed run is the same run: after kill -9, SIGTERM or Ctrl-C, `--resume` alone ends
with the very weights of the run left alone, bit for bit (CPU, float32)."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import (ROOT, assert_bitwise_equal, assert_one_line_error,
                      run_folder, run_script, sends_signals)

FC = ['--hidden1', 8, '--batch_size', 50, '--max_steps', 300, '--checkpoint_every', 100,
      '--seed', 3]
CNN = ['--channels', 4, '--batch_size', 20, '--max_steps', 30, '--checkpoint_every', 10,
       '--dtype', 'float32', '--seed', 5]


def train(script, data, train_dir, *flags):
    train_dir.parent.mkdir(parents=True, exist_ok=True)
    result = run_script(script, '--data_dir', data, '--train_dir', train_dir, *flags,
                        cwd=train_dir.parent)
    assert result.returncode == 0, result.stderr
    return result


def interrupted(script, data, train_dir, flags, signum, after):
    """Start a run, send signum once a line starting with `after` is printed."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / script), '--data_dir', str(data), '--train_dir',
         str(train_dir)] + [str(f) for f in flags], cwd=train_dir.parent,
        env=dict(os.environ, PYTHONUNBUFFERED='1'), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith(after):
            process.kill() if signum == 'kill' else process.send_signal(signum)
            break
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.fixture(scope='module')
def fc_reference(tiny_cifar, tmp_path_factory):
    """The final checkpoint of the FC run left alone."""
    train_dir = tmp_path_factory.mktemp('reference') / 'tf_logs'
    train('run_fc_model.py', tiny_cifar, train_dir, *FC)
    return run_folder(train_dir) / 'checkpoint-300'


@pytest.mark.parametrize('signum, status', [
    ('kill', None),  # kill -9 (TerminateProcess on Windows): nothing can be saved
    pytest.param(signal.SIGTERM, 143, marks=sends_signals),
    pytest.param(signal.SIGINT, 130, marks=sends_signals)],
    ids=['kill-9', 'SIGTERM', 'Ctrl-C'])
def test_fc_resumed_after_a_signal_ends_as_the_run_left_alone(
        tiny_cifar, tmp_path, fc_reference, signum, status):
    train_dir = tmp_path / 'tf_logs'
    code, out, err = interrupted('run_fc_model.py', tiny_cifar, train_dir, FC, signum,
                                 'Saved checkpoint')
    assert code == status if status else code != 0, err
    run = run_folder(train_dir)
    if signum != 'kill':  # one line that names the command to continue with
        lines = err.strip().splitlines()
        assert len(lines) == 1 and 'saved checkpoint' in lines[0], err
        command = lines[0].split('continue with: ')[1].split()
        assert command[:4] == ['python', 'run_fc_model.py', '--resume', run.name]
        resume_flags = command[2:]  # as printed: --resume RUN --train_dir DIR
    else:
        resume_flags = ['--resume']
    resumed = train('run_fc_model.py', tiny_cifar, train_dir, *resume_flags)
    assert 'Resuming run %s' % run.name in resumed.stdout
    assert_bitwise_equal(run / 'checkpoint-300', fc_reference)


@sends_signals
@pytest.mark.parametrize('steps', [[], ['--spectral_rate', 0.1, '--warmup', 0],
                                   ['--small_steps', 15, '--small_size', 20]],
                         ids=['gradient-descent', 'spectral', 'small-crops'])
def test_cnn_resumed_after_ctrl_c_ends_as_the_run_left_alone(tiny_cifar, tmp_path, steps):
    reference_dir = tmp_path / 'reference' / 'tf_logs'
    train('run_cnn_model.py', tiny_cifar, reference_dir, *CNN, *steps)
    train_dir = tmp_path / 'tf_logs'
    code, _, err = interrupted('run_cnn_model.py', tiny_cifar, train_dir, CNN + steps,
                               signal.SIGINT, 'Saved checkpoint')
    assert code == 130, err
    train('run_cnn_model.py', tiny_cifar, train_dir, '--resume')
    assert_bitwise_equal(run_folder(train_dir) / 'checkpoint-30',
                         run_folder(reference_dir) / 'checkpoint-30')


def test_a_run_without_seed_resumes_exactly_too(tiny_cifar, tmp_path):
    """The drawn seed is recorded: resuming repeats the batches the run would have had."""
    flags = [f for f in FC if f not in ('--seed', 3)]
    alone_dir, train_dir = tmp_path / 'alone' / 'tf_logs', tmp_path / 'tf_logs'
    train('run_fc_model.py', tiny_cifar, train_dir, *flags)
    run = run_folder(train_dir)
    seed = json.loads((run / 'flags.json').read_text())['flags']['seed']
    for name in os.listdir(run):  # as if killed just after the checkpoint at step 100
        if name.startswith(('checkpoint-200', 'checkpoint-300')):
            os.remove(run / name)
    train('run_fc_model.py', tiny_cifar, train_dir, '--resume')
    train('run_fc_model.py', tiny_cifar, alone_dir, *flags, '--seed', seed)
    assert_bitwise_equal(run / 'checkpoint-300', run_folder(alone_dir) / 'checkpoint-300')


def test_extending_a_finished_run_equals_the_longer_run(tiny_cifar, tmp_path, fc_reference):
    train_dir = tmp_path / 'tf_logs'
    shorter = [str(f) for f in FC]
    shorter[shorter.index('--max_steps') + 1] = '200'
    train('run_fc_model.py', tiny_cifar, train_dir, *shorter)
    train('run_fc_model.py', tiny_cifar, train_dir, '--resume', '--max_steps', 300)
    assert_bitwise_equal(run_folder(train_dir) / 'checkpoint-300', fc_reference)


def test_resuming_a_finished_run_says_so_and_changes_nothing(tiny_cifar, fc_reference):
    run = fc_reference.parent
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    result = run_script('run_fc_model.py', '--train_dir', run.parent, '--resume',
                        cwd=run.parent.parent)
    assert result.returncode == 0, result.stderr
    assert 'has finished' in result.stdout and '--max_steps 600' in result.stdout
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize('flag, value, recorded', [('--hidden1', 9, '--hidden1 8'),
                                                   ('--seed', 4, '--seed 3'),
                                                   ('--learning_rate', 0.1,
                                                    '--learning_rate 0.001')])
def test_a_clashing_flag_is_refused_naming_the_recorded_value(
        tiny_cifar, fc_reference, flag, value, recorded):
    run = fc_reference.parent
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    result = run_script('run_fc_model.py', '--train_dir', run.parent, '--resume',
                        '--max_steps', 400, flag, value, cwd=run.parent.parent)
    assert_one_line_error(result, 'was trained with %s' % recorded, 'leave %s out' % flag)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_gen_batch_from_any_step_continues_the_same_sequence():
    import data_helpers
    whole = list(data_helpers.gen_batch(103, 10, 35, seed=7))
    for first in (0, 9, 10, 11, 23):
        tail = list(data_helpers.gen_batch(103, 10, 35 - first, seed=7, first_step=first))
        assert all(np.array_equal(a, b) for a, b in zip(tail, whole[first:]))
    other = list(data_helpers.gen_batch(103, 10, 35, seed=8))
    assert not np.array_equal(np.stack(whole), np.stack(other))
    for epoch in range(3):  # each epoch: every example at most once
        chunk = np.concatenate(whole[10 * epoch:10 * epoch + 10])
        assert len(set(chunk.tolist())) == 100


@pytest.mark.parametrize('content, fragment', [
    (b'{"model": "fc", "flags": {"hidden1": -5}, "data": DATA}', 'recorded --hidden1'),
    (b'{"model": "fc", "flags": {"hidden1": "os.system"}, "data": DATA}',
     'recorded --hidden1'),
    (b'{"model": "fc", "flags": {"no_such_flag": 1}, "data": DATA}',
     'recorded --no_such_flag'),
    (b'{"model": "fc", "flags": {"hidden1": 8}}', 'flags.json is damaged'),  # no data
    (b'\xff\x00 not json', 'flags.json is damaged'),
    (b'[' * 100000, 'flags.json is damaged'),  # over the size cap
    (b'[' * 60000, 'flags.json is damaged')])  # under it, but nested too deep
def test_a_damaged_flags_file_is_one_line(fc_reference, tmp_path, content, fragment):
    import shutil
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(fc_reference.parent.parent, train_dir)
    flags_file = run_folder(train_dir) / 'flags.json'
    data = json.dumps(json.loads(flags_file.read_text())['data']).encode()
    flags_file.write_bytes(content.replace(b'DATA', data))
    result = run_script('run_fc_model.py', '--train_dir', train_dir, '--resume',
                        '--max_steps', 400, cwd=tmp_path)
    assert_one_line_error(result, fragment)


def test_restore_rebuilds_the_recorded_network_and_refuses_one_without_its_flags(
        tiny_cifar, fc_reference, tmp_path):
    import shutil
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(fc_reference.parent.parent, train_dir)
    restored = run_script('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                          train_dir, cwd=tmp_path)
    assert 'hidden1 = 8' in restored.stdout and 'Current step: 300' in restored.stdout
    (run_folder(train_dir) / 'flags.json').unlink()
    damaged = run_script('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                         train_dir, cwd=tmp_path)
    assert_one_line_error(damaged, 'has no flags.json, so it is damaged',
                          'train it again with python run_fc_model.py')


def test_a_run_killed_while_it_scores_the_test_set_is_scored_on_resume(tiny_cifar,
                                                                       tmp_path):
    """Part 3 says that it classifies the test images; killed then, the run is not
    finished: --resume trains no further and scores it, and only then is it finished."""
    train_dir = tmp_path / 'tf_logs'
    train_dir.parent.mkdir(parents=True, exist_ok=True)
    code, out, _ = interrupted('run_cnn_model.py', tiny_cifar, train_dir, CNN, 'kill',
                               'Classifying the 200 test images, each seen 6 ways')
    assert code != 0 and 'Test accuracy' not in out
    run = run_folder(train_dir)
    checkpoint = (run / 'checkpoint-30.index').read_bytes()
    resumed = train('run_cnn_model.py', tiny_cifar, train_dir, '--resume')
    assert 'Resuming run %s from step 30' % run.name in resumed.stdout
    assert 'Step ' not in resumed.stdout and 'Saved checkpoint' not in resumed.stdout
    accuracy = float(resumed.stdout.split('Test accuracy ')[1].split()[0])
    result = json.loads((run / 'result.json').read_text())
    assert result['step'] == 30
    assert result['test_accuracy'] == pytest.approx(accuracy, abs=5e-5)  # printed: 4 digits
    assert (run / 'checkpoint-30.index').read_bytes() == checkpoint
    again = train('run_cnn_model.py', tiny_cifar, train_dir, '--resume')
    assert 'has finished' in again.stdout and 'Test accuracy' not in again.stdout

"""tune_fc_model.py and the HParams dashboard's data."""
import re
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import metadata, plugin_data_pb2

from conftest import ROOT, printed_value, read_events, run_script, sends_signals


def trial_lines(output):
    return re.findall(r'^  test accuracy ([\d.]+) in \d+ s, run (\S+)$', output, re.M)


def test_two_trials_a_summary_and_the_best_flags(tiny_cifar, tmp_path):
    result = run_script('tune_fc_model.py', '--trials', 2, '--max_steps', 200,
                        '--data_dir', tiny_cifar, '--seed', 0, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.findall(r'^Trial (\d)/2: ', result.stdout, re.M) == ['1', '2']
    assert '--hidden1 120 --input_scale 1 --learning_rate 0.001' in result.stdout  # baseline
    trials = trial_lines(result.stdout)
    assert len(trials) == 2
    folders = sorted(p.name for p in (tmp_path / 'tf_logs').iterdir())
    assert sorted(run for _, run in trials) == folders  # each trial a normal run folder
    best = max(float(accuracy) for accuracy, _ in trials)
    summary = result.stdout.split('\nBest of 2 trials: test accuracy ')[1].splitlines()
    assert float(summary[0]) == best
    assert summary[1].startswith('python run_fc_model.py --')
    # The best command, run again, gives the same accuracy (the seed is in it).
    python, script, *flags = summary[1].split()
    rerun = run_script(script, *flags, '--train_dir', tmp_path / 'again', cwd=ROOT)
    assert re.search(r'^Test accuracy %s$' % summary[0].rstrip('0'), rerun.stdout, re.M) or \
        abs(float(re.search(r'^Test accuracy ([\d.]+)$', rerun.stdout, re.M).group(1)) -
            best) < 1e-4


@sends_signals
def test_ctrl_c_finishes_the_trial_and_prints_the_best(tiny_cifar, tmp_path):
    process = subprocess.Popen(
        [sys.executable, '-u', str(ROOT / 'tune_fc_model.py'), '--trials', '5',
         '--max_steps', '300', '--data_dir', str(tiny_cifar)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    assert first.startswith('Trial 1/5: ')
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the tuner alone
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert 'Stopping after this trial' in out
    assert len(trial_lines(out)) == 1  # the trial under way finished; no other began
    assert 'Best of 1 trials: test accuracy' in out


def test_runs_log_their_hyperparameters_and_test_accuracy(tiny_cifar, tmp_path):
    printed = {}
    for script, flags in [('run_fc_model.py', ['--hidden1', '30']), ('softmax.py', [])]:
        result = run_script(script, '--data_dir', tiny_cifar, '--max_steps', 200,
                            '--batch_size', 100, *flags, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        printed['fc' if script == 'run_fc_model.py' else 'so'] = printed_value(
            result.stdout, 'Test accuracy')
    for folder in (tmp_path / 'tf_logs').iterdir():
        events = read_events(folder)
        content = events.PluginTagToContent(metadata.PLUGIN_NAME)
        data = plugin_data_pb2.HParamsPluginData.FromString(
            content[metadata.SESSION_START_INFO_TAG])
        hparams = {k: getattr(v, v.WhichOneof('kind'))
                   for k, v in data.session_start_info.hparams.items()}
        assert data.session_start_info.group_name == folder.name
        assert hparams['max_steps'] == 200 and hparams['batch_size'] == 100
        if folder.name.startswith('fc_'):
            assert hparams['model'] == 'fc' and hparams['hidden1'] == 30
            assert hparams['learning_rate'] == 0.001 and hparams['input_scale'] == 1
        else:
            assert hparams['model'] == 'softmax' and hparams['dataset'] == 'cifar10'
        logged, = events.Tensors('test_accuracy')
        assert logged.step == 200
        assert float(tf.make_ndarray(logged.tensor_proto)) == pytest.approx(
            printed[folder.name[:2]], abs=1e-6)

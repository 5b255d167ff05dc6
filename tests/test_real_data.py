"""The tutorial's published figures, on the real CIFAR-10 (skipped when it is absent).

Point $CIFAR10_DIR at a cifar-10-batches-py folder, or run a script once to download it.
"""
import statistics

from conftest import REAL_DATA, needs_real_data, printed_value, run_script

pytestmark = needs_real_data


def test_softmax_defaults_reach_the_published_accuracy(tmp_path):
    # One run's accuracy swings by several points with the batches drawn (the tutorial's
    # own code does too), so take the median of three fixed seeds.
    accuracies = []
    for seed in (0, 1, 2):
        result = run_script('softmax.py', '--data_dir', REAL_DATA, '--seed', seed,
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        accuracies.append(printed_value(result.stdout, 'Test accuracy'))
    assert 0.25 <= statistics.median(accuracies) <= 0.36, accuracies


def test_two_layer_defaults_reach_the_published_accuracy_and_restore_it(tmp_path):
    result = run_script('run_fc_model.py', '--data_dir', REAL_DATA, '--seed', 1,
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = printed_value(result.stdout, 'Test accuracy')
    assert accuracy >= 0.45

    restored = run_script('restore_model.py', '--data_dir', REAL_DATA, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert printed_value(restored.stdout, 'Current step:') == 2000
    assert printed_value(restored.stdout, 'Test accuracy') == accuracy


def test_cnn_learns_fast_on_the_real_data_and_restores(tmp_path):
    # One epoch, on the same schedule squeezed into 50 steps (under a minute here),
    # reaches about 0.7; the default run's 13 epochs reach 0.88 (README).
    result = run_script('run_cnn_model.py', '--data_dir', REAL_DATA, '--seed', 0,
                        '--max_steps', 50, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = printed_value(result.stdout, 'Test accuracy')
    assert accuracy >= 0.65

    restored = run_script('restore_model.py', '--data_dir', REAL_DATA, cwd=tmp_path)
    assert 'channels = 48' in restored.stdout
    assert printed_value(restored.stdout, 'Test accuracy') == accuracy

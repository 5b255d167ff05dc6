"""Where learners run the scripts: other Pythons, a TensorFlow that will not load, and
Windows as far as this machine can show it (tests/windows_shim makes fcntl, resource,
termios, pwd and grp unimportable, as they are there)."""
import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT, printed_value, run_subprocess
from support import script as lifecycle

SHIM = str(ROOT / 'tests' / 'windows_shim')
OLD_PYTHON = Path(os.path.expanduser('~/.pyenv/versions'))


def old_pythons():
    """Interpreters older than 3.10 that pyenv has here."""
    found = sorted(OLD_PYTHON.glob('3.[6-9]*/bin/python')) + sorted(
        OLD_PYTHON.glob('2.7*/bin/python'))
    return [str(p) for p in found] or [None]


@pytest.mark.parametrize('python', old_pythons())
def test_an_older_python_gets_one_line_before_anything_fails(python, tmp_path):
    import subprocess
    if python is None:
        pytest.skip('no Python older than 3.10 found under ~/.pyenv/versions')
    for script in ['softmax.py', 'run_fc_model.py', 'restore_model.py']:
        result = subprocess.run([python, str(ROOT / script)], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert 'need Python 3.10 to 3.13' in result.stderr, result.stderr


def test_a_python_without_tensorflow_releases_names_the_range(monkeypatch):
    monkeypatch.setattr(sys, 'version_info', (3, 14, 0, 'final', 0))
    message = lifecycle.tensorflow_import_error(ModuleNotFoundError(name='tensorflow'))
    assert 'no release for Python 3.14' in message and 'Python 3.10 to 3.13' in message


def test_tensorflow_not_installed_says_how_to_install():
    message = lifecycle.tensorflow_import_error(ModuleNotFoundError(name='tensorflow'))
    assert 'pip install -r requirements.txt' in message and sys.executable in message


def test_a_tensorflow_that_fails_to_load_shows_its_message_and_the_fix():
    error = ImportError('DLL load failed while importing _pywrap_tensorflow_internal: '
                        'The specified module could not be found.')
    message = lifecycle.tensorflow_import_error(error)
    assert 'DLL load failed while importing _pywrap_tensorflow_internal' in message
    assert 'Visual C++ Redistributable' in message and 'AVX' in message


def test_the_scripts_run_without_posix_modules(tiny_cifar, tmp_path):
    """Windows has no fcntl, resource, termios, pwd or grp: train, resume, restore;
    and no process leaves a temporary file behind."""
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    env = {'PYTHONPATH': SHIM, 'TMPDIR': str(scratch), 'TEMP': str(scratch)}
    train_dir = tmp_path / 'tf_logs'
    for flags in [['--max_steps', 100], ['--resume', '--max_steps', 200]]:
        result = run_subprocess('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                                train_dir, '--batch_size', 100, *flags, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
    restored = run_subprocess('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                              train_dir, cwd=tmp_path, env=env)
    assert printed_value(restored.stdout, 'Current step:') == 200
    assert list(scratch.iterdir()) == []

"""run_pretrained_model.py: the shipped MobileNetV2 is the recorded file and sees a cat
in a real photo; a new last layer learns a 3-class folder of real photos, resumes bit
for bit, and restore_model.py and predict_image.py use it; without its weights file,
one line. (The export of such a run: tests/test_export.py.)"""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import (assert_bitwise_equal, assert_one_line_error, printed_value,
                      run_folder, run_script)
from test_resume import interrupted

PHOTOS = Path(__file__).parent / 'photos'  # 7 training and 4 test photos, 3 classes


def train(train_dir, *flags):
    return run_script('run_pretrained_model.py', '--data_dir', PHOTOS, '--train_dir',
                      train_dir, *flags, cwd=train_dir.parent)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    train_dir = tmp_path_factory.mktemp('pretrained') / 'tf_logs'
    result = train(train_dir, '--seed', 5, '--max_steps', 40)
    assert result.returncode == 0, result.stderr
    return train_dir, result.stdout


def test_the_weights_are_the_recorded_file_and_see_a_cat():
    import tensorflow as tf
    import pretrained
    from support import image_file
    with open(pretrained.WEIGHTS, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == pretrained.SHA256
    labels = (Path(pretrained.WEIGHTS).parent / 'imagenet_labels.txt').read_text(
        ).splitlines()
    base = pretrained.MobileNetV2()
    assert len(base.filters) == 53
    photo = image_file.load_image(str(PHOTOS / 'train' / 'cat' / 'cat_720p.jpg'), 224)
    scores = pretrained.imagenet_logits(pretrained.features(tf.constant([photo]), base),
                                        base)[0].numpy()
    assert len(labels) == len(scores) == 1001
    assert 'cat' in labels[int(np.argmax(scores))]  # Egyptian cat


def test_a_new_layer_learns_three_classes_and_restore_gives_the_same(trained):
    train_dir, output = trained
    assert 'cat' in output and 'hot_dog' in output  # the folder's table of classes
    accuracy = printed_value(output, 'Test accuracy')
    assert accuracy >= 0.75  # 4 test photos: chance is 1 in 3
    restored = run_script('restore_model.py', '--train_dir', train_dir,
                          cwd=train_dir.parent)
    assert restored.returncode == 0, restored.stderr
    assert 'Current step: 40' in restored.stdout
    assert printed_value(restored.stdout, 'Test accuracy') == accuracy


def test_predict_image_names_the_class(trained):
    train_dir, _ = trained
    result = run_script('predict_image.py', PHOTOS / 'test' / 'hot_dog',
                        PHOTOS / 'test' / 'cat' / 'cat_test_0.jpg',
                        '--train_dir', train_dir, cwd=train_dir.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if 'cat_test_0.jpg: cat ' in line]
    assert lines[-1].startswith('3 images: ')


def test_a_run_killed_and_resumed_is_the_run_left_alone_bit_for_bit(tmp_path):
    flags = ['--seed', 5, '--max_steps', 30, '--checkpoint_every', 10]
    reference, train_dir = tmp_path / 'reference' / 'tf_logs', tmp_path / 'tf_logs'
    reference.parent.mkdir()
    assert train(reference, *flags).returncode == 0
    code, _, err = interrupted('run_pretrained_model.py', PHOTOS, train_dir, flags, 'kill',
                               'Saved checkpoint')
    assert code != 0, err
    resumed = run_script('run_pretrained_model.py', '--resume', '--train_dir', train_dir,
                         cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'Resuming run' in resumed.stdout
    assert_bitwise_equal(run_folder(reference) / 'checkpoint-30',
                         run_folder(train_dir) / 'checkpoint-30')


def test_without_the_weights_file_is_one_line(tmp_path, monkeypatch):
    import pretrained
    missing = tmp_path / 'weights' / Path(pretrained.WEIGHTS).name
    monkeypatch.setattr(pretrained, 'WEIGHTS', str(missing))
    result = train(tmp_path / 'tf_logs')
    assert_one_line_error(result, str(missing), 'git checkout -- weights')
    assert not (tmp_path / 'tf_logs').exists()
    missing.parent.mkdir()
    shutil.copy(Path(__file__).parent.parent / 'weights' / missing.name, missing)
    with open(missing, 'r+b') as f:  # one byte changed
        f.seek(1000)
        f.write(b'\x00')
    assert_one_line_error(train(tmp_path / 'tf_logs'), 'SHA-256 differs')

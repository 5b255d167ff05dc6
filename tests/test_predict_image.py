"""predict_image.py: a learner's own pictures, classified by a trained run."""
import pickle

import numpy as np
import pytest
import tensorflow as tf

from conftest import REAL_DATA, assert_one_line_error, needs_real_data, run_script
from support.errors import InputError

import predict_image


def write_png(path, row, scale=1):
    """A CIFAR-10 row (3 colour planes of 32x32) as a PNG, scale times larger."""
    image = np.asarray(row, np.uint8).reshape(3, 32, 32).transpose(1, 2, 0)
    image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    path.write_bytes(tf.io.encode_png(image).numpy())
    return path


@needs_real_data
def test_a_real_test_image_as_png_reads_back_as_its_pixels(tmp_path):
    with open(REAL_DATA / 'test_batch', 'rb') as f:
        rows = pickle.load(f, encoding='bytes')[b'data'][:3]
    for i, row in enumerate(rows):
        pixels = row.reshape(3, 32, 32).transpose(1, 2, 0)  # height, width, RGB
        png = write_png(tmp_path / ('%d.png' % i), row)
        np.testing.assert_array_equal(predict_image.load_image(str(png)), pixels)
        # Four times larger, as a photo would be: shrunk back to nearly the same pixels.
        large = write_png(tmp_path / ('%d_large.png' % i), row, scale=4)
        shrunk = predict_image.load_image(str(large)).astype(int)
        assert np.abs(shrunk - pixels).mean() < 1


def test_prints_the_three_likeliest_classes_of_each_image(tiny_cifar, fc_run, tmp_path):
    with open(tiny_cifar / 'test_batch', 'rb') as f:
        batch = pickle.load(f, encoding='latin1')
    classes = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
               'truck']
    images = [str(write_png(tmp_path / ('%d.png' % i), batch['data'][i])) for i in range(4)]
    # The run recorded its data folder, so no --data_dir is needed.
    result = run_script('predict_image.py', *images, '--train_dir', fc_run, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith('Run fc_') and lines[0].endswith('step 300:')
    for image, label, line in zip(images, batch['labels'], lines[1:]):
        name, guesses = line.split(': ')
        guesses = [g.rsplit(' ', 1) for g in guesses.split(', ')]
        assert name == image and len(guesses) == 3
        percents = [int(p.rstrip('%')) for _, p in guesses]
        assert percents == sorted(percents, reverse=True) and sum(percents) <= 101
        assert guesses[0][0] == classes[label]  # the tiny set is easy: 99 % right


def test_a_file_that_is_not_an_image_is_one_line(tmp_path):
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    with pytest.raises(InputError, match='notes.png cannot be used: not an image Pillow can read'):
        predict_image.load_image(str(text))
    with pytest.raises(InputError, match='cannot read .*missing.jpg'):
        predict_image.load_image(str(tmp_path / 'missing.jpg'))


@pytest.mark.parametrize('make, fragment', [
    (lambda p: p.write_text('text'), 'cannot be used: not an image Pillow can read'),
    (None, 'cannot read')])
def test_bad_images_and_no_run_are_one_line(fc_run, tmp_path, make, fragment):
    image = tmp_path / 'photo.jpg'
    if make:
        make(image)
    result = run_script('predict_image.py', image, '--train_dir', fc_run, cwd=tmp_path)
    assert_one_line_error(result, fragment, 'photo.jpg')
    png = write_png(tmp_path / 'ok.png', np.zeros(3072))
    none = run_script('predict_image.py', png, '--train_dir', tmp_path / 'empty',
                      cwd=tmp_path)
    assert_one_line_error(none, 'no run with a checkpoint', 'run_fc_model.py')

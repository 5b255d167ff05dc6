"""A run taken anywhere: its folder alone classifies (moved, its training data gone), and
export_model.py's SavedModel and TFLite file, loaded by a Python that imports nothing
of this project, give the run's probabilities; predict_image.py reads folders and
exports; bad input is one line."""
import json
import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import (REAL_DATA, LoopbackServer, assert_one_line_error, run_folder,
                      run_script, write_cifar)
from test_pretrained import PHOTOS
from test_hardening import small_disk  # noqa: F401 (a fixture)
from test_image_folder import CLASSES, write_folder

# What a program of the learner's own runs: TensorFlow, NumPy, Pillow and LiteRT only.
OUTSIDE = r'''
import sys
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
images = np.load(sys.argv[1])
model = tf.saved_model.load('saved_model')
saved = model.signatures['serving_default'](images=tf.constant(images))['probabilities']
lite = Interpreter(model_path='model.tflite').get_signature_runner()(images=images)
np.save(sys.argv[2], np.stack([saved.numpy(), lite['probabilities']]))
print('\n'.join(name.decode() for name in model.classes.numpy()))
print('modules:', ' '.join(sorted(m for m in sys.modules if m.split('.')[0] in
                                  {'support', 'cnn', 'two_layer_fc', 'data_helpers'})))
'''


@pytest.fixture(scope='module')
def runs_to_export(tmp_path_factory):
    """{kind: (train_dir, data_dir)}: a Part 2 run, a Part 3 run, a Part 3 run on a
    folder of photos and a pretrained run on real photos, each with its own data (deleted
    by the tests that need it gone)."""
    root = tmp_path_factory.mktemp('export')
    made = {}
    for kind, script, flags in [
            ('fc', 'run_fc_model.py', ['--batch_size', 100, '--max_steps', 200]),
            ('cnn', 'run_cnn_model.py', ['--channels', 8, '--max_steps', 20,
                                         '--dtype', 'float32']),
            ('photos', 'run_cnn_model.py', ['--channels', 8, '--max_steps', 60,
                                            '--learning_rate', 0.2, '--dtype', 'float32',
                                            '--image_size', 24]),
            ('pretrained', 'run_pretrained_model.py', ['--max_steps', 40])]:
        data = (write_folder(root / kind / 'my_photos') if kind == 'photos'
                else shutil.copytree(PHOTOS, root / kind / 'my_photos')
                if kind == 'pretrained' else write_cifar(root / kind / 'cifar-10-batches-py'))
        train_dir = root / kind / 'tf_logs'
        result = run_script(script, '--data_dir', data, '--train_dir', train_dir,
                            '--seed', 3, *flags, cwd=root / kind)
        assert result.returncode == 0, result.stderr
        made[kind] = train_dir, data
    return made


def some_images(size, scratch, count=40):
    """Real CIFAR-10 test images where they are here (else the small set's), resized
    to size, and one real photo: a test image saved as a 256x256 JPEG, read back as
    predict_image.py reads a photo. uint8 [count + 1, size, size, 3]."""
    import predict_image
    source = REAL_DATA / 'test_batch'
    if not source.is_file():
        source = write_cifar(scratch / 'cifar', per_batch=1, test=count) / 'test_batch'
    with open(source, 'rb') as f:
        rows = pickle.load(f, encoding='latin1')['data'][:count]
    images = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    pictures = [np.asarray(Image.fromarray(i).resize((size, size), Image.BOX))
                for i in images]
    photo = scratch / 'photo_from_cifar.jpg'
    Image.fromarray(images[0]).resize((256, 256), Image.BICUBIC).save(photo, quality=90)
    return np.stack(pictures + [predict_image.load_image(str(photo), size)])


def network_of(train_dir):
    from support import restore, runs
    return restore.Network(runs.find_run(str(train_dir)))


@pytest.mark.parametrize('kind', ['fc', 'cnn', 'photos', 'pretrained'])
def test_a_moved_run_without_its_data_classifies_the_same(runs_to_export, tmp_path, kind):
    train_dir, data = runs_to_export[kind]
    network = network_of(train_dir)
    images = some_images(network.image_size, tmp_path)
    before = network.probabilities(images).numpy()
    moved = tmp_path / 'elsewhere' / 'runs'
    shutil.copytree(train_dir, moved)
    hidden = tmp_path / 'data_gone'
    shutil.move(str(data), hidden)  # the training data are not where the run left them
    try:
        after = network_of(moved).probabilities(images).numpy()
        np.testing.assert_allclose(after, before, atol=1e-5)
        photo = tmp_path / 'photo.png'
        Image.fromarray(images[-1]).save(photo)
        predicted = run_script('predict_image.py', photo, '--train_dir', moved,
                               cwd=tmp_path)
        assert predicted.returncode == 0, predicted.stderr
        top = network.classes[int(np.argmax(before[-1]))]
        assert predicted.stdout.splitlines()[-1].startswith('%s: %s ' % (photo, top))
    finally:
        shutil.move(str(hidden), data)


def test_restore_without_the_test_data_is_one_line_and_downloads_nothing(
        runs_to_export, tmp_path):
    train_dir, data = runs_to_export['fc']
    copy = tmp_path / 'tf_logs'
    shutil.copytree(train_dir, copy)
    flags_file = run_folder(copy) / 'flags.json'
    record = json.loads(flags_file.read_text())
    missing = tmp_path / 'moved_away' / 'cifar-10-batches-py'
    record['flags']['data_dir'] = str(missing)
    flags_file.write_text(json.dumps(record))
    server = LoopbackServer(lambda request: request.send_error(404))
    try:
        result = run_script('restore_model.py', '--train_dir', copy, cwd=tmp_path,
                            env={'CIFAR10_URL': server.url})
        assert_one_line_error(result, str(missing), 'pass --data_dir')
        assert server.requests == [] and not missing.parent.exists()
    finally:
        server.close()


@pytest.mark.parametrize('kind', ['fc', 'cnn', 'photos', 'pretrained'])
def test_the_exports_give_the_runs_probabilities_outside_the_project(
        runs_to_export, tmp_path, kind):
    train_dir, data = runs_to_export[kind]
    out = tmp_path / 'export'
    result = run_script('export_model.py', '--train_dir', train_dir, '--out', out,
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ['README.md', 'labels.txt', 'model.tflite',
                                       'saved_model']
    assert sorted(os.listdir(tmp_path)) == ['export']  # no temporary folder left
    network = network_of(train_dir)
    images = some_images(network.image_size, tmp_path)
    if kind == 'photos':  # and some of its own photos, which it tells apart
        import predict_image
        size = network.image_size
        images = np.concatenate([images, [
            predict_image.load_image(str(data / name / ('%03d.jpg' % i)), size)
            for name in CLASSES for i in range(3)]])
    if kind == 'pretrained':
        import predict_image
        images = np.concatenate([images, [
            predict_image.load_image(str(photo), network.image_size)
            for photo in sorted(data.glob('*/*/*.jpg'))]])
    np.save(tmp_path / 'images.npy', images)
    outside = subprocess.run(
        [sys.executable, '-c', OUTSIDE, str(tmp_path / 'images.npy'),
         str(tmp_path / 'out.npy')], cwd=out, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=''), timeout=300)
    assert outside.returncode == 0, outside.stderr
    *classes, modules = outside.stdout.strip().splitlines()
    assert classes == network.classes and modules == 'modules:'
    assert (out / 'labels.txt').read_text(encoding='utf-8').splitlines() == classes
    if kind == 'photos':
        assert classes == sorted(CLASSES)
    saved, lite = np.load(tmp_path / 'out.npy')
    expected = network.probabilities(images).numpy()
    np.testing.assert_allclose(saved, expected, atol=1e-4)
    np.testing.assert_allclose(lite, expected, atol=1e-3)
    assert len(set(np.argmax(expected, axis=1))) > 1  # not a network that says one thing


def test_the_export_readme_examples_run_and_agree_with_predict_image(
        runs_to_export, tmp_path):
    train_dir, _ = runs_to_export['cnn']
    out = tmp_path / 'export'
    assert run_script('export_model.py', '--train_dir', train_dir, '--out', out,
                      cwd=tmp_path).returncode == 0
    photo = tmp_path / 'photo.jpg'
    Image.fromarray(some_images(32, tmp_path)[3]).resize((200, 150)).save(photo)
    predicted = run_script('predict_image.py', photo, '--train_dir', train_dir,
                           cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    expected = predicted.stdout.splitlines()[-1].split(': ', 1)[1].split(', ')
    examples = re.findall(r'```python\n(.*?)```', (out / 'README.md').read_text(), re.S)
    assert len(examples) == 2
    for example in examples:
        assert len(example.strip().splitlines()) <= 15
        ran = subprocess.run([sys.executable, '-c', example.replace('photo.jpg', str(photo))],
                             cwd=out, capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, PYTHONPATH=''))
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip().splitlines() == expected


def test_predict_image_reads_a_folder_and_an_export(runs_to_export, tmp_path):
    train_dir, data = runs_to_export['photos']
    out = tmp_path / 'export'
    assert run_script('export_model.py', '--train_dir', train_dir, '--out', out,
                      cwd=tmp_path).returncode == 0
    by_run = run_script('predict_image.py', data, '--train_dir', train_dir, cwd=tmp_path)
    assert by_run.returncode == 0, by_run.stderr
    lines = by_run.stdout.strip().splitlines()
    assert len(lines) == 1 + 90 + 1 and lines[-1].startswith('90 images: ')
    counts = {name: int(n) for name, n in
              (part.rsplit(' ', 1) for part in lines[-1][len('90 images: '):].split(', '))}
    assert sum(counts.values()) == 90 and set(counts) <= set(CLASSES)
    right = sum(line.split(': ')[1].startswith(line.split('/')[-2] + ' ')
                for line in lines[1:-1])
    assert right > 60  # the classes were learned
    for model in [out, out / 'saved_model', out / 'model.tflite']:
        by_model = run_script('predict_image.py', data, '--model', model, cwd=tmp_path)
        assert by_model.returncode == 0, by_model.stderr
        assert by_model.stdout.strip().splitlines()[1:] == lines[1:]  # to the percent


def photo_if(script):
    return ['photo.jpg'] if script == 'predict_image.py' else []


def test_exporting_bad_input_is_one_line(runs_to_export, tmp_path):
    train_dir, _ = runs_to_export['fc']
    none = run_script('export_model.py', '--train_dir', tmp_path / 'empty', cwd=tmp_path)
    assert_one_line_error(none, 'no run with a checkpoint', 'run_fc_model.py')
    a_file = tmp_path / 'notes.txt'
    a_file.write_text('mine')
    unwritable = run_script('export_model.py', '--train_dir', train_dir, '--out',
                            a_file / 'export', cwd=tmp_path)
    assert_one_line_error(unwritable, 'cannot write in')
    mine = tmp_path / 'my_folder'
    mine.mkdir()
    (mine / 'thesis.txt').write_text('keep me')
    taken = run_script('export_model.py', '--train_dir', train_dir, '--out', mine,
                       cwd=tmp_path)
    assert_one_line_error(taken, 'is not an export', '--out')
    assert os.listdir(mine) == ['thesis.txt'] and a_file.read_text() == 'mine'

    damaged = tmp_path / 'damaged'
    shutil.copytree(train_dir, damaged)
    run = run_folder(damaged)
    for name in os.listdir(run):
        if name.startswith('checkpoint-') and '.data-' in name:
            (run / name).write_bytes(b'not a checkpoint')
    for script in ['export_model.py', 'predict_image.py', 'restore_model.py']:
        result = run_script(script, *photo_if(script), '--train_dir', damaged, cwd=tmp_path)
        assert_one_line_error(result, 'damaged')
    (run / 'flags.json').unlink()
    for script in ['export_model.py', 'predict_image.py', 'restore_model.py']:
        result = run_script(script, *photo_if(script), '--train_dir', damaged, cwd=tmp_path)
        assert_one_line_error(result, 'has no flags.json', 'train it again')
    for model in [tmp_path / 'my_folder', a_file]:
        result = run_script('predict_image.py', 'photo.jpg', '--model', model, cwd=tmp_path)
        assert_one_line_error(result, 'not a model export_model.py wrote')


def test_a_full_disk_is_one_line_and_keeps_the_last_export(runs_to_export, tmp_path,
                                                           small_disk):
    train_dir, _ = runs_to_export['fc']
    disk, grow = small_disk
    grow(20)
    out = disk / 'export'
    assert run_script('export_model.py', '--train_dir', train_dir, '--out', out,
                      cwd=tmp_path).returncode == 0
    before = {name: (out / name).read_bytes() for name in ['model.tflite', 'labels.txt']}
    (disk / 'filler').write_bytes(b'\0' * (16 << 20))  # 3 MB left: too few for another
    result = run_script('export_model.py', '--train_dir', train_dir, '--out', out,
                        cwd=tmp_path)
    assert_one_line_error(result, 'no space left on the disk')
    assert sorted(os.listdir(disk)) == ['export', 'filler']  # no half-written export
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_broken_image_in_a_folder_is_skipped_but_one_named_is_an_error(runs_to_export,
                                                                         tmp_path):
    train_dir, data = runs_to_export['photos']
    folder = tmp_path / 'to_sort'
    shutil.copytree(data / CLASSES[0], folder / 'a')
    (folder / 'a' / 'broken.jpg').write_bytes(b'not a photo')
    (folder / 'notes.txt').write_text('not an image, not counted')
    result = run_script('predict_image.py', folder, '--train_dir', train_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line for line in lines if line.startswith('Skipped: ')] == [
        'Skipped: %s cannot be used: not an image Pillow can read' % (folder / 'a' /
                                                                      'broken.jpg')]
    assert lines[-1].startswith('30 images: ')
    named = run_script('predict_image.py', folder / 'a' / 'broken.jpg', '--train_dir',
                       train_dir, cwd=tmp_path)
    assert_one_line_error(named, 'broken.jpg cannot be used')
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert_one_line_error(run_script('predict_image.py', empty, '--train_dir', train_dir,
                                     cwd=tmp_path), 'holds no images')

"""A folder of your own images: layouts, every kind of image file, the split, the cache,
bad input, and each script trained, resumed, restored and asked to predict on one."""
import io
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (assert_bitwise_equal, assert_one_line_error, lines_starting,
                      logged_images, printed_value, read_events, run_folder, run_script)
from support import image_file, image_folder
from support.errors import InputError

# Three classes with names from three scripts, each a colour pattern the networks learn.
CLASSES = ['chat', 'chien', 'пингвин']


def picture(label, rng, size=(40, 30)):
    """A photo-like RGB image of class label: a fixed random pattern plus noise."""
    pattern = np.random.default_rng(100 + label).integers(0, 256, (6, 8, 3))
    big = np.kron(pattern, np.ones((size[1] // 6 + 1, size[0] // 8 + 1, 1)))
    noise = rng.integers(0, 256, big.shape)
    pixels = (0.7 * big + 0.3 * noise)[:size[1], :size[0]].astype(np.uint8)
    return Image.fromarray(pixels)


def write_folder(root, per_class=30, classes=CLASSES, seed=0, fmt='JPEG'):
    """root/<class>/<i>.jpg for each class: the flat layout."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            extension = {'JPEG': 'jpg'}.get(fmt, fmt.lower())
            picture(label, rng).save(root / name / ('%03d.%s' % (i, extension)), fmt)
    return root


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """A flat folder of 3 x 30 JPEGs, read-only by convention: tests copy to change it."""
    return write_folder(tmp_path_factory.mktemp('photos') / 'my_photos')


def snapshot(folder):
    """Every path below folder with its size and modification time."""
    return sorted((str(p), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in Path(folder).rglob('*'))


def load(folder, cwd, size=32, fraction=0.2):
    """image_folder.load_data() run in cwd (where image_cache/ goes)."""
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        return image_folder.load_data(str(folder), size, fraction)
    finally:
        os.chdir(saved)


# Layouts and the split ----------------------------------------------------------------

def test_a_flat_folder_is_split_by_file_name_the_same_way_every_time(photos, tmp_path,
                                                                     capsys):
    before = snapshot(photos)
    data = load(photos, tmp_path)
    assert data['classes'] == sorted(CLASSES)
    assert data['images_train'].shape[1] == data['images_test'].shape[1] == 3 * 32 * 32
    assert len(data['images_train']) + len(data['images_test']) == 90
    assert 10 <= len(data['images_test']) <= 30  # 20 % of each class, by hash
    assert all(np.sum(data['labels_test'] == c) >= 1 for c in range(3))
    assert data['mean_image'].shape == (3072,) and data['image_shape'] == (3, 32, 32)
    # The printed table: images per class and split.
    out = capsys.readouterr().out
    table = out[out.index('Images in'):].splitlines()
    assert table[1].split() == ['class', 'train', 'test']
    for line, c in zip(table[2:5], range(3)):
        assert line.split() == [data['classes'][c], str(np.sum(data['labels_train'] == c)),
                                str(np.sum(data['labels_test'] == c))]
    # Another working folder (a new cache): the same split, the same pixels.
    (tmp_path / 'elsewhere').mkdir()
    again = load(photos, tmp_path / 'elsewhere')
    for key in ['images_train', 'labels_train', 'images_test', 'labels_test']:
        np.testing.assert_array_equal(data[key], again[key])
    assert data['fingerprint'] == again['fingerprint']
    # A larger test share only moves images from training to test, never back.
    larger = load(photos, tmp_path, fraction=0.5)
    assert len(larger['images_test']) > len(data['images_test'])
    test_rows = {row.tobytes() for row in data['images_test']}
    assert test_rows <= {row.tobytes() for row in larger['images_test']}
    assert snapshot(photos) == before  # the folder is never written to


def test_adding_images_moves_no_image_to_the_other_side(photos, tmp_path):
    copy = copy_of(photos, tmp_path)
    data = load(copy, tmp_path)
    rng = np.random.default_rng(9)
    for i in range(10):
        picture(0, rng).save(copy / CLASSES[0] / ('new%d.jpg' % i))
    more = load(copy, tmp_path)
    old_test = {row.tobytes() for row in data['images_test']}
    old_train = {row.tobytes() for row in data['images_train']}
    assert old_test <= {row.tobytes() for row in more['images_test']}
    assert old_train <= {row.tobytes() for row in more['images_train']}
    assert more['fingerprint'] != data['fingerprint']


@pytest.mark.parametrize('train, test', [('train', 'test'), ('training_set', 'test_set'),
                                         ('Training', 'val'), ('train', 'validation')])
def test_training_and_test_folders_are_used_as_they_are(tmp_path, train, test):
    write_folder(tmp_path / 'data' / train, per_class=12)
    write_folder(tmp_path / 'data' / test, per_class=4, seed=1)
    write_folder(tmp_path / 'data' / 'single_prediction', per_class=2)  # not a split
    data = load(tmp_path / 'data', tmp_path)
    assert data['classes'] == sorted(CLASSES)
    assert len(data['images_train']) == 36 and len(data['images_test']) == 12
    assert np.bincount(data['labels_test']).tolist() == [4, 4, 4]


def test_a_training_folder_alone_is_split(tmp_path):
    write_folder(tmp_path / 'data' / 'train', per_class=20)
    data = load(tmp_path / 'data', tmp_path)
    assert len(data['images_train']) + len(data['images_test']) == 60
    assert len(data['images_test']) > 0


# Every kind of image file -------------------------------------------------------------

def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_any_mode_and_format_becomes_rgb_at_the_size_asked(tmp_path):
    red = Image.new('RGB', (64, 48), (255, 0, 0))
    files = {
        'rgb.jpg': encoded(red, 'JPEG', quality=95),
        'grey.png': encoded(Image.new('L', (50, 50), 128), 'PNG'),
        'rgba.png': encoded(Image.new('RGBA', (40, 40), (255, 0, 0, 0)), 'PNG'),
        'palette.gif': encoded(red.convert('P'), 'GIF'),
        'picture.bmp': encoded(red, 'BMP'),
        'cmyk.jpg': encoded(Image.new('CMYK', (40, 40), (0, 255, 255, 0)), 'JPEG'),
        'sixteen.png': encoded(Image.fromarray(np.full((40, 40), 65535, np.uint16)), 'PNG'),
        'small.png': encoded(Image.new('RGB', (10, 10), (255, 0, 0)), 'PNG'),
        'CAPITALS.JPG': encoded(red, 'JPEG', quality=95),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    for name, colour in [('rgb.jpg', (255, 0, 0)), ('grey.png', (128, 128, 128)),
                         ('rgba.png', (255, 255, 255)),  # transparent: on white
                         ('palette.gif', (255, 0, 0)), ('picture.bmp', (255, 0, 0)),
                         ('cmyk.jpg', (255, 0, 0)), ('sixteen.png', (255, 255, 255)),
                         ('small.png', (255, 0, 0)), ('CAPITALS.JPG', (255, 0, 0))]:
        pixels = image_file.load_image(str(tmp_path / name), 16)
        assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8, name
        assert np.abs(pixels.astype(int) - colour).max() <= 3, (name, pixels[0, 0])
    assert {'.jpg', '.png', '.gif', '.bmp'} <= image_folder.EXTENSIONS


def test_a_photo_with_an_exif_rotation_is_read_upright(tmp_path):
    # Stored as the sensor saw it, wide, with the top row red; EXIF orientation 6 says
    # to turn it 90 degrees clockwise, so shown upright it is tall, the red on the right.
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / 'phone.jpg'
    Image.fromarray(stored).save(path, 'JPEG', exif=exif.tobytes(), quality=95)
    pixels = image_file.load_image(str(path), 32).astype(int)
    assert pixels[:, -4:, 0].mean() > 200 and pixels[:, -4:, 1].mean() < 60  # red right
    assert pixels[:, :16, 0].mean() < 60  # not on the left, nor on top
    assert pixels[:4, :20, 0].mean() < 60


def test_large_images_are_shrunk_to_the_average_of_each_area(tmp_path):
    # A 4x4 grid of colours, 100 pixels a cell: each 8x8 block of the 32x32 result
    # is the cell's colour.
    cells = np.random.default_rng(0).integers(0, 256, (4, 4, 3)).astype(np.uint8)
    path = tmp_path / 'grid.png'
    Image.fromarray(np.kron(cells, np.ones((100, 100, 1), np.uint8))).save(path)
    pixels = image_file.load_image(str(path), 32)
    np.testing.assert_array_equal(pixels[4::8, 4::8], cells)


@pytest.mark.parametrize('size', [32, 64])
def test_a_photo_as_jpeg_and_as_png_is_the_same_image(tmp_path, size):
    # A photo-sized JPEG (500x375, as the cats and dogs photos), and the very pixels it
    # decodes to saved losslessly: one image, so one row, whatever the file format.
    jpeg = tmp_path / 'photo.jpg'
    picture(1, np.random.default_rng(5), size=(500, 375)).save(jpeg, quality=90)
    png = tmp_path / 'photo.png'
    with Image.open(jpeg) as decoded:
        decoded.convert('RGB').save(png)
    rows = [image_file.load_image(str(p), size).astype(int) for p in (jpeg, png)]
    assert np.abs(rows[0] - rows[1]).mean() < 1  # within a level


# Bad input ----------------------------------------------------------------------------

def copy_of(folder, tmp_path):
    import shutil
    target = tmp_path / 'copy'
    shutil.copytree(folder, target, symlinks=True)
    return target


def test_junk_is_ignored_and_broken_images_are_skipped_with_one_warning(photos, tmp_path,
                                                                        capsys):
    data_dir = copy_of(photos, tmp_path)
    cat = data_dir / CLASSES[0]
    (cat / '.DS_Store').write_bytes(b'\0\0\0\1Bud1')
    (cat / 'Thumbs.db').write_bytes(b'\xd0\xcf\x11\xe0')
    (cat / 'notes.txt').write_text('my cats')
    (cat / '.hidden').mkdir()
    (cat / '.hidden' / 'secret.jpg').write_bytes((cat / '000.jpg').read_bytes())
    (data_dir / '.git').mkdir()  # a hidden folder is no class
    (data_dir / '__MACOSX').mkdir()
    (data_dir / '__MACOSX' / '._000.jpg').write_bytes(b'\0\5\26\7')
    (cat / 'text.jpg').write_text('not an image at all')
    (cat / 'cut.jpg').write_bytes((cat / '001.jpg').read_bytes()[:400])  # truncated
    (cat / 'empty.png').write_bytes(b'')
    before = snapshot(data_dir)
    data = load(data_dir, tmp_path)
    out = capsys.readouterr().out
    warnings = lines_starting(out, 'Warning:')
    assert len(warnings) == 1 and 'skipped 3 files' in warnings[0], out
    assert 'cut.jpg (truncated' in warnings[0] and 'text.jpg' in warnings[0]
    assert data['classes'] == sorted(CLASSES)
    assert len(data['images_train']) + len(data['images_test']) == 90
    assert snapshot(data_dir) == before
    # The next run warns again (from the cache), without decoding anything.
    load(data_dir, tmp_path)
    out = capsys.readouterr().out
    assert 'Decoding' not in out and 'skipped 3 files' in out


def test_a_decompression_bomb_is_skipped_without_decoding_it(tmp_path, capsys):
    # A 30000 x 30000 PNG (900 million pixels, 2.7 GB decoded) of a few hundred kB.
    import zlib
    import struct

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))
    side = 30000
    rows = zlib.compress(b'\0' * (side * 3 + 1) * 64, 9)  # only the first rows, cut
    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 2,
                                                             0, 0, 0))
           + chunk(b'IDAT', rows) + chunk(b'IEND', b''))
    data_dir = write_folder(tmp_path / 'data', per_class=5, classes=['a', 'b'])
    (data_dir / 'a' / 'bomb.png').write_bytes(png)
    resource = pytest.importorskip('resource', reason='no getrusage here (Windows)')
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(image_file.BadImage, match='too large to decode safely'):
        image_file.load_image(str(data_dir / 'a' / 'bomb.png'), 32)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < (100 << 20 if sys.platform == 'darwin' else 100 << 10)  # bytes on macOS
    data = load(data_dir, tmp_path)
    assert len(data['images_train']) + len(data['images_test']) == 10
    assert 'bomb.png (30000x30000 pixels: too large' in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == 'win32', reason='symbolic links need privileges there')
def test_symbolic_links_are_followed_but_a_loop_does_not_hang(photos, tmp_path):
    data_dir = copy_of(photos, tmp_path)
    (data_dir / CLASSES[0] / 'loop').symlink_to(data_dir / CLASSES[0])
    (data_dir / CLASSES[1] / 'up').symlink_to(data_dir)
    (data_dir / 'linked').symlink_to(data_dir / CLASSES[2])  # a class that is a link
    (data_dir / CLASSES[2] / 'dangling.jpg').symlink_to(tmp_path / 'nowhere.jpg')
    os.mkfifo(data_dir / CLASSES[2] / 'pipe.jpg')  # reading it would wait forever
    classes, files = image_folder.find_images(str(data_dir), 0.2)
    assert classes == sorted(CLASSES + ['linked'])
    counts = np.bincount([label for _, label, _ in files]).tolist()
    assert counts[classes.index(CLASSES[0])] == 30  # not again through the loop
    assert counts[classes.index('linked')] == 30


def test_any_unicode_file_name_works(tmp_path, capsys):
    data_dir = write_folder(tmp_path / 'données', per_class=6, classes=['猫', 'собака'])
    for name in ['é 1.jpg', '🐱.jpg', 'ﬁle.JPEG']:
        picture(0, np.random.default_rng(1)).save(data_dir / '猫' / name, 'JPEG')
    if sys.platform.startswith('linux'):  # bytes that are not UTF-8, as on old disks
        with open(os.fsencode(data_dir / '猫') + b'/\xff\xfe.jpg', 'wb') as f:
            picture(0, np.random.default_rng(1)).save(f, 'JPEG')
    data = load(data_dir, tmp_path)
    assert data['classes'] == ['собака', '猫']
    assert np.bincount(np.concatenate([data['labels_train'], data['labels_test']]))[1] >= 9
    assert 'собака' in capsys.readouterr().out


@pytest.mark.parametrize('other_files', [[], ['notes.txt', '.DS_Store']])
def test_an_empty_class_folder_is_one_line_naming_it(tmp_path, other_files):
    data_dir = write_folder(tmp_path / 'data', per_class=3, classes=['a', 'c'])
    (data_dir / 'b').mkdir()
    for name in other_files:
        (data_dir / 'b' / name).write_text('not an image')
    with pytest.raises(InputError, match='holds no images'):
        load(data_dir, tmp_path)
    result = run_script('softmax.py', '--data_dir', data_dir, cwd=tmp_path)
    assert_one_line_error(result, str(data_dir / 'b'), 'holds no images')


def test_a_single_class_or_no_images_at_all_is_one_line(tmp_path):
    one = write_folder(tmp_path / 'one', per_class=3, classes=['cats'])
    result = run_script('run_fc_model.py', '--data_dir', one, cwd=tmp_path)
    assert_one_line_error(result, str(one), 'only one class folder, cats', 'two classes')
    flat = tmp_path / 'flat'
    flat.mkdir()
    picture(0, np.random.default_rng(0)).save(flat / 'a.jpg')  # images, but no classes
    result = run_script('run_cnn_model.py', '--data_dir', flat, cwd=tmp_path)
    assert_one_line_error(result, str(flat), 'no class folders', 'a subfolder of its own')
    nested = write_folder(tmp_path / 'up' / 'photos', per_class=3, classes=['a', 'b'])
    result = run_script('softmax.py', '--data_dir', tmp_path / 'up', cwd=tmp_path)
    assert_one_line_error(result, 'holds one folder', 'pass --data_dir %s' % nested)
    assert not (tmp_path / 'tf_logs').exists() or not list((tmp_path / 'tf_logs').iterdir())


def test_a_test_class_the_training_folder_lacks_is_one_line(tmp_path):
    write_folder(tmp_path / 'data' / 'train', per_class=3, classes=['a', 'b'])
    write_folder(tmp_path / 'data' / 'test', per_class=3, classes=['a', 'c'])
    result = run_script('softmax.py', '--data_dir', tmp_path / 'data', cwd=tmp_path)
    assert_one_line_error(result, 'class folder c', 'must be a training class')


def test_no_message_tells_to_delete_a_folder_of_photos(photos, tmp_path):
    result = run_script('run_fc_model.py', '--data_dir', photos, '--image_size', 8,
                        cwd=tmp_path)
    assert_one_line_error(result, '--image_size: must be from 16 to 256')
    for script in ['softmax.py', 'run_fc_model.py', 'run_cnn_model.py']:
        result = run_script(script, '--data_dir', photos, '--max_steps', 1, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert 'delete' not in result.stdout + result.stderr


# The cache ----------------------------------------------------------------------------

def test_a_second_run_decodes_nothing_and_a_change_is_noticed(photos, tmp_path, capsys):
    data_dir = copy_of(photos, tmp_path)
    first = load(data_dir, tmp_path)
    assert 'Decoding 90 images' in capsys.readouterr().out
    second = load(data_dir, tmp_path)
    assert 'Decoding' not in capsys.readouterr().out
    assert second['fingerprint'] == first['fingerprint']
    for key in ['images_train', 'images_test']:
        np.testing.assert_array_equal(first[key], second[key])
        assert second[key].ctypes.data % 64 == 0 or key == 'images_test'
    rng = np.random.default_rng(5)
    picture(1, rng).save(data_dir / CLASSES[1] / 'added.jpg')  # one added,
    (data_dir / CLASSES[2] / '000.jpg').unlink()  # one removed,
    replaced = data_dir / CLASSES[0] / '001.jpg'
    picture(2, rng, size=(50, 50)).save(replaced)  # and one replaced
    os.utime(replaced, ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = load(data_dir, tmp_path)
    assert 'Decoding 2 images' in capsys.readouterr().out  # only the new and the changed
    assert len(changed['images_train']) + len(changed['images_test']) == 90
    assert changed['fingerprint'] != first['fingerprint']
    # A different size is a different cache.
    assert load(data_dir, tmp_path, size=16)['images_train'].shape[1] == 3 * 16 * 16
    assert 'Decoding 90 images' in capsys.readouterr().out
    assert len(list((tmp_path / 'image_cache').glob('*.json'))) == 2


def test_a_damaged_cache_is_decoded_again(photos, tmp_path, capsys):
    load(photos, tmp_path)
    index, = (tmp_path / 'image_cache').glob('*.json')
    rows, = (tmp_path / 'image_cache').glob('*.npy')
    reference = load(photos, tmp_path)
    capsys.readouterr()
    for damage in [lambda: index.write_text('{"version": 1, "files": [1, 2'),
                   lambda: rows.write_bytes(rows.read_bytes()[:1000]),
                   lambda: index.write_text(json.dumps({'version': 1, 'rows': '../../x',
                                                        'files': {}}))]:
        damage()
        data = load(photos, tmp_path)
        assert 'Decoding 90 images' in capsys.readouterr().out
        np.testing.assert_array_equal(data['images_train'], reference['images_train'])
        index, = (tmp_path / 'image_cache').glob('*.json')
        rows, = (tmp_path / 'image_cache').glob('*.npy')


# The scripts on a folder --------------------------------------------------------------

def test_softmax_and_the_two_layer_network_learn_the_folders_classes(photos, tmp_path):
    result = run_script('softmax.py', '--data_dir', photos, '--seed', 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert printed_value(result.stdout, 'Test accuracy') > 0.6  # chance: a third
    lines = result.stdout.splitlines()
    header = lines.index('Confusion matrix (rows: true class, columns: predicted class):')
    assert lines[header + 1].split() == sorted(CLASSES)
    flags = json.loads(next((tmp_path / 'tf_logs').glob('*/flags.json')).read_text())
    train = len(load(photos, tmp_path)['images_train'])
    assert flags['flags']['batch_size'] == train // 10  # a tenth of the training images
    assert flags['data']['classes'] == sorted(CLASSES)

    train_dir = tmp_path / 'fc_logs'
    result = run_script('run_fc_model.py', '--data_dir', photos, '--train_dir', train_dir,
                        '--image_size', 16, '--max_steps', 300, '--seed', 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = printed_value(result.stdout, 'Test accuracy')
    assert accuracy > 0.6
    # 18 test images: 4 digits, as for CIFAR-10's 10,000 (not 0.611111 or 0.5).
    assert re.findall(r'^Test accuracy (\d\.\d+)$', result.stdout, re.M) == [
        '%.4f' % accuracy]
    run = run_folder(train_dir, 'fc_')
    events = read_events(run)
    confusion, = logged_images(events, 'confusion_matrix')
    restored = run_script('restore_model.py', '--train_dir', train_dir, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert printed_value(restored.stdout, 'Test accuracy') == accuracy
    assert 'Images in %s (16x16 pixels)' % photos in restored.stdout


def test_a_cnn_run_on_a_folder_resumes_bit_for_bit_and_predicts_its_classes(photos,
                                                                            tmp_path):
    flags = ['--data_dir', photos, '--channels', 4, '--max_steps', 20, '--seed', 4,
             '--dtype', 'float32', '--checkpoint_every', 10]
    alone = tmp_path / 'alone'
    assert run_script('run_cnn_model.py', '--train_dir', alone, *flags,
                      cwd=tmp_path).returncode == 0
    stopped = tmp_path / 'stopped'
    first = run_script('run_cnn_model.py', '--train_dir', stopped, *flags[:-2],
                       '--checkpoint_every', 10, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    run = run_folder(stopped, 'cnn_')
    for name in os.listdir(run):  # as if it had stopped after step 10
        if name.startswith('checkpoint-20'):
            os.remove(run / name)
    resumed = run_script('run_cnn_model.py', '--train_dir', stopped, '--resume',
                         cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'Resuming run %s from step 10' % run.name in resumed.stdout
    assert_bitwise_equal(run / 'checkpoint-20', run_folder(alone) / 'checkpoint-20')

    image = photos / CLASSES[2] / '007.jpg'
    predicted = run_script('predict_image.py', image, '--train_dir', stopped, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    line = predicted.stdout.strip().splitlines()[-1]
    names = [guess.rsplit(' ', 1)[0] for guess in line.split(': ', 1)[1].split(', ')]
    assert sorted(names) == sorted(CLASSES)  # three classes: the top three are all


def test_a_run_resumed_on_changed_images_is_refused(photos, tmp_path):
    data_dir = copy_of(photos, tmp_path)
    flags = ['--data_dir', data_dir, '--hidden1', 8, '--max_steps', 20, '--seed', 1]
    assert run_script('run_fc_model.py', *flags, cwd=tmp_path).returncode == 0
    (data_dir / CLASSES[0] / '003.jpg').unlink()
    result = run_script('run_fc_model.py', '--resume', '--max_steps', 40, cwd=tmp_path)
    assert_one_line_error(result, 'are not those run fc_', 'start a new run')


def test_restore_refuses_data_with_other_classes(photos, tiny_cifar, tmp_path):
    assert run_script('run_fc_model.py', '--data_dir', photos, '--hidden1', 8,
                      '--max_steps', 10, cwd=tmp_path).returncode == 0
    result = run_script('restore_model.py', '--data_dir', tiny_cifar, cwd=tmp_path)
    assert_one_line_error(result, 'learned the classes chat, chien, пингвин',
                          'pass --data_dir the folder it trained on')


def test_the_batch_follows_a_small_training_set_unless_given(photos, tmp_path):
    result = run_script('run_cnn_model.py', '--data_dir', photos, '--channels', 4,
                        '--max_steps', 2, '--batch_size', 50, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'batch_size = 50' in result.stdout
    assert 'instead of' not in result.stdout
    result = run_script('run_cnn_model.py', '--data_dir', photos, '--channels', 4,
                        '--max_steps', 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    train = len(load(photos, tmp_path)['images_train'])
    assert printed_value(result.stdout, 'batch_size =') == train // 10
    # Said once, with why, and Part 3's learning rate scaled with the batch below 200.
    batch = train // 10
    rate = float('%.4g' % (1.5 * batch / 200))
    assert lines_starting(result.stdout, 'batch_size = %d instead of' % batch) == [
        'batch_size = %d instead of 1000: a tenth of the %d training images, so that an '
        'epoch has 10 steps; learning_rate = %g instead of 1.5: times %d/200.'
        % (batch, train, rate, batch)]
    assert printed_value(result.stdout, 'learning_rate =') == rate
    flags, = (tmp_path / 'tf_logs').glob('cnn_channels=4_max_steps=2_2*/flags.json')
    recorded = json.loads(flags.read_text())['flags']
    assert recorded['learning_rate'] == rate and recorded['batch_size'] == batch
    # A learning rate given is kept; Part 2's stays (scaled, it did worse). Both say so.
    for script, flags, rate, why in [
            ('run_cnn_model.py', ['--channels', 4, '--learning_rate', 0.01], 0.01,
             '(--learning_rate as given)'),
            ('run_fc_model.py', ['--hidden1', 8], 0.001,
             '(the learning rate stays: docs/images.md)')]:
        result = run_script(script, '--data_dir', photos, '--max_steps', 2, *flags,
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert printed_value(result.stdout, 'learning_rate =') == rate
        assert lines_starting(result.stdout, 'batch_size = %d instead of' % batch)[0]\
            .endswith(why + '.')


def test_tune_fc_model_draws_batches_that_fit_the_folder(photos, tmp_path):
    result = run_script('tune_fc_model.py', '--trials', 3, '--max_steps', 20,
                        '--data_dir', photos, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r'^  test accuracy [\d.]+ in \d+ s, run \S+$', result.stdout,
                          re.M)) == 3
    # Every command spells the same flags, the seed the tuner drew included, and each
    # batch fits 72 training images (100 or more would not).
    commands = [line.split(': ', 1)[1].split() for line in result.stdout.splitlines()
                if line.startswith('Trial ')]
    commands.append(result.stdout.splitlines()[-1].split()[2:])  # the best one
    flags = [[word for word in command if word.startswith('--')] for command in commands]
    assert all(names == flags[0] for names in flags) and '--seed' in flags[0]
    assert len({command[command.index('--seed') + 1] for command in commands}) == 1
    assert all(int(command[command.index('--batch_size') + 1]) <= 7
               for command in commands)

"""The MNIST companion tutorial: IDX files, softmax.py --dataset mnist, downloads."""
import gzip
import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import (LoopbackServer, assert_one_line_error, printed_value, run_script,
                      write_idx, write_mnist)
from support import mnist, report
from support.errors import InputError

FASHION = Path('/usr/share/datasets/fashion-mnist')  # apt-get install dataset-fashion-mnist


def test_idx_loader_shapes_scaling_and_labels(tiny_mnist):
    data = mnist.load_data(str(tiny_mnist), 'mnist')
    with gzip.open(tiny_mnist / 'train-images-idx3-ubyte.gz') as f:
        raw = np.frombuffer(f.read()[16:], np.uint8).reshape(600, 784)
    assert data['images_train'].shape == (600, 784) and data['images_test'].shape == (200, 784)
    assert data['images_train'].dtype == np.float32
    np.testing.assert_allclose(data['images_train'], raw / 255, atol=1e-6)
    assert 0 <= data['images_test'].min() and data['images_test'].max() <= 1
    with gzip.open(tiny_mnist / 't10k-labels-idx1-ubyte.gz') as f:
        np.testing.assert_array_equal(data['labels_test'], np.frombuffer(f.read()[8:], np.uint8))
    assert data['classes'] == [str(d) for d in range(10)]
    assert data['image_shape'] == (1, 28, 28)
    assert mnist.load_data(str(tiny_mnist), 'fashion_mnist')['classes'][0] == 'T-shirt/top'


@pytest.mark.parametrize('damage,message', [
    (lambda p: write_idx(p, np.zeros((5, 28, 28))), 'holds 5 images but'),      # counts differ
    (lambda p: write_idx(p, np.zeros(600)), 'wrong magic number'),                # labels, not images
    (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:5000])),
     'holds 4984 bytes of data where its header promises 470400'),              # cut short
    (lambda p: p.write_bytes(p.read_bytes()[:3000]), 'is truncated or not gzip'),
    (lambda p: p.write_bytes(b'not gzip at all'), 'is truncated or not gzip'),
])
def test_bad_idx_files_are_named(tmp_path, damage, message):
    folder = write_mnist(tmp_path / 'MNIST_data')
    damage(folder / 'train-images-idx3-ubyte.gz')
    with pytest.raises(InputError, match=re.escape(message)) as error:
        mnist.load_data(str(folder), 'mnist')
    assert 'train-images-idx3-ubyte.gz' in str(error.value)


def test_bad_idx_is_a_one_line_error_from_the_script(tmp_path):
    folder = write_mnist(tmp_path / 'MNIST_data')
    write_idx(folder / 't10k-labels-idx1-ubyte.gz', np.zeros(7))
    result = run_script('softmax.py', '--dataset', 'mnist', '--data_dir', folder,
                        cwd=tmp_path)
    assert_one_line_error(result, 't10k-images-idx3-ubyte.gz holds 200 images but',
                          't10k-labels-idx1-ubyte.gz holds 7 labels')


def test_softmax_on_mnist_prints_the_tutorial_accuracies(tiny_mnist, tmp_path):
    result = run_script('softmax.py', '--dataset', 'mnist', '--data_dir', tiny_mnist,
                        '--seed', 0, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    reports = [l for l in lines if l.startswith('Accuracy on test-set:')]
    assert len(reports) == 4  # after 0, 1, 10 and 1000 steps
    assert all(re.fullmatch(r'Accuracy on test-set: \d+\.\d%', l) for l in reports)
    percentages = [float(l.split()[-1].rstrip('%')) for l in reports]
    assert percentages[-1] > 50 and percentages[-1] > percentages[0]
    # In order: before any training, then after steps 1 and 10 (both before step 100's
    # line), and after the last step.
    steps = [i for i, l in enumerate(lines) if l.startswith('Step ')]
    where = [lines.index(r) for r in reports]
    assert where[0] < steps[0] < where[1] < where[2] < steps[1] and steps[-1] < where[3]
    assert percentages[0] == pytest.approx(100 * np.mean(
        mnist.load_data(str(tiny_mnist), 'mnist')['labels_test'] == 0), abs=0.06)
    assert printed_value(result.stdout, 'Test accuracy') == pytest.approx(
        percentages[-1] / 100, abs=0.0006)

    from test_scripts import logged_images, read_events, run_folder
    events = read_events(run_folder(tmp_path / 'tf_logs', 'softmax_dataset=mnist_'))
    for tag in ['weight_templates', 'test_predictions', 'confusion_matrix']:
        (step, _), = logged_images(events, tag)
        assert step == 1000


def test_pictures_show_images_at_their_brightness(tiny_mnist, tiny_cifar, monkeypatch):
    # The digits are 0..1 and CIFAR-10's bytes 0..255: both must be drawn in 0..1.
    import data_helpers
    drawn = []
    monkeypatch.setattr(report, 'prediction_figure',
                        lambda images, *args: drawn.append(images) or
                        report.template_figure(images[:1], ['x']))
    writer = tf.summary.create_file_writer(str(tiny_mnist.parent / 'logs'))
    for data in [mnist.load_data(str(tiny_mnist), 'mnist'),
                 data_helpers.load_data(str(tiny_cifar))]:
        logits = np.eye(10)[data['labels_test']]
        report.test_set(logits, data, writer, 1)
    for images in drawn:
        assert images.shape[0] == 20 and 0.3 < images.mean() < 0.7 and images.max() <= 1


@pytest.mark.parametrize('argv,expected', [
    ([], (0.005, 1000, 100, 'cifar-10-batches-py')),
    (['--dataset', 'mnist'], (0.5, 1000, 100, 'MNIST_data')),
    (['--dataset', 'fashion_mnist'], (0.5, 1000, 100, 'fashion_mnist_data')),
    (['--dataset', 'mnist', '--learning_rate', '0.1', '--data_dir', 'd'], (0.1, 1000, 100, 'd')),
])
def test_each_dataset_gets_its_tutorials_defaults(monkeypatch, argv, expected):
    import softmax
    for name in ['CIFAR10_DIR', 'MNIST_DIR', 'FASHION_MNIST_DIR']:
        monkeypatch.delenv(name, raising=False)
    args = softmax.parse_args(argv)
    assert (args.learning_rate, args.max_steps, args.batch_size, args.data_dir) == expected


def file_server(folder):
    """A loopback server for the files of folder (404 for any other path)."""
    def answer(request):
        path = folder / request.path.lstrip('/')
        if not path.is_file():
            request.send_error(404)
            return
        request.send_response(200)
        request.send_header('Content-Length', str(path.stat().st_size))
        request.end_headers()
        request.wfile.write(path.read_bytes())
    return LoopbackServer(answer)


def test_missing_idx_files_are_downloaded_and_verified(tmp_path, monkeypatch):
    source = write_mnist(tmp_path / 'source')
    server = file_server(source)
    try:
        md5s = [hashlib.md5((source / n).read_bytes()).hexdigest()
                for n in mnist.FILES]
        monkeypatch.setitem(mnist.DATASETS['mnist'], 'md5', md5s)
        monkeypatch.setenv('MNIST_URL', server.url)
        target = tmp_path / 'MNIST_data'
        data = mnist.load_data(str(target), 'mnist')
        assert data['images_train'].shape == (600, 784)
        assert sorted(server.requests) == sorted('/' + n for n in mnist.FILES)
        mnist.load_data(str(target), 'mnist')
        assert len(server.requests) == 4  # nothing fetched twice

        # A checksum that does not match: an error, and no file left behind.
        (target / 't10k-images-idx3-ubyte.gz').unlink()
        monkeypatch.setitem(mnist.DATASETS['mnist'], 'md5', ['0' * 32] * 4)
        with pytest.raises(InputError, match='has MD5 .* not 0{32}'):
            mnist.load_data(str(target), 'mnist')
        assert sorted(os.listdir(target)) == sorted(
            n for n in mnist.FILES if n != 't10k-images-idx3-ubyte.gz')

        # A missing file on the server: HTTP 404, nothing left behind.
        monkeypatch.setitem(mnist.DATASETS['mnist'], 'md5', md5s)
        (source / 't10k-images-idx3-ubyte.gz').rename(source / 'moved')
        with pytest.raises(InputError, match='HTTP 404'):
            mnist.load_data(str(target), 'mnist')
        assert len(os.listdir(target)) == 3
    finally:
        server.close()


@pytest.mark.skipif(not (FASHION / 't10k-labels-idx1-ubyte.gz').is_file(),
                    reason='Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)')
def test_fashion_mnist_with_the_mnist_defaults(tmp_path):
    result = run_script('softmax.py', '--dataset', 'fashion_mnist', '--data_dir', FASHION,
                        '--seed', 0, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert printed_value(result.stdout, 'Test accuracy') >= 0.78
    assert 'Ankle boot' in result.stdout  # the per-class table names the classes

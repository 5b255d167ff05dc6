"""load_data() and gen_batch(): the data half of the tutorial, on data the tests write."""
import pickle

import numpy as np
import pytest

from conftest import write_batch, write_cifar
import data_helpers
from support.errors import InputError


def raw_batches(folder):
    def read(name):
        with open(folder / name, 'rb') as f:
            return pickle.load(f, encoding='latin1')
    return [read('data_batch_%d' % i) for i in range(1, 6)], read('test_batch')


def test_load_data_shapes_dtypes_and_labels(tiny_cifar):
    data = data_helpers.load_data(str(tiny_cifar))
    train, test = raw_batches(tiny_cifar)
    assert data['images_train'].shape == (1000, 3072)
    assert data['images_test'].shape == (200, 3072)
    assert data['images_train'].dtype == np.uint8 == data['images_test'].dtype
    np.testing.assert_array_equal(data['images_train'],
                                  np.concatenate([b['data'] for b in train]))
    np.testing.assert_array_equal(data['images_test'], test['data'])
    assert data['labels_train'].dtype == np.int64
    np.testing.assert_array_equal(data['labels_train'],
                                  np.concatenate([b['labels'] for b in train]))
    np.testing.assert_array_equal(data['labels_test'], test['labels'])
    assert data['classes'] == ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog',
                               'horse', 'ship', 'truck']


def test_mean_image_is_the_mean_of_the_training_images(tiny_cifar):
    data = data_helpers.load_data(str(tiny_cifar))
    train, _ = raw_batches(tiny_cifar)
    raw_train = np.concatenate([b['data'] for b in train]).astype(np.float64)
    assert data['mean_image'].dtype == np.float32
    np.testing.assert_allclose(data['mean_image'], raw_train.mean(axis=0), rtol=1e-6)
    # What the training graph subtracts: the training images then average to zero.
    centred = data['images_train'] - data['mean_image']
    assert np.abs(centred.mean(axis=0)).max() < 1e-3


@pytest.mark.parametrize('num_examples,batch_size', [(1000, 100), (1000, 400), (10, 10)])
def test_gen_batch_covers_each_example_at_most_once_per_epoch(num_examples, batch_size):
    per_epoch = num_examples // batch_size
    batches = list(data_helpers.gen_batch(num_examples, batch_size, 3 * per_epoch, seed=0))
    assert len(batches) == 3 * per_epoch
    epochs = [np.concatenate(batches[e * per_epoch:(e + 1) * per_epoch]) for e in range(3)]
    for epoch in epochs:
        assert all(len(b) == batch_size for b in batches)
        assert len(np.unique(epoch)) == len(epoch) == per_epoch * batch_size
        if num_examples % batch_size == 0:
            np.testing.assert_array_equal(np.sort(epoch), np.arange(num_examples))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch


def test_gen_batch_is_repeatable_with_a_seed():
    first = list(data_helpers.gen_batch(100, 30, 7, seed=5))
    second = list(data_helpers.gen_batch(100, 30, 7, seed=5))
    np.testing.assert_array_equal(np.stack(first), np.stack(second))


def test_gen_batch_rejects_a_batch_larger_than_the_data():
    with pytest.raises(InputError, match='batch_size'):
        next(data_helpers.gen_batch(10, 11, 1, seed=0))


def test_missing_folder_is_fetched_and_failure_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv('CIFAR10_URL', 'http://127.0.0.1:9/cifar-10-python.tar.gz')
    with pytest.raises(InputError, match='download it by hand and save it as '
                       + str(tmp_path / 'cifar-10-python.tar.gz')):
        data_helpers.load_data(str(tmp_path / 'cifar-10-batches-py'))


def test_missing_file_is_named(tmp_path):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    (folder / 'data_batch_3').unlink()
    with pytest.raises(InputError, match='data_batch_3 is missing'):
        data_helpers.load_data(str(folder))


def test_truncated_pickle_is_named(tmp_path):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    content = (folder / 'test_batch').read_bytes()
    (folder / 'test_batch').write_bytes(content[:len(content) // 2])
    with pytest.raises(InputError, match='test_batch is truncated'):
        data_helpers.load_data(str(folder))


@pytest.mark.parametrize('content', [
    {'data': np.zeros((5, 100), np.uint8), 'labels': [0] * 5},      # wrong image size
    {'data': np.zeros((5, 3072), np.uint8), 'labels': [0] * 4},     # counts differ
    {'data': np.zeros((5, 3072), np.uint8), 'labels': [0, 1, 2, 3, 10]},  # bad label
    ['not', 'a', 'dict'],
])
def test_non_cifar_pickle_is_named(tmp_path, content):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    with open(folder / 'data_batch_2', 'wb') as f:
        pickle.dump(content, f, protocol=2)
    with pytest.raises(InputError, match='data_batch_2'):
        data_helpers.load_data(str(folder))


def test_loader_accepts_batches_of_different_sizes(tmp_path):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    write_batch(folder / 'data_batch_4', np.arange(7) % 10, np.random.default_rng(1))
    assert data_helpers.load_data(str(folder))['images_train'].shape == (87, 3072)

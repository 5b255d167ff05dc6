"""visualize.py: the numbers and pictures that show what a model learned."""
import numpy as np
import pytest

import visualize

CLASSES = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    guesses = np.where(rng.random(500) < 0.4, labels, rng.integers(0, 10, 500))
    return labels, guesses


def test_confusion_matrix_counts_every_image_once(predictions):
    labels, guesses = predictions
    matrix = visualize.confusion_matrix(labels, guesses, 10)
    assert matrix.shape == (10, 10) and matrix.sum() == len(labels)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(guesses, minlength=10))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(np.mean(labels == guesses))
    assert matrix[labels[0], guesses[0]] == np.sum((labels == labels[0]) &
                                                   (guesses == guesses[0]))


def test_per_class_accuracy_matches_numpy(predictions):
    labels, guesses = predictions
    accuracy = visualize.per_class_accuracy(visualize.confusion_matrix(labels, guesses, 10))
    expected = [np.mean(guesses[labels == c] == c) for c in range(10)]
    np.testing.assert_allclose(accuracy, expected)


def test_report_lists_every_class_with_its_row(predictions):
    labels, guesses = predictions
    matrix = visualize.confusion_matrix(labels, guesses, 10)
    lines = visualize.report(matrix, CLASSES).splitlines()
    assert lines[0] == 'Per-class accuracy:'
    for c, name in enumerate(CLASSES):
        accuracy_line = lines[1 + c].split()
        assert accuracy_line[0] == name
        assert float(accuracy_line[1]) == pytest.approx(matrix[c, c] / matrix[c].sum(),
                                                        abs=5e-4)
        row = lines[13 + c].split()
        assert row[0] == name and [int(n) for n in row[1:]] == matrix[c].tolist()
    assert lines[12].split() == CLASSES


def test_text_is_drawn_in_the_font():
    mask = visualize.text_mask('H1', scale=1)
    assert mask.shape == (5, 7)
    np.testing.assert_array_equal(mask[:, :3], [[1, 0, 1], [1, 0, 1], [1, 1, 1],
                                                [1, 0, 1], [1, 0, 1]])
    assert not mask[:, 3].any()  # the space between letters
    assert visualize.text_mask('ab', scale=2).shape == (10, 14)


def test_labelled_grid_and_confusion_image_shapes():
    images = np.random.default_rng(0).random((7, 32, 32, 3))
    grid = visualize.labelled_grid(images, [[('cat', visualize.WHITE)]] * 7, columns=5)
    assert grid.dtype == np.uint8 and grid.shape == (2 * (96 + 34), 5 * (96 + 8), 3)
    picture = visualize.confusion_image(np.eye(10, dtype=int) * 3, CLASSES)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    assert picture.min() < 100  # the diagonal is dark blue, the rest white


def test_to_hwc_reads_channel_planes():
    rows = np.arange(2 * 3 * 4 * 5).reshape(2, 3 * 4 * 5)
    images = visualize.to_hwc(rows, (3, 4, 5))
    assert images.shape == (2, 4, 5, 3)
    assert images[1, 2, 3, 1] == rows[1, 1 * 20 + 2 * 5 + 3]
    grey = visualize.to_hwc(np.arange(6).reshape(1, 6), (1, 2, 3))
    assert grey.shape == (1, 2, 3, 3) and (grey[..., 0] == grey[..., 2]).all()

"""What a model learned, as text and as pictures in TensorBoard.

Per-class accuracy and the confusion matrix as text, and as pictures in TensorBoard's
Images tab (drawn with matplotlib, as TensorBoard's guide to
image summaries does): the confusion matrix with its counts, test images with their
true and predicted classes, and a linear model's weights as one image per class.
"""
import io

import numpy as np
import tensorflow as tf


def confusion_matrix(labels, predictions, num_classes):
    """Counts: row = true class, column = predicted class."""
    return np.bincount(num_classes * np.asarray(labels) + np.asarray(predictions),
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(matrix):
    """The fraction of each true class predicted correctly (NaN for an absent class)."""
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.diag(matrix) / matrix.sum(axis=1)


def text_report(matrix, classes):
    """Per-class accuracy and the confusion matrix as a labelled text table."""
    width = max(6, max(len(c) for c in classes) + 1)
    lines = ['Per-class accuracy:']
    for name, accuracy, total in zip(classes, per_class_accuracy(matrix), matrix.sum(1)):
        lines.append('  {:<{w}} {:.3f}  ({} images)'.format(name, accuracy, total, w=width))
    lines.append('Confusion matrix (rows: true class, columns: predicted class):')
    lines.append(' ' * (width + 2) + ''.join('{:>{w}}'.format(c, w=width) for c in classes))
    for name, row in zip(classes, matrix):
        lines.append('  {:<{w}}'.format(name, w=width) +
                     ''.join('{:>{w}d}'.format(n, w=width) for n in row))
    return '\n'.join(lines)


def test_set(logits, data_sets, summary_writer=None, step=None, templates=None,
             filters=None):
    """Print per-class accuracy and the confusion matrix of the test set; with a
    summary_writer, also draw them, and sample predictions, in TensorBoard.

    Args:
      logits: the model's scores for data_sets['images_test'].
      data_sets: the dict from load_data().
      summary_writer, step: a tf.summary writer and the step to file the pictures under.
      templates: for a linear model, its weights (pixels x classes).
      filters: for a convolutional network, its first layer's filters (height x
        width x colour channels x filters).

    Returns:
      The confusion matrix.
    """
    classes = data_sets['classes']
    predictions = np.argmax(logits, axis=1)
    matrix = confusion_matrix(data_sets['labels_test'], predictions, len(classes))
    print(text_report(matrix, classes))
    if summary_writer is not None:
        # 20 test images spread over the test set (a folder's are sorted by class).
        samples = np.linspace(0, len(predictions) - 1, min(20, len(predictions))).astype(int)
        images = to_hwc(data_sets['images_test'][samples], data_sets['image_shape'])
        with summary_writer.as_default(step=step):
            # The metric of TensorBoard's HParams dashboard (see runs.log_hparams).
            tf.summary.scalar('test_accuracy', np.trace(matrix) / matrix.sum())
            log_figure('confusion_matrix', confusion_figure(matrix, classes),
                       'Rows: true class; columns: predicted class; the counts of the '
                       'test images. Darker: a larger share of the true class.')
            log_figure('test_predictions', prediction_figure(
                images / data_sets['pixel_max'], data_sets['labels_test'][samples],
                predictions[samples], classes),
                'Test images: true class, then the prediction (green: right, red: wrong).')
            if templates is not None:
                log_figure('weight_templates', template_figure(
                    to_hwc(templates.T, data_sets['image_shape']), classes),
                    "Each class's weights as an image: what the linear classifier "
                    'looks for.')
            if filters is not None:
                log_figure('first_layer_filters', filter_figure(filters),
                           "The first convolution's filters as colour images: the "
                           'patterns each one responds to most.')
        summary_writer.flush()
    return matrix


def to_hwc(rows, image_shape):
    """Image rows (N x pixels, channel planes one after another) to N x H x W x C."""
    channels, height, width = image_shape
    return np.asarray(rows).reshape(-1, channels, height, width).transpose(0, 2, 3, 1)


def log_figure(tag, figure, description):
    """Write a matplotlib figure to TensorBoard's Images tab as a PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=100)
    image = tf.image.decode_png(buffer.getvalue(), channels=3)
    tf.summary.image(tag, image[None], description=description)


def _figure(width, height):
    from matplotlib.figure import Figure  # imported only to draw; renders with Agg
    return Figure(figsize=(width, height), layout='constrained')


def confusion_figure(matrix, classes):
    """The confusion matrix as a heat map, with the count in each cell."""
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure = _figure(7, 6)
    axes = figure.add_subplot()
    axes.imshow(fractions, cmap='Blues', vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha='center', va='center', fontsize=8,
                  color='white' if fractions[row, column] > 0.5 else 'black')
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, classes, rotation=45, ha='right')
    axes.set_yticks(ticks, classes)
    axes.set_xlabel('Predicted class')
    axes.set_ylabel('True class')
    return figure


def _image_grid(images, titles, columns=5, cell=1.6):
    """A grid of H x W x C images in 0..1, each with a title [(text, colour)]."""
    rows = -(-len(images) // columns)
    figure = _figure(columns * cell, rows * (cell + 0.3))
    for i, (image, title) in enumerate(zip(images, titles)):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.imshow(np.clip(image.squeeze(), 0, 1), cmap='gray', vmin=0, vmax=1,
                    interpolation='nearest')
        axes.set_axis_off()
        for j, (text, color) in enumerate(title):
            axes.text(0.5, -0.08 - 0.14 * j, text, color=color, fontsize=8,
                      transform=axes.transAxes, ha='center', va='top')
    return figure


def prediction_figure(images, labels, predictions, classes):
    """Test images, each with its true class and the prediction (green if right)."""
    titles = [[('true: ' + classes[t], 'black'),
               ('predicted: ' + classes[p], 'green' if t == p else 'red')]
              for t, p in zip(labels, predictions)]
    return _image_grid(images, titles)


def _stretched(images):
    """Each image's values stretched to fill 0..1."""
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-12)


def template_figure(templates, classes):
    """A linear model's weights for each class as an image."""
    return _image_grid(_stretched(templates), [[(name, 'black')] for name in classes])


def filter_figure(filters):
    """Convolution filters (height x width x 3 x N) as N small colour images."""
    images = _stretched(np.transpose(filters, (3, 0, 1, 2)))
    return _image_grid(images, [[] for _ in images], columns=8, cell=0.8)

"""See what a model learned: per-class accuracy, confusion matrix, labelled image grids.

Printed as text tables, and written to TensorBoard's Images tab as pictures drawn with
NumPy alone (a 3x5-pixel font labels them), so no plotting library is needed.
"""
import numpy as np

from data_helpers import InputError  # noqa: F401  (first: it imports TensorFlow quietly)
import tensorflow as tf

# A 3x5-pixel font: five rows of three bits per character, top row first.
FONT = {
    'A': (2, 5, 7, 5, 5), 'B': (6, 5, 6, 5, 6), 'C': (3, 4, 4, 4, 3), 'D': (6, 5, 5, 5, 6),
    'E': (7, 4, 6, 4, 7), 'F': (7, 4, 6, 4, 4), 'G': (3, 4, 5, 5, 3), 'H': (5, 5, 7, 5, 5),
    'I': (7, 2, 2, 2, 7), 'J': (1, 1, 1, 5, 2), 'K': (5, 5, 6, 5, 5), 'L': (4, 4, 4, 4, 7),
    'M': (5, 7, 7, 5, 5), 'N': (6, 5, 5, 5, 5), 'O': (2, 5, 5, 5, 2), 'P': (6, 5, 6, 4, 4),
    'Q': (2, 5, 5, 6, 3), 'R': (6, 5, 6, 5, 5), 'S': (3, 4, 2, 1, 6), 'T': (7, 2, 2, 2, 2),
    'U': (5, 5, 5, 5, 7), 'V': (5, 5, 5, 5, 2), 'W': (5, 5, 7, 7, 5), 'X': (5, 5, 2, 5, 5),
    'Y': (5, 5, 2, 2, 2), 'Z': (7, 1, 2, 4, 7), '0': (7, 5, 5, 5, 7), '1': (2, 6, 2, 2, 7),
    '2': (6, 1, 2, 4, 7), '3': (6, 1, 2, 1, 6), '4': (5, 5, 7, 1, 1), '5': (7, 4, 6, 1, 6),
    '6': (3, 4, 7, 5, 7), '7': (7, 1, 2, 2, 2), '8': (7, 5, 7, 5, 7), '9': (7, 5, 7, 1, 6),
    '-': (0, 0, 7, 0, 0), '/': (1, 1, 2, 4, 4), ' ': (0, 0, 0, 0, 0), '?': (7, 1, 2, 0, 2),
}
WHITE, GREEN, RED = (1.0, 1.0, 1.0), (0.3, 0.9, 0.3), (1.0, 0.35, 0.35)


# Numbers ------------------------------------------------------------------------------

def confusion_matrix(labels, predictions, num_classes):
    """Counts: row = true class, column = predicted class."""
    return tf.math.confusion_matrix(labels, predictions, num_classes, dtype=tf.int64).numpy()


def per_class_accuracy(matrix):
    """The fraction of each true class predicted correctly (NaN for an absent class)."""
    totals = matrix.sum(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.diag(matrix) / totals


def report(matrix, classes):
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


# Pictures -----------------------------------------------------------------------------

def text_mask(text, scale=2):
    """A boolean image of text in the 3x5 font (upper case), scale pixels per dot."""
    rows = np.zeros((5, 4 * len(text)), dtype=bool)
    for i, char in enumerate(text.upper()):
        glyph = FONT.get(char, FONT['?'])
        for y, bits in enumerate(glyph):
            rows[y, 4 * i:4 * i + 3] = [(bits >> (2 - x)) & 1 for x in range(3)]
    return np.kron(rows[:, :-1] if text else rows, np.ones((scale, scale), dtype=bool))


def draw_text(canvas, text, top, left, color, scale=2):
    """Draw text on an H x W x 3 float canvas, clipped to its edges."""
    mask = text_mask(text, scale)[:max(canvas.shape[0] - top, 0),
                                  :max(canvas.shape[1] - left, 0)]
    canvas[top:top + mask.shape[0], left:left + mask.shape[1]][mask] = color


def to_hwc(rows, image_shape):
    """Image rows (N x pixels, channel planes one after another) to N x H x W x 3."""
    channels, height, width = image_shape
    images = rows.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
    return np.repeat(images, 3, axis=3) if channels == 1 else images


def stretch(images):
    """Scale each image to fill 0..1, so faint templates become visible."""
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-12)


def labelled_grid(images, captions, columns=5, min_size=96):
    """A grid of N x H x W x 3 images in 0..1, each enlarged, with up to two caption
    lines of (text, colour) below it. Returns an H x W x 3 uint8 picture."""
    zoom = -(-min_size // images.shape[2])  # ceiling division
    height, width = images.shape[1] * zoom, images.shape[2] * zoom
    cell_h, cell_w = height + 34, width + 8
    rows = -(-len(images) // columns)
    canvas = np.full((rows * cell_h, columns * cell_w, 3), 0.15)
    for i, (image, lines) in enumerate(zip(images, captions)):
        top, left = (i // columns) * cell_h + 4, (i % columns) * cell_w + 4
        canvas[top:top + height, left:left + width] = np.kron(image, np.ones((zoom, zoom, 1)))
        for j, (text, color) in enumerate(lines):
            draw_text(canvas[:, :left + width], text, top + height + 3 + 12 * j, left, color)
    return (np.clip(canvas, 0, 1) * 255).astype(np.uint8)


def confusion_image(matrix, classes, cell=30):
    """The confusion matrix as a heat map: white (none) to blue (all of a true class),
    true classes labelled on the left, predicted ones (first 3 letters) on top."""
    fractions = np.nan_to_num(matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1))
    left, top = 8 * max(len(c) for c in classes) + 6, 16
    n = len(classes)
    canvas = np.ones((top + n * cell, left + n * cell, 3))
    blue = np.array([0.1, 0.3, 0.8])
    cells = 1 - fractions[..., None] * (1 - blue)  # n x n x 3
    canvas[top:, left:] = np.kron(cells, np.ones((cell, cell, 1)))
    canvas[top:, left:][::cell] = canvas[top:, left:][:, ::cell] = 0.8  # grid lines
    for i, name in enumerate(classes):
        draw_text(canvas, name, top + i * cell + 10, 2, (0, 0, 0))
        draw_text(canvas, name[:3], 3, left + i * cell + 4, (0, 0, 0))
    return (canvas * 255).astype(np.uint8)


def prediction_captions(labels, predictions, classes):
    """Caption lines per image: the true class, then the prediction (green if right)."""
    return [[(classes[t], WHITE), (classes[p], GREEN if t == p else RED)]
            for t, p in zip(labels, predictions)]


def report_test_set(logits, data_sets, writer=None, step=None, templates=None):
    """Print per-class accuracy and the confusion matrix of the test set; with a
    writer, also draw them, and sample predictions, in TensorBoard's Images tab.

    Args:
      logits: the model's scores for data_sets['images_test'].
      data_sets: the dict from load_data().
      writer, step: a tf.summary writer and the step to log the pictures under.
      templates: for a linear model, its weights (pixels x classes).

    Returns:
      The confusion matrix.
    """
    classes = data_sets['classes']
    predictions = np.argmax(logits, axis=1)
    matrix = confusion_matrix(data_sets['labels_test'], predictions, len(classes))
    print(report(matrix, classes))
    if writer is not None:
        samples = 20
        images = ((data_sets['images_test'][:samples] + data_sets['mean_image']) /
                  data_sets['pixel_max'])  # back to brightnesses 0..1
        log_evaluation(writer, step, matrix, classes, images,
                       data_sets['labels_test'][:samples], predictions[:samples],
                       data_sets['image_shape'], templates)
    return matrix


def log_evaluation(writer, step, matrix, classes, images, labels, predictions,
                   image_shape, templates=None):
    """Write the pictures of an evaluation to TensorBoard's Images tab.

    Args:
      writer: a tf.summary writer.
      step: the global step to file them under.
      matrix: the confusion matrix.
      classes: class names.
      images: the test image rows to show, in 0..1; labels and predictions for them.
      image_shape: (channels, height, width) of an image row.
      templates: for a linear model, its weights (pixels x classes): one image per class.
    """
    with writer.as_default(step=step):
        tf.summary.image('confusion_matrix', confusion_image(matrix, classes)[None],
                         description='Rows: true class; columns: predicted class; darker '
                                     'blue: a larger share of the true class.')
        grid = labelled_grid(to_hwc(images, image_shape),
                             prediction_captions(labels, predictions, classes))
        tf.summary.image('test_predictions', grid[None],
                         description='Test images: true class above, prediction below '
                                     '(green: right, red: wrong).')
        if templates is not None:
            grid = labelled_grid(stretch(to_hwc(templates.T, image_shape)),
                                 [[(name, WHITE)] for name in classes])
            tf.summary.image('weight_templates', grid[None],
                             description='Each class\'s weights as an image: what the '
                                         'linear classifier looks for.')
    writer.flush()

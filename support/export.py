"""A trained run as files any program can use: a SavedModel and a TensorFlow Lite file.

export_model.py writes them and predict_image.py --model reads them: the same network
in both, each taking a batch of uint8 RGB images of the run's size and returning the
probability of each class (the mean image and, for Part 3, the test-time views are
inside), the class names in labels.txt and in the SavedModel, and a README with an
example for each that needs nothing of this project.
"""
import os
import shutil
import tempfile

import tensorflow as tf

from support.errors import InputError, write_error

SAVED_MODEL, TFLITE, LABELS, README = ('saved_model', 'model.tflite', 'labels.txt',
                                       'README.md')
FILES = {SAVED_MODEL, TFLITE, LABELS, README}  # what an export folder holds


class Classifier(tf.Module):
    """What the SavedModel holds: the class names, the variables the network reads to
    classify (not its momentum or lookahead averages), and serve(images)."""

    def __init__(self, network):
        super().__init__(name='classifier')
        size = network.image_size
        self.classes = tf.Variable(network.classes, trainable=False, name='classes')
        self.serve = tf.function(
            lambda images: {'probabilities': network.probabilities(images)},
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, 'images')])
        self.weights = list(self.serve.get_concrete_function().variables)


def write(network, out):
    """Export network (a support.restore.Network) into the folder out: written in a new
    temporary folder beside it, then put in the place of out, so a failed export (a
    full disk) leaves the last one as it was.

    Raises:
      InputError: out is a folder of something else, or cannot be written.
    """
    if os.path.lexists(out) and not (os.path.isdir(out) and set(os.listdir(out)) <= FILES):
        raise InputError('%s exists and is not an export: name a new folder with --out'
                         % out)
    parent = os.path.dirname(os.path.abspath(out))
    part = None
    try:
        os.makedirs(parent, exist_ok=True)
        part = tempfile.mkdtemp(prefix='.export-', dir=parent)
        classifier, saved_model = Classifier(network), os.path.join(part, SAVED_MODEL)
        tf.saved_model.save(classifier, saved_model,
                            signatures={'serving_default': classifier.serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        with open(os.path.join(part, TFLITE), 'wb') as f:
            f.write(converter.convert())
        with open(os.path.join(part, LABELS), 'w', encoding='utf-8') as f:
            f.write(''.join(name + '\n' for name in network.classes))
        with open(os.path.join(part, README), 'w', encoding='utf-8') as f:
            f.write(readme(network))
        shutil.rmtree(out, ignore_errors=True)  # an earlier export (checked above)
        os.replace(part, out)
    except OSError as e:
        raise InputError(write_error(e, parent))
    finally:
        if part is not None and os.path.isdir(part):
            shutil.rmtree(part, ignore_errors=True)


def load(path):
    """An exported SavedModel folder (or the export folder holding one) or TFLite file
    as (classes, image size, a function from uint8 images [count, size, size, 3] to
    probabilities [count, classes]).

    Raises:
      InputError: path is neither, or damaged.
    """
    if os.path.isdir(os.path.join(path, SAVED_MODEL)):
        path = os.path.join(path, SAVED_MODEL)
    try:
        if os.path.isdir(path):
            signature = tf.saved_model.load(path).signatures['serving_default']
            classes = read_labels(os.path.join(path, '..', LABELS))
            size = signature.structured_input_signature[1]['images'].shape[1]
            return classes, size, lambda images: signature(
                images=tf.constant(images))['probabilities'].numpy()
        from ai_edge_litert.interpreter import Interpreter
        runner = Interpreter(model_path=path).get_signature_runner()
        size = runner.get_input_details()['images']['shape'][1]
        classes = read_labels(os.path.join(os.path.dirname(path), LABELS))
        return classes, size, lambda images: runner(images=images)['probabilities']
    except InputError:
        raise
    except Exception as e:  # a damaged file raises many kinds of error
        raise InputError('%s is not a model export_model.py wrote, or it is damaged (%s)'
                         % (path, type(e).__name__))


def read_labels(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read(1 << 20).splitlines()
    except OSError as e:
        raise InputError('cannot read the class names in %s: %s' % (path, e.strerror))


def readme(network):
    size, classes = network.image_size, network.classes
    decode = ('image = ImageOps.exif_transpose(Image.open(\'photo.jpg\')).convert(\'RGB\')\n'
              'images = np.asarray(image.resize(({0}, {0}), Image.Resampling.BOX))[None]\n'
              ).format(size)
    top3 = ('for k in np.argsort(-probabilities)[:3]:\n'
            '    print(classes[k], \'%.0f%%\' % (100 * probabilities[k]))\n')
    return '''# An exported network: {n} classes, {size}x{size} RGB images

Classes, in the order of the scores (also in `labels.txt`, one a line): {names}.

Input: `images`, uint8 [count, {size}, {size}, 3], RGB values 0-255, each photo turned
upright, made RGB and shrunk to {size}x{size} (each pixel the average of the area it
covers) as below. Output: `probabilities`, float32 [count, {n}]. {inside}

## SavedModel (`saved_model/`): TensorFlow, NumPy and Pillow

```python
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

model = tf.saved_model.load('saved_model')
classes = [name.decode() for name in model.classes.numpy()]
{decode}probabilities = model.signatures['serving_default'](
    images=tf.constant(images))['probabilities'].numpy()[0]
{top3}```

## TensorFlow Lite (`model.tflite`): `pip install ai-edge-litert numpy pillow`

```python
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageOps

runner = Interpreter(model_path='model.tflite').get_signature_runner()
classes = open('labels.txt', encoding='utf-8').read().splitlines()
{decode}probabilities = runner(images=images)['probabilities'][0]
{top3}```
'''.format(n=len(classes), size=size, names=', '.join(classes), decode=decode, top3=top3,
           inside=INSIDE[network.kind])


INSIDE = {  # what the exported network does to the images itself, by kind of run
    'fc': 'The network subtracts\nthe mean training image itself.',
    'cnn': 'The network subtracts\nthe mean training image itself, and averages the '
           'scores of the image, its mirror\nimage and both shifted by a pixel.',
    'pretrained': 'The network (MobileNetV2\npretrained on ImageNet, and a new last '
                  'layer) scales the pixels itself, and averages\nthe scores of the '
                  'image and its mirror image.'}

"""Rebuild a recorded run for restore_model.py and predict_image.py: the network its
flags.json names (checked against its checkpoint), the data it trained on, read as it
was read for the run, and the function from that data's image rows to logits. (For
runs made before runs recorded their flags, the checkpoint's variables tell the network
and its size.)
"""
import argparse
import math

import tensorflow as tf

import cnn
import data_helpers
import two_layer_fc
from support import cli, devices, runs


def trained_on(run, data_dir=None):
    """The data the run trained on (or data_dir), read as it was read for the run,
    checked to hold the classes the run learned."""
    _, flags = run.recorded()
    flags = flags or {}  # a run made before runs recorded their flags: CIFAR-10
    data_dir = data_dir or flags.get('data_dir') or cli.default_data_dir()
    try:  # flags.json is checked as the command line would be
        image_size = cli.image_size(str(flags.get('image_size', 32)))
        test_fraction = cli.open_fraction(str(flags.get('test_fraction', 0.2)))
    except argparse.ArgumentTypeError:
        raise cli.InputError('the flags.json of run %s is damaged' % run.name)
    data_sets = data_helpers.load_data(data_dir, image_size, test_fraction)
    run.check_data(data_sets, data_dir)
    return data_sets


def build_network(run, path):
    """The network the run recorded, not yet restored, and its size as a line."""
    kind, flags = recorded_network(run, path)
    if kind == 'fc':  # Part 2's two-layer network
        return (two_layer_fc.TwoLayerFC(flags['pixels'], flags['hidden1'], flags['classes']),
                'hidden1 = {}'.format(flags['hidden1']))
    # A whitened first layer is not learned: a placeholder, restored like the rest.
    whitening = None if flags.get('no_whitening') else tf.zeros(
        [2, 2, 3, cnn.WHITENING_WIDTH])
    activation = flags.get('activation', 'relu')  # runs without flags.json: ReLU
    return (cnn.CNN(flags['channels'], flags['classes'], whitening,
                    dtype=tf.as_dtype(flags['dtype']),
                    later_channels=flags['later_channels'], activation=activation),
            'channels = {}\nlater_channels = {}\nactivation = {}'.format(
                flags['channels'], flags['later_channels'], activation))


def logits_function(model, mean_image):
    """rows (load_data()'s uint8 image rows) -> logits, prepared as in training.

    Raises:
      InputError: Part 2's network was trained on images of another size.
    """
    if isinstance(model, cnn.CNN):
        return lambda rows: cnn.test_logits(cnn.to_images(rows, mean_image), model)
    if model.weights1.shape[0] != len(mean_image):
        raise cli.InputError('the network expects %d-pixel images, but these images have '
                             '%d: pass --data_dir the data it trained on'
                             % (model.weights1.shape[0], len(mean_image)))
    return lambda rows: two_layer_fc.inference(
        (tf.cast(rows, tf.float32) - mean_image) * model.input_scale, model)


def recorded_network(run, path):
    """('fc', {'hidden1': N}) or ('cnn', {'channels': N, 'dtype': name, ...}): the network
    the run recorded, checked against the shapes in its checkpoint (which alone tell,
    for a run made before runs recorded their flags)."""
    shapes = runs.variable_shapes(path)
    if 'model/weights1' in shapes and 'model/weights2' in shapes:
        pixels, hidden1 = shapes['model/weights1']
        found = 'fc', {'hidden1': hidden1, 'image_size': math.isqrt(pixels // 3)}
        sizes = {'pixels': pixels, 'classes': shapes['model/weights2'][-1]}
    elif ('model/whitening' in shapes and 'model/whitening_bias' not in shapes
          and 'model/weights' in shapes):
        found = 'cnn', {'channels': shapes['model/filters/0'][-1],
                        'later_channels': shapes['model/filters/2'][-1],
                        'dtype': devices.compute_dtype('auto').name}
        sizes = {'classes': shapes['model/weights'][-1]}
    elif 'model/filters/0' in shapes:
        raise cli.InputError('%s was made by an earlier version of cnn.py: train it '
                             'again with python run_cnn_model.py' % path)
    else:
        raise cli.InputError('%s is not a checkpoint of run_fc_model.py or '
                             'run_cnn_model.py' % path)
    kind, flags = run.recorded()
    if kind is None:
        return found[0], dict(found[1], **sizes)
    if kind == 'cnn' and flags.get('dtype') in ('float32', 'bfloat16'):
        found[1]['dtype'] = flags['dtype']
    if (kind == 'cnn' and flags.get('later_channels') is None
            and isinstance(flags.get('channels'), int)):  # the default: twice channels
        flags = dict(flags, later_channels=2 * flags['channels'])
    flags = dict({'image_size': 32}, **flags)  # runs before --image_size: CIFAR-10's
    activation = flags.get('activation', 'relu')
    if (kind != found[0] or any(flags.get(k) != v for k, v in found[1].items())
            or activation not in cnn.ACTIVATIONS):
        raise cli.InputError('the flags.json of run %s does not match its checkpoint: '
                             'it is damaged' % run.name)
    if kind == 'cnn':
        found[1].update(no_whitening=bool(flags.get('no_whitening')), activation=activation)
    return found[0], dict(found[1], **sizes)

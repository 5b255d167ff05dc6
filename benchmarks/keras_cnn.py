"""Keras reference for run_cnn_model.py: the same network, data and schedule, written
the way a Keras user would.

Seven 3x3 convolutions without biases (3->32, then blocks 32/32, 64/64, 128/128, each
block's first convolution followed by 2x2 max pooling), each with batch normalisation
(momentum 0.9, epsilon 1e-3) and ReLU; global max pooling and Dense(10). The same
truncated-normal initial weights (stddev 1/sqrt(fan-in)), L2 equal to reg_constant 5e-4
(Keras' L2(l) is l * sum(w**2), ours reg_constant * sum(w**2) / 2), random flips and
2-pixel shifts with mirrored borders (RandomTranslation, nearest pixel), no label
smoothing, SGD with Nesterov momentum 0.9, the learning rate rising linearly to 0.4 over
the first 200 steps and falling linearly to 0 at step 1000 (10 epochs of 100 batches of
500), the mixed_bfloat16 policy where run_cnn_model.py's --dtype auto picks bfloat16,
and test-time flips. Keras' own defaults otherwise (jit_compile='auto', which is no XLA
on a machine without a GPU).
"""
import argparse
import os
import sys
import time

import keras
import numpy as np

from keras_common import load_cifar10

parser = argparse.ArgumentParser()
parser.add_argument('--data_dir', default='cifar-10-batches-py')
parser.add_argument('--dtype', choices=['float32', 'bfloat16'], default=None,
                    help='default: what run_cnn_model.py --dtype auto picks')
args = parser.parse_args()
begin = time.time()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support import devices  # noqa: E402
dtype = args.dtype or devices.compute_dtype('auto').name
if dtype == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')

(x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
x_train = x_train.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / 64
x_test = x_test.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / 64
reg_constant, max_steps, peak = 5e-4, 1000, 0.4


class WarmupThenDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        progress = keras.ops.cast(step, 'float32') / max_steps
        return peak * keras.ops.maximum(0.0, keras.ops.minimum(progress / 0.2,
                                                               (1 - progress) / 0.8))


def conv(fan_in, width, pool):
    layers = [keras.layers.Conv2D(
        width, 3, padding='same', use_bias=False,
        kernel_initializer=keras.initializers.TruncatedNormal(
            stddev=1 / np.sqrt(9 * fan_in)),
        kernel_regularizer=keras.regularizers.L2(reg_constant / 2))]
    if pool:
        layers.append(keras.layers.MaxPooling2D())
    return layers + [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3),
                     keras.layers.ReLU()]


layers = [keras.Input((32, 32, 3)), keras.layers.RandomFlip('horizontal'),
          keras.layers.RandomTranslation(2 / 32, 2 / 32, fill_mode='reflect',
                                         interpolation='nearest')]
layers += conv(3, 32, False)
for fan_in, width in [(32, 32), (32, 64), (64, 128)]:
    layers += conv(fan_in, width, True) + conv(width, width, False)
layers += [keras.layers.GlobalMaxPooling2D(),
           keras.layers.Dense(10, kernel_initializer=keras.initializers.TruncatedNormal(
               stddev=1 / np.sqrt(128)),
               kernel_regularizer=keras.regularizers.L2(reg_constant / 2)),
           keras.layers.Activation('linear', dtype='float32')]
model = keras.Sequential(layers)
model.compile(optimizer=keras.optimizers.SGD(WarmupThenDecay(), momentum=0.9,
                                             nesterov=True),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=500, epochs=10, verbose=0)
logits = (model.predict(x_test, batch_size=1000, verbose=0) +
          model.predict(x_test[:, :, ::-1], batch_size=1000, verbose=0))
print('Test accuracy {:g}'.format(np.mean(logits.argmax(axis=1) == y_test)))
print('Total time: {:5.2f}s'.format(time.time() - begin))

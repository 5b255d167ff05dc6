"""Keras reference for run_cnn_model.py: the same network, data and schedule, written
the way a Keras user would.

A frozen 2x2 convolution whitening the images' patches (the same filters as
cnn.whitening_filters(), from the first 5000 training images), ReLU; three blocks of
(3x3 convolution without bias, 2x2 max pooling, batch norm, ReLU, 3x3 convolution,
batch norm, ReLU) with 48, 96 and 96 channels, each convolution starting uniform in
+-1/sqrt(fan-in) with an identity on its first channels; batch norm with momentum 0.6
and no scale; global max pooling, Dense(10) without bias, divided by 9. L2 equal to
reg_constant 1.33e-3 (Keras' L2(l) is l * sum(w**2), ours reg_constant * sum(w**2) / 2),
label smoothing 0.2, random flips and 2-pixel shifts with mirrored borders
(RandomTranslation, nearest pixel), SGD with Nesterov momentum 0.85, the learning rate
rising from 0.3 to 1.5 over the first 23% of 650 steps of 1000 images (13 epochs) and
falling to 0.105, lookahead every 5 steps after the first 3 epochs (a callback), and
test-time flips and shifts. What a Keras user would not write, and so is not here: the
64 times faster learning of batch norm shifts, and flips that alternate each epoch. The
mixed_bfloat16 policy where run_cnn_model.py's --dtype auto picks bfloat16; Keras' own
defaults otherwise (jit_compile='auto', which is no XLA on a machine without a GPU).

It also prints how long fit() spent between the start of each epoch after the first
and its first step ("Epoch starts"): there Keras replaces the tf.data iterator over the
arrays, and the old one's threads are waited for, with the CPU idle
(benchmarks/README.md, "Performance").

With --image_folder DIR (a folder with train/ and test/, one subfolder per class, as
benchmarks/image_folder.py writes CIFAR-10), the images come from
keras.utils.image_dataset_from_directory instead, as a Keras user reads a folder of
photos: batches of 1000 decoded and resized to 32x32 as they are needed, the mean
training image (one pass over the dataset) subtracted in a map().
"""
import argparse
import os
import time

import keras
import numpy as np

from keras_common import load_cifar10

parser = argparse.ArgumentParser()
parser.add_argument('--data_dir', default='cifar-10-batches-py')
parser.add_argument('--dtype', choices=['float32', 'bfloat16'], default=None,
                    help='default: what run_cnn_model.py --dtype auto picks')
parser.add_argument('--max_steps', type=int, default=650)
parser.add_argument('--image_folder', default=None,
                    help='read the images of this folder with image_dataset_from_directory')
args = parser.parse_args()
begin = time.time()

import common  # noqa: E402,F401 (the project on the import path)
from support import devices  # noqa: E402
dtype = args.dtype or devices.compute_dtype('auto').name
if dtype == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')

reg_constant, max_steps, peak, batch_size = 1.33e-3, args.max_steps, 1.5, 1000
if args.image_folder:
    def folder(split, shuffle):
        return keras.utils.image_dataset_from_directory(
            os.path.join(args.image_folder, split), label_mode='categorical',
            image_size=(32, 32), batch_size=batch_size, shuffle=shuffle, seed=0)
    train_images, test_images = folder('train', True), folder('test', False)
    train_count = sum(len(y) for _, y in train_images)
    mean_image = sum(x.numpy().sum(axis=0) for x, _ in train_images) / train_count
    train_images = train_images.map(lambda x, y: ((x - mean_image) / 64, y))
    x_train = np.concatenate([x for x, _ in train_images.take(5)])  # for the whitening
    x_test = np.concatenate([(x - mean_image) / 64 for x, _ in test_images])
    y_test = np.concatenate([y.numpy().argmax(axis=1) for _, y in test_images])
else:
    (x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
    x_train = x_train.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / 64
    x_test = x_test.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) / 64
    train_count = len(x_train)
steps_per_epoch = train_count // batch_size

# Whitening: eigenvectors of the covariance of 2x2 patches, each scaled to variance 1.
patches = np.lib.stride_tricks.sliding_window_view(x_train[:5000], (2, 2), axis=(1, 2))
patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
eigenvalues, eigenvectors = np.linalg.eigh(patches.T @ patches / len(patches))
whitening = (eigenvectors / np.sqrt(eigenvalues + 5e-4)).reshape(2, 2, 3, 12)
whitening = np.concatenate([whitening, -whitening], axis=-1)


class Triangle(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        progress = keras.ops.cast(step, 'float32') / max_steps
        return peak * keras.ops.where(progress < 0.23, 0.2 + 0.8 * progress / 0.23,
                                      1 - 0.93 * (progress - 0.23) / 0.77)


def identity_init(shape, dtype=None):
    bound = 1 / np.sqrt(np.prod(shape[:3]))
    w = np.random.uniform(-bound, bound, shape)
    fan_in = shape[2]
    w[:, :, :, :fan_in] = 0
    w[1, 1, np.arange(fan_in), np.arange(fan_in)] = 1
    return keras.ops.convert_to_tensor(w, dtype=dtype)


def conv(width, pool):
    layers = [keras.layers.Conv2D(width, 3, padding='same', use_bias=False,
                                  kernel_initializer=identity_init,
                                  kernel_regularizer=keras.regularizers.L2(reg_constant / 2))]
    if pool:
        layers.append(keras.layers.MaxPooling2D())
    return layers + [keras.layers.BatchNormalization(momentum=0.6, epsilon=1e-5,
                                                     scale=False),
                     keras.layers.ReLU()]


layers = [keras.Input((32, 32, 3)), keras.layers.RandomFlip('horizontal'),
          keras.layers.RandomTranslation(2 / 32, 2 / 32, fill_mode='reflect',
                                         interpolation='nearest'),
          keras.layers.Conv2D(24, 2, use_bias=False, trainable=False,
                              kernel_initializer=keras.initializers.Constant(whitening)),
          keras.layers.ReLU()]
for width in [48, 96, 96]:
    layers += conv(width, True) + conv(width, False)
layers += [keras.layers.GlobalMaxPooling2D(),
           keras.layers.Dense(10, use_bias=False,
                              kernel_initializer=keras.initializers.RandomUniform(
                                  -1 / np.sqrt(96), 1 / np.sqrt(96)),
                              kernel_regularizer=keras.regularizers.L2(reg_constant / 2)),
           keras.layers.Rescaling(1 / 9), keras.layers.Activation('linear', dtype='float32')]
model = keras.Sequential(layers)


class Lookahead(keras.callbacks.Callback):
    """Every 5 steps after 3 epochs: average the weights, and continue from the average."""

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.model.stop_training = step >= max_steps  # max_steps may end an epoch early
        if step < 3 * steps_per_epoch or step % 5:
            return
        weights = [w.numpy() for w in self.model.weights]
        if not hasattr(self, 'average'):
            self.average = weights
            return
        decay = 0.95**5 * (step / max_steps)**3
        self.average = [decay * a + (1 - decay) * w for a, w in zip(self.average, weights)]
        for variable, a in zip(self.model.weights, self.average):
            variable.assign(a)


class EpochStarts(keras.callbacks.Callback):
    """Adds up the time from each epoch's start to its first step, after the first."""

    def __init__(self):
        super().__init__()
        self.seconds, self.begin = 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.begin = time.time() if epoch else None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0 and self.begin is not None:
            self.seconds += time.time() - self.begin


epoch_starts = EpochStarts()
model.compile(optimizer=keras.optimizers.SGD(Triangle(), momentum=0.85, nesterov=True),
              loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                        label_smoothing=0.2),
              metrics=['accuracy'])
if args.image_folder:
    model.fit(train_images, epochs=int(np.ceil(max_steps / steps_per_epoch)),
              callbacks=[Lookahead(), epoch_starts], verbose=0)
else:
    model.fit(x_train, keras.utils.to_categorical(y_train, 10), batch_size=batch_size,
              epochs=int(np.ceil(max_steps / steps_per_epoch)),
              callbacks=[Lookahead(), epoch_starts], verbose=0)


def mirrored(x):
    return (model.predict(x, batch_size=1000, verbose=0) +
            model.predict(x[:, :, ::-1], batch_size=1000, verbose=0)) / 2


padded = np.pad(x_test, [(0, 0), (1, 1), (1, 1), (0, 0)], mode='reflect')
logits = (mirrored(x_test) / 2 + mirrored(padded[:, :-2, :-2]) / 4 +
          mirrored(padded[:, 2:, 2:]) / 4)
print('Test accuracy {:.4f}'.format(np.mean(logits.argmax(axis=1) == y_test)))
print('Epoch starts: {:.2f}s'.format(epoch_starts.seconds))
print('Total time: {:5.2f}s'.format(time.time() - begin))

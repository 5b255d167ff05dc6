"""Keras reference for run_fc_model.py: the same network and hyperparameters, written
the way a Keras user would: Dense(120, relu) and Dense(10) with truncated-normal
weights (stddev 1/sqrt(fan-in)) and L2 regularisation equal to the tutorial's
(Keras' L2(l) is l * sum(w**2), the tutorial's reg_constant * sum(w**2) / 2), plain SGD
at 0.001, 2000 steps of 400 images (16 epochs of 125 batches), then evaluate()."""
import argparse
import time

import keras
import numpy as np

from keras_common import load_cifar10

parser = argparse.ArgumentParser()
parser.add_argument('--data_dir', default='cifar-10-batches-py')
args = parser.parse_args()
begin = time.time()

(x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
reg_constant = 0.1
model = keras.Sequential([
    keras.Input((3072,)),
    keras.layers.Dense(120, activation='relu',
                       kernel_initializer=keras.initializers.TruncatedNormal(
                           stddev=1 / np.sqrt(3072)),
                       kernel_regularizer=keras.regularizers.L2(reg_constant / 2)),
    keras.layers.Dense(10,
                       kernel_initializer=keras.initializers.TruncatedNormal(
                           stddev=1 / np.sqrt(120)),
                       kernel_regularizer=keras.regularizers.L2(reg_constant / 2)),
])
model.compile(optimizer=keras.optimizers.SGD(0.001),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=400, epochs=16, verbose=0)
_, accuracy = model.evaluate(x_test, y_test, verbose=0)
print('Test accuracy {:.4f}'.format(accuracy))
print('Total time: {:5.2f}s'.format(time.time() - begin))

"""Keras reference for softmax.py: the same model and hyperparameters, written the way
a Keras user would: one Dense layer with zero initial weights, plain SGD at 0.005,
1000 steps of 100 images (2 epochs of 500 batches), then evaluate()."""
import argparse
import time

import keras

from keras_common import load_cifar10

parser = argparse.ArgumentParser()
parser.add_argument('--data_dir', default='cifar-10-batches-py')
args = parser.parse_args()
begin = time.time()

(x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
model = keras.Sequential([keras.Input((3072,)),
                          keras.layers.Dense(10, kernel_initializer='zeros')])
model.compile(optimizer=keras.optimizers.SGD(0.005),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=100, epochs=2, verbose=0)
_, accuracy = model.evaluate(x_test, y_test, verbose=0)
print('Test accuracy {:.4f}'.format(accuracy))
print('Total time: {:5.2f}s'.format(time.time() - begin))

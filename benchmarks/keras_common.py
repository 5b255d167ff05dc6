"""What a Keras user writes to read CIFAR-10 from the python-format pickles.

(keras.datasets.cifar10.load_data() would download the archive again; the benchmark
reads the same folder as the tutorial's scripts.)
"""
import os
import pickle

import numpy as np


def load_cifar10(data_dir):
    def read(name):
        with open(os.path.join(data_dir, name), 'rb') as f:
            batch = pickle.load(f, encoding='latin1')
        return batch['data'].astype('float32'), np.array(batch['labels'])

    parts = [read('data_batch_%d' % i) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    x_test, y_test = read('test_batch')
    mean_image = x_train.mean(axis=0)
    return (x_train - mean_image, y_train), (x_test - mean_image, y_test)

"""Which devices train, and in what precision.

strategy(): the tf.distribute strategy for the training step. One device gets the
default strategy, which adds nothing; several GPUs get MirroredStrategy, which keeps a
copy of the variables on each, gives each a share of every batch and averages their
gradients. CPU_DEVICES=2 in the environment splits the CPU into two logical devices,
to try (and test) the several-device path on a laptop.

compute_dtype('auto'): bfloat16 where the hardware multiplies it fast (a GPU from
Ampere on, or a CPU with AMX, Intel's matrix units), which halves the memory each
activation takes and makes convolutions faster; float32 elsewhere. AVX512-BF16 alone is
not enough: on such a CPU without AMX, Part 3's default network trained at 870 images/s
in bfloat16 against 1,400 in float32. /proc/cpuinfo tells on Linux; macOS and Windows
get float32.
"""
import os

import tensorflow as tf

from support.cli import InputError


def strategy():
    gpus = tf.config.list_physical_devices('GPU')
    cpu_devices = os.environ.get('CPU_DEVICES', '')
    if cpu_devices and not gpus:
        if not cpu_devices.isdigit() or not 1 <= int(cpu_devices) <= 64:
            raise InputError('CPU_DEVICES must be a number of devices from 1 to 64, '
                             'got %r' % cpu_devices)
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(cpu_devices))
        devices = [d.name for d in tf.config.list_logical_devices('CPU')]
    else:
        devices = [d.name for d in tf.config.list_logical_devices('GPU')]
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def compute_dtype(name):
    if name != 'auto':
        return tf.as_dtype(name)
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:  # bfloat16 arrived with Ampere, compute capability 8.0
        details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
        fast = all(d.get('compute_capability', (0, 0)) >= (8, 0) for d in details)
        return tf.bfloat16 if fast else tf.float32
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith('flags')), '')
    except OSError:
        flags = ''
    fast = 'amx_bf16' in flags.split()
    return tf.bfloat16 if fast else tf.float32

"""Which devices train, and in what precision.

strategy(): the tf.distribute strategy for the training step. One device gets the
default strategy, which adds nothing; several GPUs get MirroredStrategy, which keeps a
copy of the variables on each, gives each a share of every batch and averages their
gradients. CPU_DEVICES=2 in the environment splits the CPU into two logical devices,
to try (and test) the several-device path on a laptop. With TF_CONFIG set, this process
is one worker of a cluster: MultiWorkerMirroredStrategy, the same on several machines
(cluster_strategy(), is_chief(), agree()).

compute_dtype('auto'): bfloat16 where the hardware multiplies it fast (a GPU from
Ampere on, or an x86 CPU with bfloat16 instructions: AMX, Intel's matrix units, or
AVX512-BF16), which halves the memory each activation takes and makes convolutions
faster, to the same accuracy (docs/part3.md measures both); float32 elsewhere.
/proc/cpuinfo tells on Linux; macOS and Windows get float32.
"""
import json
import os
import sys
import zlib

import tensorflow as tf

from support.errors import InputError
from support import script


def strategy():
    if os.environ.get('TF_CONFIG'):
        return cluster_strategy()
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
        print('Training on {} devices: {}'.format(len(devices), ', '.join(devices)))
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def compute_dtype(name, explain=False):
    """The tf.DType for --dtype name; for 'auto' with explain, a line says why."""
    if name != 'auto':
        return tf.as_dtype(name)
    dtype, reason = auto_dtype()
    if explain:
        print('dtype = {} (--dtype auto): {}'.format(dtype.name, reason))
    return dtype


def auto_dtype():
    """(bfloat16 or float32, why) for this machine."""
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:  # bfloat16 arrived with Ampere, compute capability 8.0
        details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
        if all(d.get('compute_capability', (0, 0)) >= (8, 0) for d in details):
            return tf.bfloat16, 'the GPU computes it fast (Ampere or later)'
        return tf.float32, 'the GPU is older than Ampere, which computes bfloat16 fast'
    flags = script.cpu_flags()
    if flags is None:
        return tf.float32, ('bfloat16 instructions are looked for in /proc/cpuinfo, '
                            'which only Linux has')
    fast = sorted({'amx_bf16', 'avx512_bf16'} & flags)
    if fast:
        return tf.bfloat16, 'this CPU has bfloat16 instructions (%s)' % ', '.join(
            f.upper() for f in fast)
    return tf.float32, ('this CPU has no bfloat16 instructions (AVX512_BF16 or AMX_BF16), '
                        'so Part 3 takes longer: docs/part3.md has a faster command')


def cluster_strategy():
    """MultiWorkerMirroredStrategy for the cluster TF_CONFIG describes (TensorFlow
    reads it): a copy of the variables on each worker, gradients averaged over the
    network. Worker 0 is the chief; the others print nothing more on stdout."""
    try:
        config = json.loads(os.environ['TF_CONFIG'])
        workers, task = config['cluster']['worker'], config['task']
        if task['type'] != 'worker' or not 0 <= task['index'] < len(workers):
            raise ValueError
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InputError('TF_CONFIG must be {"cluster": {"worker": ["host:port", ...]}, '
                         '"task": {"type": "worker", "index": N}} with N one of the '
                         'workers (README, several machines), got %.200r'
                         % os.environ['TF_CONFIG'])
    # Collectives over gRPC. A worker that dies breaks its connections, and one that
    # hangs fails TensorFlow's health check of the peers (every 30 s): either way
    # every collective then fails, and script.run says so in one line, so TensorFlow's
    # own warnings and errors about it are not shown.
    tf.get_logger().setLevel('CRITICAL')
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    print('Worker {} of a cluster of {} ({}){}'.format(
        task['index'], len(workers), ', '.join(workers),
        '' if task['index'] == 0 else ': worker 0 prints the progress and writes the run'),
        flush=True)
    if task['index'] != 0:
        sys.stdout = open(os.devnull, 'w')
    return strategy


def is_chief(strategy):
    """Whether this process writes the run: always, but on a cluster's workers 1, 2..."""
    resolver = getattr(strategy, 'cluster_resolver', None)
    return resolver is None or resolver.task_id in (0, None)


def agree(strategy, args, ignored=('data_dir', 'train_dir', 'seed', 'run')):
    """On a cluster: every worker takes the chief's seed (drawn there when --seed is
    not given), and all must have the same flags, or each stops with one line (not
    the run's name: it holds the second each worker started in).

    Returns:
      The seed to use.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return args.seed
    flags = {flag: value for flag, value in vars(args).items() if flag not in ignored}
    fingerprint = zlib.crc32(json.dumps(flags, sort_keys=True).encode())

    def share():  # the seed of the chief's first device, and each one's fingerprint
        first = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
        return tf.stack([args.seed * tf.cast(first, tf.int64),
                         tf.constant(fingerprint, tf.int64)])
    total = tf.function(lambda: strategy.reduce('SUM', strategy.run(share), None),
                        autograph=False)()  # as in loop.step_function()
    if int(total[1]) != fingerprint * strategy.num_replicas_in_sync:
        raise InputError('the workers were started with different flags: start each '
                         'with the same flags (only --data_dir and --train_dir may differ)')
    return int(total[0])

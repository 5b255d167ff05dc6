"""Part 3's training speed on this machine: one process, one process on two devices
(CPU_DEVICES=2), and two workers of a localhost cluster (TF_CONFIG), side by side.

    python benchmarks/cluster.py [--data_dir DIR] [--max_steps 301] [script flags ...]

Each configuration trains run_cnn_model.py in a temporary train_dir with the same flags
(default: 301 steps of 100 images) and reports the images/s of its last progress line,
measured between two of them, so start-up and the first steps' tracing are left out.
On one machine two workers share its cores: the point there is that the cluster trains
correctly (tests/test_cluster.py); the speed-up needs one machine per worker.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Where a learner has CIFAR-10: $CIFAR10_DIR, or the folder the first run downloaded.
DEFAULT_DATA = os.environ.get('CIFAR10_DIR') or os.path.join(ROOT, 'cifar-10-batches-py')


def free_ports(count):
    """count localhost ports free now, for the workers of a cluster (also for the tests)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(('localhost', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def speed(processes):
    """images/s in the first process's last progress line."""
    outputs = [p.communicate()[0] for p in processes]
    for p, out in zip(processes, outputs):
        if p.returncode:
            sys.exit('a run failed:\n' + out[-2000:])
    found = re.findall(r', (\d+) images/s', outputs[0])
    if not found:
        sys.exit('no progress line: train for more than 200 steps (--max_steps)')
    return int(found[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=DEFAULT_DATA,
                        help='CIFAR-10 folder (default: %(default)s)')
    parser.add_argument('--max_steps', type=int, default=301,
                        help='steps of each run (default: %(default)s)')
    args, flags = parser.parse_known_args()
    flags = ['--data_dir', args.data_dir, '--max_steps', str(args.max_steps),
             '--batch_size', '100', '--seed', '0'] + flags
    script = [sys.executable, os.path.join(ROOT, 'run_cnn_model.py')]

    def start(train_dir, **env):
        return subprocess.Popen(script + flags + ['--train_dir', train_dir],
                                env=dict(os.environ, **env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    with tempfile.TemporaryDirectory() as scratch:
        one = speed([start(os.path.join(scratch, 'one'))])
        devices = speed([start(os.path.join(scratch, 'devices'), CPU_DEVICES='2')])
        workers = ['localhost:%d' % port for port in free_ports(2)]
        cluster = speed([start(os.path.join(scratch, 'cluster'), TF_CONFIG=json.dumps(
            {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': i}}))
            for i in range(2)])
    print('run_cnn_model.py {}: {} cores'.format(' '.join(flags[2:]), os.cpu_count()))
    for name, value in [('one process', one), ('one process, CPU_DEVICES=2', devices),
                        ('two workers (TF_CONFIG, localhost)', cluster)]:
        print('  {:36s} {:6d} images/s  ({:.2f}x one process)'.format(
            name, value, value / one))


if __name__ == '__main__':
    main()

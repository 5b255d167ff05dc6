"""Several machines: run_cnn_model.py as two workers of a cluster on localhost (TF_CONFIG),
against one process on two devices (CPU_DEVICES=2)."""
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import (ROOT, checkpoint_weights, printed_value, restore, run_folder,
                      run_subprocess)

pytestmark = pytest.mark.skipif(
    sys.platform == 'win32',
    reason='not run on Windows: its firewall asks before a worker may listen')


def free_ports(count):
    """count localhost ports free now, for the workers of a cluster."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(('localhost', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(flags, cwd, scratch):
    """The two workers of a localhost cluster, each with its TF_CONFIG; their
    temporary folders go to scratch."""
    workers = ['localhost:%d' % port for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config), TMPDIR=str(scratch),
                   PYTHONUNBUFFERED='1')
        processes.append(subprocess.Popen(
            [sys.executable, str(ROOT / 'run_cnn_model.py')] + [str(f) for f in flags],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def finish(processes, timeout=300):
    return [p.communicate(timeout=timeout) + (p.returncode,) for p in processes]


def test_two_workers_train_as_one_process_on_two_devices_and_only_the_chief_writes(
        tiny_cifar, tmp_path):
    flags = ['--data_dir', tiny_cifar, '--channels', 4, '--batch_size', 100,
             '--max_steps', 30, '--seed', 3, '--dtype', 'float32']
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    workers = start_workers(flags + ['--train_dir', tmp_path / 'cluster'], tmp_path, scratch)
    devices = run_subprocess('run_cnn_model.py', *flags, '--train_dir', tmp_path / 'devices',
                             cwd=tmp_path, env={'CPU_DEVICES': '2', 'TMPDIR': str(scratch)})
    (chief_out, chief_err, chief_status), (out, err, status) = finish(workers)
    assert chief_status == 0 and status == 0, chief_err + err
    assert devices.returncode == 0, devices.stderr
    assert 'Training on 2 devices: ' in devices.stdout and 'CPU:1' in devices.stdout

    cluster_run, devices_run = run_folder(tmp_path / 'cluster'), run_folder(tmp_path / 'devices')
    cluster = checkpoint_weights(cluster_run / 'checkpoint-30')
    two_devices = checkpoint_weights(devices_run / 'checkpoint-30')
    assert sorted(cluster) == sorted(two_devices)
    for name in cluster:
        if cluster[name].dtype != object:
            np.testing.assert_allclose(cluster[name], two_devices[name], rtol=0, atol=1e-5,
                                       err_msg=name)
    assert printed_value(chief_out, 'Test accuracy') == \
        printed_value(devices.stdout, 'Test accuracy')

    # The chief wrote the one run folder and printed; worker 1 said who does. No
    # process left a temporary file behind (a worker's folder, or AutoGraph's code).
    assert chief_out.startswith('Worker 0 of a cluster of 2 (localhost:')
    assert out.strip().splitlines() == [
        chief_out.splitlines()[0].replace('Worker 0', 'Worker 1') +
        ': worker 0 prints the progress and writes the run']
    assert err == '' and list(scratch.iterdir()) == []
    # Mirrored variables restore on one device.
    restored = restore(tiny_cifar, tmp_path / 'devices')
    assert printed_value(restored.stdout, 'Test accuracy') == \
        printed_value(devices.stdout, 'Test accuracy')


def test_a_lost_worker_stops_the_other_and_both_resume(tiny_cifar, tmp_path):
    flags = ['--data_dir', tiny_cifar, '--train_dir', tmp_path / 'tf_logs', '--channels', 4,
             '--batch_size', 100, '--checkpoint_every', 20, '--seed', 2]
    chief, worker = start_workers(flags + ['--max_steps', 1000000], tmp_path, tmp_path)
    for line in chief.stdout:
        if line.startswith('Saved checkpoint'):
            break
    worker.kill()  # as a crash or a lost machine would
    out, err = chief.communicate(timeout=600)  # the chief notices, however busy the machine
    assert chief.returncode == 1
    assert re.fullmatch(r'Error: lost contact with a worker of the cluster \(\w+\): start '
                        r'every worker again with the same command and --resume\n', err), err
    worker.communicate()

    # Every worker again with --resume (and a nearer end): the run continues and ends.
    run = run_folder(tmp_path / 'tf_logs')
    saved = max(int(p.name.split('-')[1].split('.')[0]) for p in run.glob('checkpoint-*.index'))
    resumed = finish(start_workers(flags + ['--resume', '--max_steps', saved + 20],
                                   tmp_path, tmp_path))
    (out, err, status), (_, worker_err, worker_status) = resumed
    assert status == 0 and worker_status == 0, err + worker_err
    assert 'Resuming run %s from step %d' % (run.name, saved) in out
    assert printed_value(restore(tiny_cifar, tmp_path / 'tf_logs').stdout,
                         'Current step:') == saved + 20

"""Shared test fixtures: a small CIFAR-10-format dataset with a learnable signal, and a
helper that runs the tutorial's scripts as a learner would, in a subprocess."""
import http.server
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The full CIFAR-10 copy beside the project (see ../shared/README.md), or $CIFAR10_DIR.
REAL_DATA = Path(os.environ.get('CIFAR10_DIR') or ROOT.parent / 'shared' / 'cifar-10-batches-py')
# Windows cannot send SIGINT or SIGTERM to a child process (send_signal terminates it).
sends_signals = pytest.mark.skipif(sys.platform == 'win32',
                                   reason='Windows cannot send SIGINT or SIGTERM to a process')
needs_real_data = pytest.mark.skipif(not (REAL_DATA / 'test_batch').is_file(),
                                     reason='real CIFAR-10 not found at %s' % REAL_DATA)


def make_images(labels, rng):
    """uint8 CIFAR-format rows: a fixed random template per class, plus noise.

    The templates are drawn from a fixed seed, so every split shares them and a linear
    model can learn them; the noise keeps the task from being trivial.
    """
    templates = np.random.default_rng(1234).integers(0, 256, size=(10, 3072))
    noise = rng.integers(0, 256, size=(len(labels), 3072))
    return (0.5 * templates[labels] + 0.5 * noise).astype(np.uint8)


def write_batch(path, labels, rng):
    """Write one pickle in the official CIFAR-10 python layout (protocol 2)."""
    labels = np.asarray(labels)
    batch = {'batch_label': path.name, 'labels': labels.tolist(),
             'data': make_images(labels, rng)}
    with open(path, 'wb') as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar(folder, per_batch=200, test=200, seed=0):
    """A CIFAR-10 folder: data_batch_1..5 of per_batch images and a test_batch."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(1, 6):
        write_batch(folder / ('data_batch_%d' % i), rng.integers(0, 10, per_batch), rng)
    write_batch(folder / 'test_batch', rng.integers(0, 10, test), rng)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat', 'deer',
                                     'dog', 'frog', 'horse', 'ship', 'truck']}, f, protocol=2)
    return folder


@pytest.fixture(scope='session')
def tiny_cifar(tmp_path_factory):
    """A read-only-by-convention small dataset shared by the whole session."""
    return write_cifar(tmp_path_factory.mktemp('data') / 'cifar-10-batches-py')


def run_script(script, *args, cwd=None, timeout=600, env=None):
    """Run one of the project's scripts as `python script args` and return the result."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / script)] + [str(a) for a in args],
                          cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def printed_value(output, prefix):
    """The number after `prefix` on the last line of output that starts with it."""
    lines = [line for line in output.splitlines() if line.startswith(prefix)]
    assert lines, 'no line starting with %r in:\n%s' % (prefix, output)
    return float(lines[-1][len(prefix):].strip().rstrip('s'))


def assert_one_line_error(result, *fragments):
    """A failed run that printed one clear line to stderr and no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, 'expected one error line, got:\n' + result.stderr
    assert 'Traceback' not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write_idx(path, array):
    """Write a uint8 array as a gzipped IDX file (the MNIST format)."""
    import gzip
    array = np.asarray(array, dtype=np.uint8)
    header = (0x0800 + array.ndim).to_bytes(4, 'big') + b''.join(
        d.to_bytes(4, 'big') for d in array.shape)
    with gzip.open(path, 'wb') as f:
        f.write(header + array.tobytes())


def write_mnist(folder, train=600, test=200, seed=0):
    """A small MNIST-format folder: a fixed 28x28 template per class, plus noise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(99).integers(0, 256, size=(10, 28, 28))
    for prefix, count in [('train', train), ('t10k', test)]:
        labels = rng.integers(0, 10, count)
        noise = rng.integers(0, 256, size=(count, 28, 28))
        write_idx(folder / ('%s-images-idx3-ubyte.gz' % prefix),
                  0.6 * templates[labels] + 0.4 * noise)
        write_idx(folder / ('%s-labels-idx1-ubyte.gz' % prefix), labels)
    return folder


@pytest.fixture(scope='session')
def tiny_mnist(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp('mnist') / 'MNIST_data')


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (never another address) whose answer to each GET a
    test supplies as handle(request), a BaseHTTPRequestHandler; counts the requests."""

    def __init__(self, handle, path='/'):
        server = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                handle(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d%s' % (self.httpd.server_port, path)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

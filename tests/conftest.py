"""Shared test fixtures: a small CIFAR-10-format dataset with a learnable signal, and
helpers that run the tutorial's scripts as a learner would: in this process (run_script,
as `python script.py` but without starting TensorFlow each time) or in a subprocess
(run_subprocess: signals, start-up, environment read at TensorFlow's start)."""
import contextlib
import gc
import http.server
import importlib
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The real CIFAR-10 where a learner has it: $CIFAR10_DIR, or the folder the first run
# downloaded into the project (CI unpacks ../shared/cifar10 and sets $CIFAR10_DIR).
REAL_DATA = Path(os.environ.get('CIFAR10_DIR') or ROOT / 'cifar-10-batches-py')
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


@pytest.fixture(scope='session')
def fc_run(tiny_cifar, tmp_path_factory):
    """The train_dir of one 300-step run_fc_model.py run, shared by the tests that read
    it or copy it (none changes it)."""
    train_dir = tmp_path_factory.mktemp('fc_run') / 'tf_logs'
    result = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                        train_dir, '--batch_size', 100, '--max_steps', 300,
                        cwd=train_dir.parent)
    assert result.returncode == 0, result.stderr
    return train_dir


def run_script(script, *args, cwd=None, env=None):
    """`python script args` in this process: the script's own script.start(parse_args)
    and script.run(main, args), in cwd with env added, as a subprocess.CompletedProcess (what
    it printed, and the exit status the script would have had)."""
    from support import script as lifecycle
    module = importlib.import_module(script[:-len('.py')])
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved = os.getcwd(), sys.argv, dict(os.environ), signal.getsignal(signal.SIGINT)
    os.environ.update(env or {})
    sys.argv = [script] + argv
    try:
        os.chdir(cwd or os.getcwd())
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                lifecycle.run(module.main, lifecycle.start(lambda: module.parse_args(argv)))
                status = 0
            except SystemExit as e:  # as the interpreter turns it into an exit status
                status = 0 if e.code is None else e.code
                if not isinstance(status, int):
                    print(status, file=sys.stderr)
                    status = 1
    finally:
        os.chdir(saved[0])
        sys.argv = saved[1]
        os.environ.clear()
        os.environ.update(saved[2])
        signal.signal(signal.SIGINT, saved[3])  # the scripts set their own handlers
        gc.unfreeze()  # script.run() froze what a process that ends never collects
    return subprocess.CompletedProcess([script] + argv, status, out.getvalue(),
                                       err.getvalue())


def run_subprocess(script, *args, cwd=None, timeout=600, env=None):
    """Run one of the project's scripts as `python script args` in a new process."""
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

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that
                    super().handle_error(request, client_address)  # gave up, as tested

        self.httpd = Server(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d%s' % (self.httpd.server_port, path)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# Reading what a run left: its printed lines, its folder, its TensorBoard events. ---------


def lines_starting(output, prefix):
    """The lines of output that start with prefix."""
    return [line for line in output.splitlines() if line.startswith(prefix)]


def read_events(logdir):
    """TensorBoard's own loader over one run's folder, keeping every event."""
    from tensorboard.backend.event_processing import event_accumulator
    events = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    return events


def run_folders(train_dir):
    """The run folders in train_dir, oldest name first."""
    return sorted(p for p in train_dir.iterdir() if p.is_dir())


def run_folder(train_dir, name_start=''):
    """The one run folder in train_dir, named <model>_<changed flags>_<time>."""
    folders = run_folders(train_dir)
    assert len(folders) == 1, folders
    assert re.fullmatch(re.escape(name_start) + r'(.*_)?\d{8}-\d{6}', folders[0].name), folders
    return folders[0]


def logged_images(events, tag):
    """[(step, H x W x C array)] for an image summary tag (one picture per step)."""
    import tensorflow as tf
    assert events.SummaryMetadata(tag).plugin_data.plugin_name == 'images'
    pictures = []
    for event in events.Tensors(tag):
        width, height, *pngs = tf.make_ndarray(event.tensor_proto)
        assert len(pngs) == 1
        picture = tf.io.decode_png(pngs[0]).numpy()
        assert picture.std() > 10  # a drawing, not a blank
        assert picture.shape[:2] == (int(height), int(width))
        pictures.append((event.step, picture))
    return pictures


def train_fc(data_dir, train_dir, *flags):
    """run_fc_model.py on small batches with a fixed seed, in train_dir's parent."""
    return run_script('run_fc_model.py', '--data_dir', data_dir, '--train_dir', train_dir,
                      '--batch_size', 100, '--seed', 1, *flags, cwd=train_dir.parent)


def restore(data_dir, train_dir, *flags):
    """restore_model.py on train_dir's newest run, or the one --run names."""
    return run_script('restore_model.py', '--data_dir', data_dir, '--train_dir', train_dir,
                      *flags, cwd=train_dir.parent)


def checkpoint_weights(prefix):
    """{variable: value} of the checkpoint at prefix (every saved value, the step too)."""
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(str(prefix))
            if not name.startswith('_CHECKPOINTABLE_OBJECT_GRAPH')}


def assert_bitwise_equal(a, b):
    """The checkpoints at prefixes a and b hold the same variables, bit for bit."""
    a, b = checkpoint_weights(a), checkpoint_weights(b)
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name].tobytes() != b[name].tobytes()]
    assert not differ, differ


def assert_restores_the_saved_weights(train_dir, scratch):
    """restore_model.py's network (support.restore), restored from train_dir's newest
    checkpoint and saved again in scratch, holds every value of that checkpoint (the
    mean image too), bit for bit."""
    import tensorflow as tf
    from support import restore, runs
    run = runs.find_run(str(train_dir))
    network = restore.Network(run)
    saved = checkpoint_weights(run.latest_checkpoint())
    again = checkpoint_weights(tf.train.Checkpoint(
        model=network.model, mean_image=network.mean_image).write(str(scratch / 'resaved')))
    values = sorted(name for name in saved if name.startswith(('model/', 'mean_image')))
    assert 'mean_image/.ATTRIBUTES/VARIABLE_VALUE' in values
    assert values == sorted(n for n in again if n.startswith(('model/', 'mean_image')))
    differ = [n for n in values if saved[n].tobytes() != again[n].tobytes()]
    assert not differ, differ

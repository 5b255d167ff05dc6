"""Untrusted input: each test builds a hostile file, archive, server or run folder
itself and checks that nothing runs, nothing is written or deleted outside the data or
run folder, memory and time stay bounded, and the user gets one line and a non-zero
exit (docs/hardening.md)."""
import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

from conftest import (ROOT, LoopbackServer, assert_one_line_error, printed_value, run_script, write_batch,
                      write_cifar, write_idx, write_mnist)
import data_helpers
from support import download, mnist, safe_pickle, untar
from support.errors import InputError


# 1. A pickle that would run code ---------------------------------------------------------

class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, ('touch %s' % self.marker,)


def test_a_batch_that_would_run_code_is_refused(tmp_path):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    marker = tmp_path / 'marker'
    rng = np.random.default_rng(0)
    batch = {'data': rng.integers(0, 255, (20, 3072), dtype=np.uint8), 'labels': [1] * 20,
             'batch_label': RunsCode(marker)}  # otherwise a valid batch
    with open(folder / 'data_batch_1', 'wb') as f:
        pickle.dump(batch, f, protocol=2)
    result = run_script('softmax.py', '--data_dir', folder, '--max_steps', 10, cwd=tmp_path)
    assert_one_line_error(result, 'data_batch_1 was refused', 'posix.system')
    assert not marker.exists()
    assert not (tmp_path / 'tf_logs').exists()


def test_safe_pickle_reads_the_real_layout_and_refuses_other_globals(tmp_path):
    path = tmp_path / 'batch'
    write_batch(path, np.arange(10), np.random.default_rng(0))
    with open(path, 'rb') as f:
        batch = safe_pickle.load(f, 1 << 20)
    assert sorted(batch) == ['batch_label', 'data', 'labels']
    assert batch['data'].shape == (10, 3072) and batch['labels'] == list(range(10))
    hostile_file = tmp_path / 'hostile'
    for hostile in [pickle.dumps(np.float64(1)), pickle.dumps(RunsCode(tmp_path / 'x')),
                    pickle.dumps(print)]:
        hostile_file.write_bytes(hostile)
        with open(hostile_file, 'rb') as f, pytest.raises(safe_pickle.UnsafePickleError):
            safe_pickle.load(f, 1 << 20)
    assert not (tmp_path / 'x').exists()
    with open(path, 'rb') as f, pytest.raises(ValueError, match='larger than'):
        safe_pickle.load(f, 1000)


@pytest.mark.parametrize('labels', [['a'] * 20, [[1, 2]] * 20, [2 ** 70] * 20, [1.7] * 20,
                                    [True] * 20, [3] * 19 + [10]])
def test_labels_must_be_integers_from_0_to_9(tmp_path, labels):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    images = np.zeros((len(labels), 3072), np.uint8)
    with open(folder / 'test_batch', 'wb') as f:
        pickle.dump({'data': images, 'labels': labels}, f, protocol=2)
    with pytest.raises(InputError, match='test_batch is not a CIFAR-10 batch'):
        data_helpers.load_data(str(folder))


# 2. Archives that would write outside their folder, or expand without bound -----------

def make_archive(path, members):
    """A .tar.gz of (TarInfo, bytes or None) members; returns its MD5."""
    with tarfile.open(path, 'w:gz') as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


def member(name, kind=tarfile.REGTYPE, content=b'x', linkname=''):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, content if kind == tarfile.REGTYPE else None


GOOD_FOLDER = [member('cifar-10-batches-py', tarfile.DIRTYPE),
               member('cifar-10-batches-py/readme.html')]


@pytest.mark.parametrize('hostile', [
    [member('cifar-10-batches-py/../../escaped')],
    [member('/tmp/escaped-absolute')],
    [member('cifar-10-batches-py/link', tarfile.SYMTYPE, linkname='/tmp'),
     member('cifar-10-batches-py/link/escaped')],
    [member('cifar-10-batches-py/hard', tarfile.LNKTYPE, linkname='/etc/passwd')],
    [member('cifar-10-batches-py/device', tarfile.CHRTYPE)],
    [member('cifar-10-batches-py/fifo', tarfile.FIFOTYPE)],
    [member('cifar-10-batches-py/sub', tarfile.DIRTYPE)],
    [member('cifar-10-batches-py/.hidden')],
    [member('other-folder/file')],
], ids=['dotdot', 'absolute', 'symlink', 'hardlink', 'device', 'fifo', 'subfolder',
        'hidden', 'other'])
def test_an_archive_with_anything_but_plain_files_is_refused(tmp_path, hostile):
    source = tmp_path / 'source'
    source.mkdir()
    archive = source / 'cifar-10-python.tar.gz'
    checksum = make_archive(archive, GOOD_FOLDER + hostile)
    work = tmp_path / 'work' / 'inner'
    work.mkdir(parents=True)
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    result = run_script('softmax.py', '--max_steps', 10, cwd=work,
                        env={'CIFAR10_URL': archive.as_uri(), 'CIFAR10_MD5': checksum,
                             'CIFAR10_DIR': ''})
    assert_one_line_error(result, 'is not a CIFAR-10 archive', 'delete it and run again')
    assert not (work / 'cifar-10-batches-py').exists()
    assert not os.path.exists('/tmp/escaped-absolute')
    after = sorted(str(p) for p in tmp_path.rglob('*'))
    # Only the verified download itself is new; nothing was extracted anywhere.
    assert sorted(set(after) - set(before)) == [str(work / 'cifar-10-python.tar.gz')]


def test_a_folder_that_is_a_file_in_the_archive_is_refused(tmp_path):
    archive = tmp_path / 'a.tar.gz'
    make_archive(archive, [member('cifar-10-batches-py')])
    with pytest.raises(InputError, match='not a CIFAR-10 archive'):
        untar.extract(str(archive), 'cifar-10-batches-py', str(tmp_path / 'out'), 1 << 20)
    assert not (tmp_path / 'out').exists()


def test_extraction_stops_at_the_size_cap(tmp_path):
    # 8 MB of zeros compress to a few kB: the cap, not the archive's size, bounds it.
    archive = tmp_path / 'bomb.tar.gz'
    make_archive(archive, GOOD_FOLDER + [member('cifar-10-batches-py/data_batch_1',
                                                content=bytes(8 << 20))])
    assert archive.stat().st_size < 100_000
    with pytest.raises(InputError, match='more than 1 MB of content'):
        untar.extract(str(archive), 'cifar-10-batches-py', str(tmp_path / 'out'), 1 << 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bomb.tar.gz']


def test_data_dir_that_is_a_file_is_refused_without_a_download(tmp_path):
    (tmp_path / 'data').write_text('not a folder')
    result = run_script('softmax.py', '--data_dir', tmp_path / 'data', cwd=tmp_path,
                        env={'CIFAR10_URL': 'http://127.0.0.1:9/never-asked'})
    assert_one_line_error(result, 'data is not a folder')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['data']


def test_an_archive_path_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / 'cifar-10-python.tar.gz').mkdir()
    result = run_script('softmax.py', cwd=tmp_path, env={'CIFAR10_DIR': ''})
    assert_one_line_error(result, 'cifar-10-python.tar.gz is not a file')


# 3. A hostile `checkpoint` state file ----------------------------------------------------

def test_a_tampered_state_file_reaches_nothing_outside_the_run(tiny_cifar, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    victim = tmp_path / 'victim'
    victim.mkdir()
    for name in ['checkpoint-1.index', 'checkpoint-1.data-00000-of-00001', 'precious']:
        (victim / name).write_text('keep me')
    first = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir', train_dir,
                       '--max_steps', 200, '--batch_size', 100, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    run, = train_dir.iterdir()
    paths = [str(victim / 'checkpoint-1'), '../../victim/checkpoint-1', str(victim / '*')]
    (run / 'checkpoint').write_text(
        'model_checkpoint_path: "%s"\n' % paths[0] +
        ''.join('all_model_checkpoint_paths: "%s"\n' % p for p in paths * 3))
    # Resuming saves 7 more checkpoints, so old ones are pruned: only the run's own.
    resumed = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                         train_dir, '--max_steps', 900, '--batch_size', 100, '--resume',
                         cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'Resuming run %s from step 200' % run.name in resumed.stdout
    assert sorted(p.name for p in victim.iterdir()) == [
        'checkpoint-1.data-00000-of-00001', 'checkpoint-1.index', 'precious']
    restored = run_script('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                          train_dir, cwd=tmp_path)
    assert printed_value(restored.stdout, 'Current step:') == 900
    for content in [b'', b'\xff\xfe\x00binary']:
        (run / 'checkpoint').write_bytes(content)
        again = run_script('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                           train_dir, cwd=tmp_path)
        assert printed_value(again.stdout, 'Current step:') == 900


def test_a_truncated_checkpoint_is_one_line(tiny_cifar, fc_run, tmp_path):
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(fc_run, train_dir)
    data, = train_dir.glob('*/checkpoint-300.data-*')
    data.write_bytes(data.read_bytes()[:100])
    result = run_script('restore_model.py', '--data_dir', tiny_cifar, '--train_dir',
                        train_dir, cwd=tmp_path)
    assert_one_line_error(result, 'checkpoint-300', 'damaged')


# 4. Two runs in one folder ---------------------------------------------------------------

def test_a_run_folder_in_use_is_refused_and_a_dead_runs_lock_is_not(tiny_cifar, fc_run,
                                                                    tmp_path):
    from support import runs
    if runs.fcntl is None and runs.msvcrt is None:
        pytest.skip('neither fcntl nor msvcrt: no OS lock on this platform')
    train_dir = tmp_path / 'tf_logs'
    shutil.copytree(fc_run, train_dir)
    run, = train_dir.iterdir()
    holder = subprocess.Popen(
        [sys.executable, '-u', str(ROOT / 'run_fc_model.py'), '--data_dir', str(tiny_cifar),
         '--train_dir', str(train_dir), '--max_steps', '100000000', '--checkpoint_every',
         '100000000', '--resume'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in holder.stdout:
            if line.startswith('Step'):
                break
        second = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                            train_dir, '--batch_size', 100, '--max_steps', 400,
                            '--resume', run.name, cwd=tmp_path)
        assert_one_line_error(second, 'run %s is in use by another process (pid %d)'
                              % (run.name, holder.pid))
    finally:
        holder.kill()  # dies holding the lock
        holder.communicate()
    third = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir', train_dir,
                       '--batch_size', 100, '--max_steps', 400, '--resume', run.name,
                       cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert 'Resuming run %s from step 300' % run.name in third.stdout


@pytest.mark.parametrize('make', [lambda p: p.write_text('a file'), None])
def test_an_unusable_train_dir_is_one_line(tiny_cifar, tmp_path, make):
    train_dir = tmp_path / 'runs'
    if make:
        make(train_dir)
    else:
        train_dir.mkdir()
        train_dir.chmod(0o500)
        if os.access(train_dir, os.W_OK):  # root ignores permissions: a read-only mount
            pytest.skip('running as root: permissions do not stop writes')
    result = run_script('softmax.py', '--data_dir', tiny_cifar, '--train_dir', train_dir,
                        cwd=tmp_path)
    assert_one_line_error(result, str(train_dir))


# 5. Downloads and decompression without bounds -------------------------------------------

def serve(handle):
    return LoopbackServer(handle, '/file')


def test_a_download_is_capped_with_or_without_content_length(tmp_path):
    def endless(request):  # no Content-Length, then data without end
        request.send_response(200)
        request.end_headers()
        try:
            for _ in range(1000):
                request.wfile.write(bytes(1 << 16))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def announced(request):
        request.send_response(200)
        request.send_header('Content-Length', str(10 << 30))
        request.end_headers()

    for handle, message in [(endless, 'sends more than the 1 MB expected'),
                            (announced, 'is 10240 MB, more than the 1 MB expected')]:
        server = serve(handle)
        try:
            with pytest.raises(InputError, match=message):
                download.download(server.url, str(tmp_path / 'f'), '0' * 32, 1 << 20,
                                  out=io.StringIO())
        finally:
            server.close()
        assert list(tmp_path.iterdir()) == []


def test_a_gzip_bomb_is_not_decompressed(tmp_path):
    folder = write_mnist(tmp_path / 'MNIST_data', train=60, test=20)
    bomb = folder / 'train-images-idx3-ubyte.gz'
    with gzip.open(bomb, 'wb', compresslevel=1) as f:  # a valid header, then 1 GB
        f.write((0x0803).to_bytes(4, 'big') + b''.join(
            n.to_bytes(4, 'big') for n in (60, 28, 28)))
        for _ in range(1024):
            f.write(bytes(1 << 20))
    assert bomb.stat().st_size < 8 << 20
    resource = pytest.importorskip('resource', reason='no getrusage here (Windows)')
    started = time.time()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match='holds more bytes of data where its header '
                                         'promises 47040'):
        mnist.load_data(str(folder), 'mnist')
    assert time.time() - started < 5
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < (100 << 20 if sys.platform == 'darwin' else 100 << 10)  # bytes on macOS


@pytest.mark.parametrize('shape,message', [
    ((0, 28, 28), 'claims a shape of 0x28x28'),
    ((4_000_000_000, 28, 28), 'claims a shape of 4000000000x28x28'),
    ((60, 28, 4_000_000_000), 'claims a shape of 60x28x4000000000'),
])
def test_absurd_idx_headers_are_refused(tmp_path, shape, message):
    folder = write_mnist(tmp_path / 'MNIST_data', train=60, test=20)
    with gzip.open(folder / 'train-images-idx3-ubyte.gz', 'wb') as f:
        f.write((0x0803).to_bytes(4, 'big') + b''.join(n.to_bytes(4, 'big') for n in shape))
    with pytest.raises(InputError, match=message):
        mnist.load_data(str(folder), 'mnist')


def test_train_and_test_images_of_different_sizes_are_refused(tmp_path):
    folder = write_mnist(tmp_path / 'MNIST_data', train=60, test=20)
    write_idx(folder / 't10k-images-idx3-ubyte.gz', np.zeros((20, 14, 14)))
    with pytest.raises(InputError, match='must be the same size'):
        mnist.load_data(str(folder), 'mnist')


# 6. A trickling server -------------------------------------------------------------------

def test_a_trickling_download_shows_progress_and_gives_up(tmp_path):
    def trickle(request):
        request.send_response(200)
        request.send_header('Content-Length', '100000')
        request.end_headers()
        try:
            for _ in range(200):
                request.wfile.write(b'x')
                request.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    server = serve(trickle)
    out = io.StringIO()
    started = time.time()
    try:
        with pytest.raises(InputError, match='is too slow'):
            download.download(server.url, str(tmp_path / 'f'), '0' * 32, 1 << 20, out=out,
                              timeout=1, min_speed=1000)
    finally:
        server.close()
    assert time.time() - started < 5
    assert '0.0/0.1 MB' in out.getvalue()  # the bar was drawn as the bytes came
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_loop_is_one_line(tmp_path):
    def loop(request):
        request.send_response(302)
        request.send_header('Location', request.path)
        request.end_headers()

    server = serve(loop)
    try:
        with pytest.raises(InputError) as error:
            download.download(server.url, str(tmp_path / 'f'), '0' * 32, 1 << 20,
                              out=io.StringIO())
    finally:
        server.close()
    assert 'HTTP 302' in str(error.value) and '\n' not in str(error.value)


# 7 and 8. Tracebacks and silent wrong results --------------------------------------------

@pytest.mark.parametrize('data', [np.zeros((0, 3072), np.uint8), np.zeros((1, 3072), np.uint8)])
def test_an_empty_test_batch_is_refused(tmp_path, data):
    folder = write_cifar(tmp_path / 'cifar', per_batch=20, test=20)
    with open(folder / 'test_batch', 'wb') as f:
        pickle.dump({'data': data[:0], 'labels': []}, f, protocol=2)
    result = run_script('softmax.py', '--data_dir', folder, cwd=tmp_path)
    assert_one_line_error(result, 'test_batch')  # refused, one way or another
    assert not (tmp_path / 'tf_logs').exists()


def test_softmax_divergence_is_one_line(tiny_cifar, tmp_path):
    result = run_script('softmax.py', '--data_dir', tiny_cifar, '--learning_rate', '3e38',
                        cwd=tmp_path)
    assert_one_line_error(result, 'training diverged', 'lower --learning_rate')
    beyond_float32 = run_script('softmax.py', '--data_dir', tiny_cifar, '--learning_rate',
                                '1e308', cwd=tmp_path)
    assert_one_line_error(beyond_float32, '--learning_rate: must be > 0 and at most 3.4e38')


def test_a_network_too_large_for_memory_is_one_line(tiny_cifar, tmp_path):
    result = run_script('run_fc_model.py', '--data_dir', tiny_cifar, '--train_dir',
                        tmp_path / 'tf_logs', '--hidden1', 2_000_000_000, cwd=tmp_path)
    assert_one_line_error(result, 'out of memory', '--hidden1')
    assert not (tmp_path / 'tf_logs').exists()


# 9. Offline ------------------------------------------------------------------------------

@pytest.mark.parametrize('dataset,folder', [('mnist', 'MNIST_data'),
                                            ('fashion_mnist', 'fashion_mnist_data')])
def test_offline_idx_error_names_every_missing_file_and_leaves_nothing(tmp_path, dataset,
                                                                       folder):
    env = {dataset.upper() + '_URL': 'http://127.0.0.1:9/', 'MNIST_DIR': '',
           'FASHION_MNIST_DIR': ''}
    result = run_script('softmax.py', '--dataset', dataset, cwd=tmp_path, env=env)
    assert_one_line_error(result, *mnist.FILES, '--data_dir', folder)
    if dataset == 'fashion_mnist':
        assert 'apt-get install dataset-fashion-mnist' in result.stderr
    assert list(tmp_path.iterdir()) == []


# A full disk --------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB file system of its own (a tmpfs; Linux, as root), to fill; grow(mb) makes
    room again."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    if not sys.platform.startswith('linux') or os.geteuid() != 0 or subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', str(disk)],
            capture_output=True).returncode != 0:
        pytest.skip('a small file system needs root on Linux (mount -t tmpfs)')

    def grow(megabytes):
        subprocess.run(['mount', '-o', 'remount,size=%dm' % megabytes, str(disk)],
                       check=True)
    yield disk, grow
    subprocess.run(['umount', str(disk)], check=True)


def test_a_full_disk_is_named_and_the_run_resumes_from_what_was_saved(tiny_cifar, tmp_path,
                                                                      small_disk):
    from conftest import assert_bitwise_equal, run_folder
    disk, grow = small_disk
    flags = ['--data_dir', tiny_cifar, '--batch_size', 100, '--max_steps', 300,
             '--checkpoint_every', 100, '--seed', 1]
    # Each checkpoint takes 1.5 MB: the second fills the disk, the third finds it full.
    result = run_script('run_fc_model.py', '--train_dir', disk / 'tf_logs', *flags,
                        cwd=tmp_path)
    assert_one_line_error(result, 'no space left on the disk', 'continues from its last '
                          'checkpoint with --resume')
    run = run_folder(disk / 'tf_logs')
    assert run.name.startswith('fc_') and (run / 'checkpoint-200.index').is_file()
    grow(20)
    resumed = run_script('run_fc_model.py', '--train_dir', disk / 'tf_logs', '--resume',
                         cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert 'Resuming run %s from step 200' % run.name in resumed.stdout
    alone = run_script('run_fc_model.py', '--train_dir', tmp_path / 'alone', *flags,
                       cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert_bitwise_equal(run / 'checkpoint-300', run_folder(tmp_path / 'alone') /
                         'checkpoint-300')


def test_decoded_images_that_find_the_disk_full_are_a_warning(tmp_path, small_disk):
    from test_image_folder import write_folder
    disk, _ = small_disk
    photos = write_folder(tmp_path / 'photos', per_class=40)  # 120 x 64x64x3: 1.5 MB
    (disk / 'filler').write_bytes(b'\0' * (2 << 20))
    result = run_script('softmax.py', '--data_dir', photos, '--image_size', 64,
                        '--max_steps', 10, '--train_dir', tmp_path / 'tf_logs', cwd=disk)
    assert result.returncode == 0, result.stderr
    warning, = [line for line in result.stdout.splitlines() if line.startswith('Warning')]
    assert 'no space left on the disk holding image_cache' in warning
    assert not [p for p in (disk / 'image_cache').iterdir()]  # nothing half-written kept

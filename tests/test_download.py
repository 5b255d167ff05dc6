"""Automatic download of CIFAR-10 from a loopback HTTP server the tests run.

The server (127.0.0.1 only) serves an archive built here in the official layout. Every
failure must leave nothing that a later run takes as valid, and the next good run must
succeed by itself.
"""
import errno
import hashlib
import io
import os
import socket
import tarfile

import pytest

from conftest import (LoopbackServer, assert_one_line_error, printed_value, run_script,
                      write_cifar)
from support import download
from support.errors import InputError


def build_archive(tmp_path):
    """cifar-10-python.tar.gz bytes, laid out as the official one."""
    folder = write_cifar(tmp_path / 'src' / 'cifar-10-batches-py', per_batch=100, test=100)
    (folder / 'readme.html').write_text('<p>CIFAR-10</p>')
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        tar.add(folder, arcname='cifar-10-batches-py')
    return buffer.getvalue()


class Server(LoopbackServer):
    """Serves the archive as each test chooses: mode 'ok', 'missing' (404), 'half'
    (closes the connection halfway through) or 'truncated' (a cut archive)."""

    def __init__(self, archive):
        self.archive, self.mode = archive, 'ok'
        super().__init__(self.answer, '/cifar-10-python.tar.gz')

    def answer(self, request):
        if self.mode == 'missing':
            request.send_error(404)
            return
        body = self.archive[:len(self.archive) // 2] if self.mode == 'truncated' \
            else self.archive
        request.send_response(200)
        request.send_header('Content-Length', str(len(body)))
        request.end_headers()
        if self.mode == 'half':
            request.wfile.write(body[:len(body) // 2])
            request.wfile.flush()
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        request.wfile.write(body)


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    return build_archive(tmp_path_factory.mktemp('archive'))


@pytest.fixture
def server(archive):
    server = Server(archive)
    yield server
    server.close()


def softmax(workdir, url, md5, *flags):
    """softmax.py in workdir with the default data folder and a short run."""
    return run_script('softmax.py', '--max_steps', 100, *flags, cwd=workdir,
                      env={'CIFAR10_URL': url, 'CIFAR10_MD5': md5, 'CIFAR10_DIR': ''})


def md5(data):
    return hashlib.md5(data).hexdigest()


def assert_nothing_looks_valid(workdir):
    """No data folder and no archive: only what a later run ignores may remain."""
    assert not (workdir / 'cifar-10-batches-py').exists()
    assert not (workdir / 'cifar-10-python.tar.gz').exists()
    leftovers = [p.name for p in workdir.iterdir()]
    assert leftovers == [], leftovers


def assert_good_run_recovers(workdir, server, archive):
    server.mode = 'ok'
    result = softmax(workdir, server.url, md5(archive))
    assert result.returncode == 0, result.stderr
    assert printed_value(result.stdout, 'Test accuracy') > 0.1


def test_first_run_downloads_verifies_extracts_and_trains(tmp_path, server, archive):
    result = softmax(tmp_path, server.url, md5(archive))
    assert result.returncode == 0, result.stderr
    assert 'Downloading %s' % server.url in result.stdout
    assert '100%' in result.stdout and 'MB/s' in result.stdout
    assert 'Extracting' in result.stdout
    assert printed_value(result.stdout, 'Test accuracy') > 0.1
    assert len(server.requests) == 1
    assert sorted(p.name for p in (tmp_path / 'cifar-10-batches-py').iterdir()) == [
        'batches.meta', 'data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4',
        'data_batch_5', 'readme.html', 'test_batch']
    assert (tmp_path / 'cifar-10-python.tar.gz').read_bytes() == archive

    again = softmax(tmp_path, server.url, md5(archive))
    assert again.returncode == 0 and len(server.requests) == 1  # no second request
    assert 'Downloading' not in again.stdout


def test_deleted_folder_is_extracted_again_without_the_network(tmp_path, server, archive):
    assert softmax(tmp_path, server.url, md5(archive)).returncode == 0
    import shutil
    shutil.rmtree(tmp_path / 'cifar-10-batches-py')
    server.mode = 'missing'
    result = softmax(tmp_path, server.url, md5(archive))
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 1


def test_wrong_checksum_keeps_no_file(tmp_path, server, archive):
    result = softmax(tmp_path, server.url, '0' * 32)
    assert_one_line_error(result, 'has MD5 %s, not %s' % (md5(archive), '0' * 32),
                          'was not kept')
    assert_nothing_looks_valid(tmp_path)
    assert_good_run_recovers(tmp_path, server, archive)


@pytest.mark.parametrize('mode, fragments', [('missing', ['HTTP 404']),
                                              ('half', ['broke off', 'run again'])])
def test_a_failed_download_is_named_and_kept_nowhere(tmp_path, server, archive, mode,
                                                     fragments):
    server.mode = mode
    result = softmax(tmp_path, server.url, md5(archive))
    assert_one_line_error(result, server.url, *fragments)
    assert_nothing_looks_valid(tmp_path)
    assert_good_run_recovers(tmp_path, server, archive)


def test_connection_refused_names_the_url_and_the_manual_steps(tmp_path, server, archive):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = 'http://127.0.0.1:%d/cifar-10-python.tar.gz' % port
    result = softmax(tmp_path, url, md5(archive))
    assert_one_line_error(result, 'cannot download %s' % url, 'refused',
                          'download it by hand and save it as')
    assert_nothing_looks_valid(tmp_path)
    assert_good_run_recovers(tmp_path, server, archive)


def test_truncated_archive_with_matching_checksum(tmp_path, server, archive):
    server.mode = 'truncated'
    result = softmax(tmp_path, server.url, md5(archive[:len(archive) // 2]))
    assert_one_line_error(result, 'cifar-10-python.tar.gz is corrupt',
                          'delete it and run again')
    assert not (tmp_path / 'cifar-10-batches-py').exists()
    (tmp_path / 'cifar-10-python.tar.gz').unlink()  # as the message says
    assert_nothing_looks_valid(tmp_path)
    assert_good_run_recovers(tmp_path, server, archive)


def test_an_archive_put_in_place_by_hand_is_never_deleted(tmp_path, server, archive):
    # Offline, with a copy from elsewhere: say what differs and how to go on.
    copy = tmp_path / 'cifar-10-python.tar.gz'
    copy.write_bytes(archive)
    result = softmax(tmp_path, server.url, '0' * 32)
    assert_one_line_error(result, 'has MD5 %s, not %s' % (md5(archive), '0' * 32),
                          'CIFAR10_MD5=%s' % md5(archive), 'otherwise delete it')
    assert copy.read_bytes() == archive and len(server.requests) == 0
    trusted = softmax(tmp_path, server.url, md5(archive))  # CIFAR10_MD5 as suggested
    assert trusted.returncode == 0, trusted.stderr
    assert len(server.requests) == 0 and copy.read_bytes() == archive


def test_leftovers_of_an_interrupted_run_are_ignored(tmp_path, server, archive):
    # What a run killed mid-way leaves: a partial download and a partial extraction.
    (tmp_path / 'cifar-10-python.tar.gz.x1y2.part').write_bytes(archive[:5000])
    partial = tmp_path / '.cifar-10-batches-py.extracting-abc' / 'cifar-10-batches-py'
    partial.mkdir(parents=True)
    (partial / 'data_batch_1').write_bytes(b'half')
    result = softmax(tmp_path, server.url, md5(archive))
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 1


def test_incomplete_folder_names_the_missing_file(tmp_path, server, archive):
    assert softmax(tmp_path, server.url, md5(archive)).returncode == 0
    (tmp_path / 'cifar-10-batches-py' / 'data_batch_4').unlink()
    result = softmax(tmp_path, server.url, md5(archive))
    assert_one_line_error(result, 'data_batch_4 is missing',
                          'move %s away and run again' % 'cifar-10-batches-py')


class FullDisk(io.RawIOBase):
    """A file that fails every write as a full disk does."""

    def writable(self):
        return True

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_no_space_left_removes_the_partial_file(tmp_path, server, archive, monkeypatch):
    real_fdopen = os.fdopen
    opened = []

    def fdopen(fd, mode='r', *args, **kwargs):
        if 'w' in mode:  # the .part file: keep the descriptor, fail the writes
            opened.append(real_fdopen(fd, mode))
            return io.BufferedWriter(FullDisk())
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(download.os, 'fdopen', fdopen)
    with pytest.raises(InputError, match='no space left on the disk holding'):
        download.download(server.url, str(tmp_path / 'a.tar.gz'), md5(archive), 1 << 30,
                          out=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_no_permission_to_write(tmp_path, server, archive, monkeypatch):
    def mkstemp(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(download.tempfile, 'mkstemp', mkstemp)
    with pytest.raises(InputError, match='no permission to write in %s' % tmp_path):
        download.download(server.url, str(tmp_path / 'a.tar.gz'), md5(archive), 1 << 30,
                          out=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_an_untrusted_certificate_names_certificates_and_the_fix(tmp_path):
    """An HTTPS server whose self-signed certificate nobody trusts: the error names
    certificates and what to do, never the network."""
    import shutil
    import ssl
    import subprocess
    if not shutil.which('openssl'):
        pytest.skip('no openssl command to make a certificate with')
    key, cert = tmp_path / 'key.pem', tmp_path / 'cert.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-keyout', str(key), '-out', str(cert)],
                   check=True, capture_output=True)
    server = LoopbackServer(lambda request: request.send_error(404))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    try:
        url = server.url.replace('http:', 'https:') + 'cifar-10-python.tar.gz'
        target = tmp_path / 'cifar-10-python.tar.gz'
        with pytest.raises(InputError) as error:
            download.download(url, str(target), 'c58f30108f718f92721af3b95e74349a', 1 << 20,
                              out=io.StringIO())
    finally:
        server.close()
    message = str(error.value)
    assert 'cannot verify the certificate' in message and 'network' not in message
    assert 'Install Certificates.command' in message and 'c58f30108f718f92' in message
    assert '\n' not in message and not target.exists()


def test_missing_parent_folders_of_data_dir_are_created(tmp_path, server, archive,
                                                        monkeypatch):
    monkeypatch.setenv('CIFAR10_URL', server.url)
    monkeypatch.setenv('CIFAR10_MD5', md5(archive))
    data_dir = tmp_path / 'new' / 'deeper' / 'cifar-10-batches-py'
    download.fetch_cifar10(str(data_dir))
    assert (data_dir / 'test_batch').is_file()
    assert (tmp_path / 'new' / 'deeper' / 'cifar-10-python.tar.gz').read_bytes() == archive


@pytest.mark.parametrize('script', ['softmax.py', 'run_fc_model.py', 'run_cnn_model.py',
                                    'run_pretrained_model.py'])
def test_a_missing_folder_of_another_name_is_one_line_not_a_download(tmp_path, script):
    requests = []
    server = LoopbackServer(lambda request: (requests.append(1), request.send_error(404)))
    try:
        result = run_script(script, '--data_dir', tmp_path / 'no_such_photos', cwd=tmp_path,
                            env={'CIFAR10_URL': server.url})
    finally:
        server.close()
    assert_one_line_error(result, 'there is no folder', 'no_such_photos',
                          'named cifar-10-batches-py')
    assert requests == [] and list(tmp_path.iterdir()) == []

"""Fetch a dataset once: download with progress, cap its size, verify its MD5, extract.

Nothing half-done ever looks finished: a download goes to a temporary `.part` file
that becomes the file only once its checksum matches, and extraction (support/untar.py)
goes to a temporary folder that is renamed into place only once complete. What comes
from outside is not trusted: downloads and extracted files have size caps, a stalled or
trickling server is given up on, and an archive may hold only plain files in its one
expected folder (no links, no paths that lead elsewhere). A file the user put in
place is never deleted.
"""
import hashlib
import http.client
import os
import socket
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request

from support import untar
from support.errors import InputError, describe, one_line, write_error

CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
CIFAR10_FOLDER = 'cifar-10-batches-py'
CIFAR10_MAX_BYTES = 256 << 20  # the archive: 163 MiB (170 MB)
CIFAR10_MAX_EXTRACTED = 512 << 20  # its 8 files: 178 MiB in all


def fetch_cifar10(data_dir):
    """Make sure data_dir holds CIFAR-10: extract the archive beside it, downloading it
    first if need be. Does nothing if data_dir is a folder already. Only a folder named
    cifar-10-batches-py (the default --data_dir, the name the archive extracts to) is
    fetched: any other missing folder is a mistyped path, not a request for 170 MB.

    The archive is kept beside the folder (data_dir/../cifar-10-python.tar.gz), so a
    deleted folder is extracted again without the network. $CIFAR10_URL names a
    mirror or a local copy (file://...), $CIFAR10_MD5 the checksum of a copy that is
    not byte-identical to the official one.

    Raises:
      InputError: data_dir is a file, missing under another name, or the download,
        checksum or extraction failed.
    """
    if os.path.isdir(data_dir):
        return
    if os.path.lexists(data_dir):
        raise InputError('%s is not a folder (a file): pass --data_dir a folder of your '
                         'images, one subfolder per class, or CIFAR-10\'s folder'
                         % data_dir)
    if os.path.basename(os.path.normpath(data_dir)) != CIFAR10_FOLDER:
        raise InputError('there is no folder %s: pass --data_dir a folder of your images, '
                         'one subfolder per class, or CIFAR-10\'s (fetched when missing '
                         'only into a folder named %s)' % (data_dir, CIFAR10_FOLDER))
    url = os.environ.get('CIFAR10_URL') or CIFAR10_URL
    md5 = os.environ.get('CIFAR10_MD5') or CIFAR10_MD5
    parent = os.path.dirname(os.path.abspath(data_dir))
    archive = os.path.join(parent, 'cifar-10-python.tar.gz')
    try:
        os.makedirs(parent, exist_ok=True)  # as Keras' get_file and torchvision do
    except OSError as e:
        raise InputError(write_error(e, parent))
    if os.path.lexists(archive):
        if not os.path.isfile(archive):
            raise InputError('%s is not a file: move it away and run again' % archive)
        found = md5_of(archive)
        if found != md5:
            raise InputError(
                '%s has MD5 %s, not %s: if it is a copy you trust, run with '
                'CIFAR10_MD5=%s; '
                'otherwise delete it and run again to download the official archive'
                % (archive, found, md5, found))
    else:
        print('CIFAR-10 not found in %r: fetching it (170 MB, once)' % data_dir)
        download(url, archive, md5, CIFAR10_MAX_BYTES)
    print('Extracting %s to %s' % (archive, data_dir))
    untar.extract(archive, CIFAR10_FOLDER, data_dir, CIFAR10_MAX_EXTRACTED)


def md5_of(path, chunk_size=1 << 20):
    """The hex MD5 of a file."""
    digest = hashlib.md5()
    try:
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(chunk_size), b''):
                digest.update(chunk)
    except OSError as e:
        raise InputError('cannot read %s: %s' % (path, e.strerror or e))
    return digest.hexdigest()


def _progress(done, total, started, out):
    """One progress line: bar, percentage, megabytes and speed, redrawn in place."""
    mb = 1024 * 1024
    speed = done / max(time.time() - started, 1e-6) / mb
    if total:
        filled = int(30 * done / total)
        out.write('\r[%s%s] %3d%%  %.1f/%.1f MB  %.2f MB/s' % (
            '=' * filled, ' ' * (30 - filled), 100 * done // total, done / mb,
            total / mb, speed))
    else:
        out.write('\r%.1f MB  %.2f MB/s' % (done / mb, speed))
    out.flush()


def tls_context():
    """The system's trusted certificates, or certifi's (installed with TensorFlow's
    dependencies) where the system gives Python none, as the python.org installer's
    Python on macOS until its "Install Certificates.command" is run."""
    context = ssl.create_default_context()
    if not context.get_ca_certs():
        try:
            import certifi
            context.load_verify_locations(certifi.where())
        except (ImportError, OSError, ssl.SSLError):
            pass
    return context


def download(url, path, md5, max_bytes, out=None, timeout=60, min_speed=1024):
    """Download url to path and check its MD5; on any failure, leave no file behind.

    Args:
      url: http(s):// or file:// address of the file.
      path: where the verified file goes.
      md5: its expected hex MD5.
      max_bytes: the most it may hold; a larger file is refused as it arrives.
      out: where the progress bar goes (default: sys.stdout at the time of the call).
      timeout: seconds without a byte, or below min_speed bytes/s on average, after
        which the download is given up.

    Raises:
      InputError: the server could not be reached or answered with an error, the
        connection broke off or stalled, the file is too large, the checksum differs,
        or the file could not be written.
    """
    out = out or sys.stdout
    folder = os.path.dirname(os.path.abspath(path))
    part = None
    try:
        fd, part = tempfile.mkstemp(prefix=os.path.basename(path) + '.', suffix='.part',
                                    dir=folder)
        out.write('Downloading %s\n' % url)
        digest = hashlib.md5()
        done = 0
        started = shown = window_start = time.time()
        window_done = 0
        context = tls_context() if url.startswith('https:') else None
        with os.fdopen(fd, 'wb') as f, \
                urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            total = int(r.headers.get('Content-Length') or 0)
            if total > max_bytes:
                raise InputError('%s is %d MB, more than the %d MB expected: not the '
                                 'right file' % (url, total >> 20, max_bytes >> 20))
            read = getattr(r, 'read1', r.read)  # what has arrived, not a full chunk
            while True:
                chunk = read(1 << 16)
                if not chunk:
                    break
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                now = time.time()
                if done > max_bytes:
                    raise InputError('%s sends more than the %d MB expected: not the '
                                     'right file' % (url, max_bytes >> 20))
                if now - window_start > timeout:  # a trickle never trips the timeout
                    if done - window_done < min_speed * (now - window_start):
                        raise InputError(
                            'the download of %s is too slow (%d bytes in the last %d s): '
                            'run again later, or download it by hand and save it as %s'
                            % (url, done - window_done, now - window_start, path))
                    window_start, window_done = now, done
                if now - shown > 0.2:
                    _progress(done, total, started, out)
                    shown = now
        if total and done != total:
            raise InputError('the download of %s broke off after %d of %d bytes: run again'
                             % (url, done, total))
        _progress(done, total, started, out)
        out.write('\n')
        if digest.hexdigest() != md5:
            raise InputError(
                'the file downloaded from %s has MD5 %s, not %s: it is corrupt or not the '
                'right file, and was not kept; run again to retry'
                % (url, digest.hexdigest(), md5))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask)  # mkstemp made it private; make it a normal file
        os.replace(part, path)
        part = None
    except urllib.error.HTTPError as e:
        raise InputError('downloading %s failed: HTTP %d %s'
                         % (url, e.code, one_line(e.reason)))
    except http.client.IncompleteRead as e:
        raise InputError('the download of %s broke off after %d bytes: run again'
                         % (url, done + len(e.partial)))
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
            TimeoutError, socket.timeout, EOFError, ssl.SSLError) as e:
        reason = getattr(e, 'reason', None) or e
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise InputError(
                'cannot verify the certificate of %s (%s): this Python trusts no '
                'certificate authority that signed it. On macOS, run "Install '
                'Certificates.command" in the Python folder under Applications; or '
                'download the file by hand, check that its MD5 is %s, and save it as %s'
                % (url, one_line(reason.verify_message or reason), md5, path))
        raise InputError(
            'cannot download %s (%s): check the network and run again, or download it by '
            'hand and save it as %s' % (url, one_line(describe(reason)), path))
    except OSError as e:
        raise InputError(write_error(e, folder))
    finally:
        if part is not None and os.path.exists(part):
            os.remove(part)

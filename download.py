"""Fetch a dataset archive once: download, verify its MD5, extract, with progress.

Nothing half-done ever looks finished: the download goes to a temporary `.part` file
that becomes the archive only once its checksum matches, and extraction goes to a
temporary folder that is renamed into place only once it is complete. A failed or
interrupted run leaves nothing a later run would trust, so the later run starts over.
"""
import errno
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib


class DownloadError(Exception):
    """A download or extraction failed; the message says what to do. Nothing was kept."""


def md5_of(path, chunk_size=1 << 20):
    """The hex MD5 of a file."""
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(done, total, started, out):
    """One progress line: bar, percentage, megabytes and speed, redrawn in place."""
    mb = 1024 * 1024
    speed = done / max(time.time() - started, 1e-6) / mb
    if total:
        filled = int(30 * done / total)
        out.write('\r[%s%s] %3d%%  %.1f/%.1f MB  %.1f MB/s' % (
            '=' * filled, ' ' * (30 - filled), 100 * done // total, done / mb,
            total / mb, speed))
    else:
        out.write('\r%.1f MB  %.1f MB/s' % (done / mb, speed))
    out.flush()


def download(url, path, md5, out=sys.stdout, chunk_size=1 << 16, timeout=60):
    """Download url to path and check its MD5; on any failure, leave no file behind.

    Args:
      url: http(s):// or file:// address of the file.
      path: where the verified file goes.
      md5: its expected hex MD5.
      out: where the progress bar goes.

    Raises:
      DownloadError: the server could not be reached or answered with an error, the
        connection broke off, the checksum differs, or the file could not be written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    part = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, part = tempfile.mkstemp(prefix=os.path.basename(path) + '.', suffix='.part',
                                    dir=folder)
        out.write('Downloading %s\n' % url)
        digest = hashlib.md5()
        done = 0
        started = last_shown = time.time()
        with os.fdopen(fd, 'wb') as f, urllib.request.urlopen(url, timeout=timeout) as r:
            total = int(r.headers.get('Content-Length') or 0)
            for chunk in iter(lambda: r.read(chunk_size), b''):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if time.time() - last_shown > 0.2:
                    _progress(done, total, started, out)
                    last_shown = time.time()
        if total and done != total:
            raise http.client.IncompleteRead(b'\0' * done, total - done)
        _progress(done, total, started, out)
        out.write('\n')
        if digest.hexdigest() != md5:
            raise DownloadError(
                'the file downloaded from %s has MD5 %s, not %s: it is corrupt or not the '
                'right file, and was removed; run again to retry' % (url, digest.hexdigest(),
                                                                     md5))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask)  # mkstemp made it private; make it a normal file
        os.replace(part, path)
        part = None
    except urllib.error.HTTPError as e:
        raise DownloadError('downloading %s failed: HTTP %d %s' % (url, e.code, e.reason))
    except http.client.IncompleteRead as e:
        raise DownloadError('the download of %s broke off after %d of %d bytes: run again'
                            % (url, len(e.partial), len(e.partial) + (e.expected or 0)))
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
            TimeoutError) as e:
        reason = getattr(e, 'reason', None) or e
        raise DownloadError(
            'cannot download %s (%s): check the network and run again, or download it by '
            'hand and save it as %s' % (url, _describe(reason), path))
    except OSError as e:
        raise DownloadError(_write_error(e, folder))
    finally:
        if part is not None and os.path.exists(part):
            os.remove(part)


def extract(archive, member, dest):
    """Extract folder `member` of a .tar.gz archive to dest, all or nothing.

    Args:
      archive: the .tar.gz file.
      member: the top-level folder inside the archive to keep (e.g. cifar-10-batches-py).
      dest: the folder to create; it must not exist yet.

    Raises:
      DownloadError: the archive is corrupt or lacks member (it is removed, so the next
        run downloads it again), or dest cannot be written.
    """
    parent = os.path.dirname(os.path.abspath(dest))
    scratch = None
    try:
        scratch = tempfile.mkdtemp(prefix='.%s.extracting-' % os.path.basename(dest),
                                   dir=parent)
        with tarfile.open(archive, 'r:gz') as tar:
            members = [m for m in tar.getmembers()
                       if m.name == member or m.name.startswith(member + '/')]
            if not members:
                raise tarfile.ReadError('no folder %s in it' % member)
            if hasattr(tarfile, 'data_filter'):  # refuses links and paths that escape
                tar.extractall(scratch, members=members, filter='data')
            else:
                tar.extractall(scratch, members=members)
        os.rename(os.path.join(scratch, member), dest)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        os.remove(archive)
        raise DownloadError('%s is corrupt (%s) and was removed: run again to download it '
                            'afresh' % (archive, _describe(e)))
    except OSError as e:
        if getattr(e, 'errno', None) == errno.EEXIST or os.path.isdir(dest):
            raise DownloadError('%s appeared while extracting: another run is filling it; '
                                'wait for it, or delete it and run again' % dest)
        raise DownloadError(_write_error(e, parent))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _describe(reason):
    return str(getattr(reason, 'strerror', None) or reason) or type(reason).__name__


def _write_error(e, folder):
    if e.errno == errno.ENOSPC:
        return 'no space left on the disk holding %s: free some space and run again' % folder
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return 'no permission to write in %s: choose a folder you can write to' % folder
    return 'cannot write in %s: %s' % (folder, e.strerror or e)

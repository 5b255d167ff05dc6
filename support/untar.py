"""Extract a .tar.gz from anywhere: all or nothing, no file written outside its folder."""
import errno
import gzip
import os
import re
import shutil
import tarfile
import tempfile
import zlib

from support.errors import InputError, describe, one_line, write_error

PLAIN_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]*$')


def extract(archive, folder, dest, max_bytes, max_files=1000):
    """Extract `folder` of a .tar.gz archive to dest, all or nothing, trusting nothing.

    Only the folder and plain-named regular files directly inside it are accepted:
    a link, a device, a subfolder, a path outside the folder or a name with odd
    characters makes the whole archive refused, and so do more than max_bytes of
    content or max_files members. Files are written by this function, never by
    tarfile's extraction, so no member can write outside the temporary folder.

    Raises:
      InputError: the archive is corrupt or refused (it is kept: the message says
        what to do), or dest cannot be written.
    """
    parent = os.path.dirname(os.path.abspath(dest))
    scratch = None
    refused = '%s is not a CIFAR-10 archive (%%s): delete it and run again' % archive
    try:
        scratch = tempfile.mkdtemp(prefix='.%s.extracting-' % os.path.basename(dest),
                                   dir=parent)
        target = os.path.join(scratch, folder)
        os.mkdir(target)
        written = 0
        with gzip.open(archive, 'rb') as gz, tarfile.open(fileobj=gz, mode='r|') as tar:
            for count, member in enumerate(tar):  # a stream: one pass, no index
                if count >= max_files:
                    raise InputError(refused % ('more than %d members' % max_files))
                name = member.name.rstrip('/')
                if name == folder and member.isdir():
                    continue
                top, _, base = name.partition('/')
                if not (top == folder and PLAIN_NAME.match(base) and member.isfile()):
                    raise InputError(refused % ('it holds %r, not a plain file in %s/'
                                                % (member.name, folder)))
                if written + member.size > max_bytes:
                    raise InputError(refused % ('more than %d MB of content'
                                                % (max_bytes >> 20)))
                source = tar.extractfile(member)
                with open(os.path.join(target, base), 'xb') as f:
                    copied = 0
                    while copied < member.size:
                        chunk = source.read(min(1 << 20, member.size - copied))
                        if not chunk:
                            break
                        f.write(chunk)
                        copied += len(chunk)
                if copied != member.size:  # a stream cut short ends without an error
                    raise tarfile.ReadError('unexpected end of data')
                written += copied
            # A stream cut short between two files ends the loop without an error;
            # reading on to the gzip trailer checks the length and the CRC.
            if len(gz.read(1 << 20)) == 1 << 20:
                raise InputError(refused % 'data after the end of the archive')
        if not os.listdir(target):
            raise InputError(refused % ('no files in a folder %s' % folder))
        os.rename(target, dest)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError('%s is corrupt (%s): delete it and run again to download it '
                         'afresh' % (archive, one_line(describe(e))))
    except FileExistsError:
        raise InputError(refused % 'a file name appears twice')
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY) or os.path.isdir(dest):
            raise InputError('%s appeared while extracting: another run is filling it; '
                             'wait for it, or delete it and run again' % dest)
        raise InputError(write_error(e, parent))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

"""Bad input as one line: InputError, and errors worded as what to do."""
import errno


class InputError(Exception):
    """Bad input the user can fix. Scripts print it as one line and exit with status 1."""


def disk_full(error):
    """Whether error (Python's, or TensorFlow's without errno) says the disk is full."""
    return (getattr(error, 'errno', None) == errno.ENOSPC
            or 'No space left on device' in str(error))


def write_error(e, folder):
    """An OSError from writing in folder as what to do: the disk full, no permission."""
    if disk_full(e):
        return ('no space left on the disk holding %s: free some space and run again'
                % folder)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return 'no permission to write in %s: choose a folder you can write to' % folder
    return 'cannot write in %s: %s' % (folder, ' '.join(str(e.strerror or e).split()))


def one_line(text):
    """text with its line breaks and runs of spaces made single spaces."""
    return ' '.join(str(text).split())


def describe(reason):
    """An exception (or a reason string) as a few words: its strerror, else its text."""
    return str(getattr(reason, 'strerror', None) or reason) or type(reason).__name__

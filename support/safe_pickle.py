"""Read a pickle that may come from anywhere, without letting it run code.

`pickle.load` calls whatever function a file names, `os.system` included: a
`data_batch_1` from an untrusted mirror could run any command. A CIFAR-10 batch needs
only NumPy's array reconstruction and plain containers, so every other global is
refused (the approach of the pickle documentation's "Restricting Globals").
"""
import os
import pickle

# (module, name) pairs a CIFAR-10 batch uses: NumPy 1 and 2 spellings of the array
# reconstructor, the array and dtype types, and the codec Python 3 pickles bytes with.
ALLOWED = {
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for a function that no data file needs."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError('it asks to run %s.%s, which no CIFAR-10 batch needs'
                                % (module, name))


def load(file, max_bytes):
    """Unpickle an open binary file of at most max_bytes, refusing code.

    Python 2's strings come back as bytes (a CIFAR-10 batch's images then share the
    memory of the bytes read, where encoding='latin1' would decode and re-encode all
    30 MB of them, taking 3 times as long), except the keys of a dict, which come back
    as str, as encoding='latin1' gives them.

    Raises:
      UnsafePickleError: the file names a function outside ALLOWED.
      ValueError: the file is larger than max_bytes.
      pickle.UnpicklingError, EOFError, ...: it is not a valid pickle.
    """
    if os.fstat(file.fileno()).st_size > max_bytes:
        raise ValueError('larger than %d MB' % (max_bytes >> 20))
    content = _RestrictedUnpickler(file, encoding='bytes').load()
    if isinstance(content, dict):
        content = {key.decode('latin1') if isinstance(key, bytes) else key: value
                   for key, value in content.items()}
    return content

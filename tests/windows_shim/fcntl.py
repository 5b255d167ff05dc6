raise ModuleNotFoundError('No module named %r (tests/windows_shim: as on Windows)' % __name__, name=__name__)

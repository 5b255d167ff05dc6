"""Run one benchmarked program in this process and record when each phase ends.

    python benchmarks/phases.py OUT.json PROGRAM [ARGS...]

Phases: import (the program's heavy modules: TensorFlow, Keras), load (inside the
data-loading function), train (from the loaded data to the printed test accuracy:
training and the test-set inference) and report (what follows: tables, TensorBoard
pictures, exit). Times are wall-clock seconds since the epoch, written to OUT.json as
the program ends; benchmark.py adds the process start and end it sees itself.
"""
import builtins
import json
import os
import runpy
import sys
import time

out_file, program = sys.argv[1], os.path.abspath(sys.argv[2])
sys.argv = [program] + sys.argv[3:]
sys.path.insert(0, os.path.dirname(program))
import common  # noqa: E402,F401 (the project on the import path)
marks = {}

if os.path.basename(program).startswith('keras_'):
    import keras  # noqa: F401  (with TensorFlow behind it)
    import keras_common as loader_module
    loader_name = 'load_cifar10'
else:
    from support import script
    script.import_tensorflow_quietly()  # what script.start() does after the flags
    import data_helpers as loader_module
    import cnn  # noqa: F401
    import two_layer_fc  # noqa: F401
    from support import loop, report  # noqa: F401
    loader_name = 'load_data'
marks['imported'] = time.time()

load = getattr(loader_module, loader_name)


def timed_load(*args, **kwargs):
    marks['load_start'] = time.time()
    result = load(*args, **kwargs)
    marks['loaded'] = time.time()
    return result


setattr(loader_module, loader_name, timed_load)
real_print = builtins.print


def watching_print(*args, **kwargs):
    if args and str(args[0]).startswith('Test accuracy') and 'tested' not in marks:
        marks['tested'] = time.time()
    real_print(*args, **kwargs)


builtins.print = watching_print
try:
    runpy.run_path(program, run_name='__main__')
finally:
    marks['end'] = time.time()
    with open(out_file, 'w') as f:
        json.dump(marks, f)

"""What a run records, and --resume reads back: flags.json and result.json.

A run's name says what ran: the model, the flags given that differ from their defaults,
and the time, e.g. `fc_hidden1=40_20261122-101500`. `flags.json` records every flag,
the seed included (drawn at random when --seed is not given), and the classes and
fingerprint of the data, so `--resume` alone continues the very same run: parse_flags()
fills in the recorded flags, refuses a different value for any that shapes the result,
and says when a run has nothing left to do. `result.json`, written last, holds the
step the run trained to and its test accuracy. Both are read as plain JSON,
size-capped, and each recorded flag is checked as if it were typed on the command line.
"""
import argparse
import json
import os
import random
import re
import sys
import time
from collections import namedtuple

from support import runs
from support.errors import InputError, write_error

WHERE = {'data_dir', 'train_dir', 'resume', 'run'}  # where, not what
NOT_IN_NAME = WHERE | {'seed', 'checkpoint_every'}  # every run has a seed
NOT_RECORDED = {'train_dir', 'resume', 'run'}  # where the run is, not how it trains
CHANGEABLE = {'max_steps', 'data_dir', 'checkpoint_every'}  # on resume: not the results
FLAGS_FILE = 'flags.json'
RESULT_FILE = 'result.json'
MAX_BYTES = 1 << 20  # the flags, and the classes of a folder: a few kB

Record = namedtuple('Record', 'model flags classes fingerprint')


def draw_seed():
    """A random --seed for a run started without one: any value the flag accepts."""
    return random.SystemRandom().randrange(2**31)


def run_name(model, args, changed):
    """model, then each flag of changed with its value in args, then the time: e.g.
    fc_hidden1=40_learning_rate=0.002_20261122-101500."""
    flags = ['%s=%s' % (flag, getattr(args, flag)) for flag in sorted(changed)]
    name = '_'.join([model] + flags + [time.strftime('%Y%m%d-%H%M%S')])
    return re.sub(r'[^A-Za-z0-9._=-]', '-', name)


def parse_flags(parser, argv, model):
    """Parse a training script's command line (a cli.ArgumentParser with --seed and
    --train_dir, and --resume where runs can be continued).

    A new run gets its name (args.run) and, when --seed is not given, a random seed.
    With --resume, the run's recorded flags fill in every flag not given; a given flag
    that differs from the recorded one is refused, except --max_steps (train further,
    or stop sooner), --data_dir (where the same data now is) and --checkpoint_every.
    args.resume and args.run become the run's name.

    Raises:
      InputError: no such run, a clashing flag, or damaged flags.json.
      SystemExit(0): the run has already reached max_steps (nothing is written).
    """
    args = parser.parse_args(argv)
    given = parser.given_flags(argv)
    args.run = run_name(model, args, {flag for flag in given - NOT_IN_NAME
                                      if getattr(args, flag) != parser.get_default(flag)})
    if getattr(args, 'resume', None) is not None:
        script = os.path.basename(sys.argv[0])
        run = runs.find_run(args.train_dir, args.resume or None, model=model,
                            hint='train one first with python %s' % script)
        args.resume = args.run = run.name
        for flag, value in read(run).flags.items():
            try:
                value = parser.checked(flag, value)
            except argparse.ArgumentTypeError as e:
                raise InputError('the recorded --%s of run %s is damaged (%s): start a '
                                 'new run' % (flag, run.name, e))
            if flag not in given:
                setattr(args, flag, value)
            elif getattr(args, flag) != value and flag not in CHANGEABLE:
                raise InputError('run %s was trained with --%s %s: leave --%s out to '
                                 'resume it, or leave --resume out to start a new run'
                                 % (run.name, flag, value, flag))
        step = run.checkpoints()[-1]
        if step > args.max_steps or step == args.max_steps and finished(run):
            command = run.resume_command(script, args.train_dir)
            if 'max_steps' in given:
                raise InputError('run %s is at step %d already: continue it with '
                                 '--max_steps larger than that, e.g. %s --max_steps %d'
                                 % (run.name, step, command, 2 * step))
            print('Run {} has finished: it reached max_steps = {}. To train it further: '
                  '{} --max_steps {}'.format(run.name, step, command, 2 * step))
            sys.exit(0)
    if args.seed is None:
        args.seed = draw_seed()  # recorded with the run
    return args


def open_run(args, model, data_sets, chief=True):
    """The run args describe, locked, with its flags recorded: a new folder named
    args.run, or the run args.resume names (as parse_flags() set them).

    Args:
      args: the parsed flags.
      model: the run's kind, the first word of its name: 'fc', 'cnn', 'softmax',
        'pretrained'.
      data_sets: what load_data() returned: its classes are recorded, and a resumed
        run must have the very images (the same fingerprint) it started with.
      chief: False for the other workers of a cluster: they get a temporary folder,
        removed when the run closes, and restore from the run args.resume names (the
        chief alone writes in train_dir, as TensorFlow's multi-worker guide does).

    Raises:
      InputError: a resumed run whose images changed.
    """
    if not chief:
        return runs.WorkerRun(args.resume and runs.Run(os.path.join(args.train_dir,
                                                                    args.resume)))
    if getattr(args, 'resume', None) is None:
        run = runs.new_run(args.train_dir, args.run)
        args.run = run.name  # name_2 where name was taken
    else:
        run = runs.Run(os.path.join(args.train_dir, args.resume))
        check_data(run, data_sets, args.data_dir, same_images=True)
        run.lock()
    flags = {flag: value for flag, value in sorted(vars(args).items())
             if flag not in NOT_RECORDED}
    write(run, FLAGS_FILE, {'model': model, 'flags': flags, 'data': {
        'classes': data_sets['classes'], 'fingerprint': data_sets.get('fingerprint')}})
    return run


def finish(run, step, test_accuracy):
    """Write result.json, the last thing a run writes: the step it trained to and its
    test accuracy. A run stopped before (while it scored the test set) is not finished:
    --resume scores it."""
    write(run, RESULT_FILE, {'step': int(step), 'test_accuracy': float(test_accuracy)})


def result(run):
    """(step, test accuracy) from result.json, or None where there is none or it is
    damaged (the run is then scored again)."""
    try:
        with open(os.path.join(run.path, RESULT_FILE), 'rb') as f:
            content = json.loads(f.read(MAX_BYTES))
        return int(content['step']), float(content['test_accuracy'])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def finished(run):
    """Whether result.json records the step of the newest checkpoint."""
    steps, scored = run.checkpoints(), result(run)
    return bool(steps) and scored is not None and scored[0] == steps[-1]


def write(run, name, content):
    """Write content as the JSON file name in the run's folder, whole, then renamed into
    place, so a crash never leaves half a file."""
    path = os.path.join(run.path, name)
    try:
        with open(path + '.tmp', 'w') as f:
            json.dump(content, f, indent=1)
            f.write('\n')
        os.replace(path + '.tmp', path)
    except OSError as e:
        raise InputError(write_error(e, run.path))


def read(run):
    """The Record in the run's flags.json: model, {flag: value}, classes, fingerprint.

    Raises:
      InputError: no flags.json, or one too large or not what open_run() writes.
    """
    path = os.path.join(run.path, FLAGS_FILE)
    try:
        with open(path, 'rb') as f:
            text = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError('run %s has no %s, so it is damaged: train it again%s' % (
            run.name, FLAGS_FILE, runs.script_hint(run.name)))
    except OSError as e:
        raise InputError('cannot read %s: %s' % (path, e.strerror or e))
    try:
        if len(text) > MAX_BYTES:
            raise ValueError('too large')
        content = json.loads(text)
        model, flags, data = content['model'], content['flags'], content['data']
        if not (isinstance(model, str) and isinstance(flags, dict)
                and all(isinstance(v, (str, int, float, type(None)))
                        for v in flags.values())
                and isinstance(data['classes'], list)
                and all(isinstance(c, str) for c in data['classes'])
                and isinstance(data['fingerprint'], (str, type(None)))):
            raise ValueError('wrong types')
    except (ValueError, KeyError, TypeError, AttributeError,
            RecursionError):  # deep nesting
        raise InputError('%s is damaged: start a new run' % path)
    return Record(model, flags, data['classes'], data['fingerprint'])


def check_data(run, data_sets, data_dir, same_images=False):
    """Check that data_sets (from load_data(data_dir)) holds the classes the run learned,
    in the same order, and with same_images (to resume the run), the very images it
    started with.

    Raises:
      InputError: other classes (another folder, or another dataset), or images added,
        removed or changed since.
    """
    record = read(run)
    if record.classes != data_sets['classes']:
        raise InputError(
            'run %s learned the classes %s, but %s has %s: pass --data_dir the folder it '
            'trained on' % (run.name, ', '.join(record.classes), data_dir,
                            ', '.join(data_sets['classes'])))
    if same_images and record.fingerprint != data_sets.get('fingerprint'):
        raise InputError('the images in %s are not those run %s started with (an image was '
                         'added, removed or changed): resume it with the same images, or '
                         'start a new run' % (data_dir, run.name))


def log_hparams(summary_writer, model, run, args):
    """The run's flags, for TensorBoard's HParams dashboard: one row per run, with the
    test accuracy that report.test_set() logs as its metric."""
    from tensorboard.plugins.hparams import api as hp
    values = {flag: value for flag, value in sorted(vars(args).items())
              if flag not in WHERE and value is not None}
    with summary_writer.as_default():
        hp.hparams(dict(values, model=model), trial_id=run.name)

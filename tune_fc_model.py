"""Search the two-layer network's flags for a better test accuracy: a random search.

Part 2 ends: "By varying parameters such as the number of neurons in the hidden layer
or the learning rate, we should be able to improve the model's accuracy some more."
This tries such variations for you. Each trial is an ordinary run of run_fc_model.py,
with its own run folder in train_dir, so TensorBoard's HParams tab lists and sorts them
all. The first trial is the tutorial's own flags (the baseline); the others draw each
flag at random from SEARCH_SPACE.

Why random and not a grid: with a handful of trials, a grid tries few values of each
flag (3 values of each of 5 flags is already 243 trials), while random trials each try
new values of every flag, and the few flags that matter most get explored well
(Bergstra and Bengio, "Random Search for Hyper-Parameter Optimization", 2012).

    python tune_fc_model.py --trials 8

Ctrl-C stops after the trial under way and still prints the best so far; a second
Ctrl-C interrupts that trial too (it saves a checkpoint, as run_fc_model.py does).

Note: the trials are compared on the test set, as the tutorial reports it; a chosen
set of flags then looks a little better than it would on images it was not chosen on.
"""
import math
import os
import random
import signal
import subprocess
import sys
import time

from support import cli, image_folder, run_record, runs, script
from support.errors import InputError

# Each flag's choices; learning rates and regularisation are drawn on a log scale.
SEARCH_SPACE = {
    'hidden1': [120, 250, 500, 1000],
    'learning_rate': (1e-3, 5e-2),  # for inputs scaled to about unit size
    'reg_constant': (1e-3, 1e-1),
    'batch_size': [100, 200, 400],
    'input_scale': [1 / 64],
}
# The tutorial's flags (on a set of fewer than 4000 training images, batches of a tenth).
TUTORIAL = {'hidden1': 120, 'learning_rate': 0.001, 'reg_constant': 0.1, 'batch_size': 400,
            'input_scale': 1.0}


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trials', type=cli.positive_int, default=8,
                        help='number of runs, the tutorial\'s flags first (default: '
                             '%(default)s)')
    parser.add_argument('--max_steps', type=cli.positive_int, default=4000,
                        help='training steps of each run (default: %(default)s)')
    cli.add_common_flags(parser)
    args = parser.parse_args(argv)
    if args.seed is None:  # one seed for every trial, printed in each command
        args.seed = run_record.draw_seed()
    return args


def draw_flags(rng, max_batch):
    """One trial's flags: a random choice from each list, log-uniform in each range; of
    the batch sizes, those of at most max_batch images (or max_batch, if none is)."""
    flags = {}
    for flag, choices in SEARCH_SPACE.items():
        if flag == 'batch_size':
            choices = [size for size in choices if size <= max_batch] or [max_batch]
        if isinstance(choices, tuple):
            low, high = choices
            drawn = math.exp(rng.uniform(math.log(low), math.log(high)))
            flags[flag] = float('%.2g' % drawn)  # two digits are enough
        else:
            flags[flag] = rng.choice(choices)
    return flags


def command(flags, args):
    line = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         'run_fc_model.py')]
    images = (dict(image_size=args.image_size, test_fraction=args.test_fraction)
              if image_folder.is_image_folder(args.data_dir) else {})  # your own images
    for flag, value in sorted(dict(flags, max_steps=args.max_steps,
                                   train_dir=args.train_dir, data_dir=args.data_dir,
                                   seed=args.seed, **images).items()):
        if value is not None:
            line += ['--' + flag, '%g' % value if isinstance(value, float) else str(value)]
    return line


def run_trial(line, train_dir, interrupts):
    """Run one trial in its own process group, so that Ctrl-C in the terminal reaches
    only this script; returns (test accuracy or None, seconds, run name, error)."""
    started = time.time()
    before = set(os.listdir(train_dir)) if os.path.isdir(train_dir) else set()
    interrupts.trial = subprocess.Popen(line, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
    _, err = interrupts.trial.communicate()
    errors = err.strip().splitlines()
    error = errors[-1] if errors else 'exit status %d' % interrupts.trial.returncode
    new = sorted(set(os.listdir(train_dir)) - before) if os.path.isdir(train_dir) else []
    if interrupts.trial.returncode != 0 or len(new) != 1:
        return None, time.time() - started, '-', error
    scored = run_record.result(runs.Run(os.path.join(train_dir, new[0])))
    return scored and scored[1], time.time() - started, new[0], error


class Interrupts:
    """Ctrl-C: the first stops the search after the trial under way, a second
    interrupts that trial too (which saves its checkpoint)."""

    def __init__(self):
        self.stopping, self.trial = False, None  # the trial: its process
        signal.signal(signal.SIGINT, self.on_interrupt)

    def on_interrupt(self, signum, frame):
        if self.stopping and self.trial is not None:
            self.trial.send_signal(signal.SIGINT)
        self.stopping = True
        print('\nStopping after this trial (Ctrl-C again to stop it now)', flush=True)


def main(args):
    rng = random.Random(args.seed)
    max_batch = max(1, image_folder.training_count(args.data_dir, args.test_fraction) // 10)
    results, interrupts = [], Interrupts()
    for trial in range(args.trials):
        flags = (dict(TUTORIAL, batch_size=min(TUTORIAL['batch_size'], max_batch))
                 if trial == 0 else draw_flags(rng, max_batch))
        line = command(flags, args)
        shown = ' '.join(line[2:])
        print('Trial {}/{}: {}'.format(trial + 1, args.trials, shown), flush=True)
        accuracy, seconds, folder, error = run_trial(line, args.train_dir,
                                                     interrupts)
        if accuracy is None:
            print('  failed: {}'.format(error), flush=True)
        else:
            print('  test accuracy {:.4f} in {:.0f} s, run {}'.format(
                accuracy, seconds, folder), flush=True)
            results.append((accuracy, shown))
        if interrupts.stopping:
            break
    if not results:
        raise InputError('no trial finished')
    accuracy, shown = max(results)
    print('\nBest of {} trials: test accuracy {:.4f}\npython run_fc_model.py {}'.format(
        len(results), accuracy, shown))


if __name__ == '__main__':
    args = parse_args()
    script.run(main, args)

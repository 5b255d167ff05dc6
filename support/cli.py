"""The command line's flags: one-line errors, range-checked types, the shared flags."""
import argparse
import os
import sys


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a flag error on one line (usage is one `-h` away), each flag also
    taken with hyphens for its underscores (--max-steps for --max_steps), as most
    command lines spell them, and the two questions --resume asks of a command line:
    which flags it gives, and whether a recorded value is one the flag accepts."""

    def __init__(self, *args, **kwargs):
        self.flags = {}  # dest: its argparse.Action, for each flag added
        super().__init__(*args, **kwargs)

    def add_argument(self, *names, **kwargs):
        action = super().add_argument(*names, **kwargs)
        self.flags[action.dest] = action
        return action

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args([self.underscored(a) for a in args], namespace)

    def underscored(self, arg):
        names = {name for action in self.flags.values() for name in action.option_strings}
        name, equals, value = str(arg).partition('=')
        spelled = '--' + name[2:].replace('-', '_')
        if name.startswith('--') and name not in names and spelled in names:
            return spelled + equals + value
        return arg

    def error(self, message):
        self.exit(2, '%s: error: %s (see %s -h)\n' % (self.prog, message, self.prog))

    def given_flags(self, argv=None):
        """The flags argv gives explicitly: argparse fills in a default only for a flag
        the namespace lacks, so every flag starts as a marker that a given one replaces."""
        unset = object()
        namespace = argparse.Namespace(**{dest: unset for dest in self.flags})
        return {dest for dest, value in vars(self.parse_args(argv, namespace)).items()
                if value is not unset}

    def checked(self, flag, value):
        """value (e.g. read from a file) as --flag would take it on the command line.

        Raises:
          argparse.ArgumentTypeError: no such flag, or a value it does not accept.
        """
        action = self.flags.get(flag)
        if action is None or action.dest == 'help':
            raise argparse.ArgumentTypeError('no such flag')
        if value is None:
            if action.default is not None:
                raise argparse.ArgumentTypeError('no value')
            return value
        try:
            value = action.type(str(value)) if action.type is not None else value
        except (ValueError, TypeError) as e:
            raise argparse.ArgumentTypeError(str(e))
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentTypeError('not one of the choices')
        return value


def _checked(convert, test, requirement):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a number' % text)
        if not test(value):
            raise argparse.ArgumentTypeError('must be %s, got %s' % (requirement, text))
        return value
    return parse


# Flag types: numbers in range, and small enough for the float32 the models compute in.
FLOAT32_MAX = 3.4028234e38
positive_int = _checked(int, lambda v: 0 < v < 2**31, '> 0')
non_negative_int = _checked(int, lambda v: 0 <= v < 2**31, '>= 0')
positive_float = _checked(float, lambda v: 0 < v <= FLOAT32_MAX, '> 0 and at most 3.4e38')
non_negative_float = _checked(float, lambda v: 0 <= v <= FLOAT32_MAX,
                              '>= 0 and at most 3.4e38')
fraction = _checked(float, lambda v: 0 <= v < 1, '>= 0 and < 1')
open_fraction = _checked(float, lambda v: 0 < v < 1, '> 0 and < 1')
image_size = _checked(int, lambda v: 16 <= v <= 256, 'from 16 to 256')


# Where each dataset is looked for unless --data_dir says otherwise: an environment
# variable, else the folder its archive extracts to, in the working directory.
DATA_DIRS = {'cifar10': ('CIFAR10_DIR', 'cifar-10-batches-py'),
             'mnist': ('MNIST_DIR', 'MNIST_data'),
             'fashion_mnist': ('FASHION_MNIST_DIR', 'fashion_mnist_data')}


def default_data_dir(dataset='cifar10'):
    variable, folder = DATA_DIRS[dataset]
    return os.environ.get(variable) or folder


def add_common_flags(parser, several_datasets=False, checkpoint_every=None,
                     default_image_size=32):
    """The flags every training script shares: where the data and the runs are, the
    random seed, and how a folder of your own images is read; with checkpoint_every
    (the default steps between two checkpoints), --checkpoint_every and --resume.

    With several_datasets, --data_dir defaults to None: the script picks the folder
    of the dataset chosen with default_data_dir(). default_image_size: --image_size's
    default.
    """
    if checkpoint_every is not None:
        parser.add_argument('--checkpoint_every', type=positive_int,
                            default=checkpoint_every,
                            help='steps between two checkpoints; there is always one at '
                                 'the last step (default: %(default)s)')
        parser.add_argument('--resume', nargs='?', const='', metavar='RUN',
                            help='continue the newest run in train_dir, or the run named, '
                                 'from its latest checkpoint, with the flags it was '
                                 'started with (add --max_steps N to train it further; '
                                 'Part 3\'s learning rate then follows the schedule of '
                                 'the new max_steps)')
    parser.add_argument(
        '--data_dir', default=None if several_datasets else default_data_dir(),
        help='data folder: CIFAR-10\'s, or your own images, one subfolder per class '
             '(default: %s)' % '; '.join(
                 '$%s or %s%s' % (variable, folder, ' for ' + name if several_datasets
                                  else '')
                 for name, (variable, folder) in DATA_DIRS.items()
                 if several_datasets or name == 'cifar10'))
    parser.add_argument(
        '--image_size', type=image_size, default=default_image_size,
        help='your own images: each is resized to this many pixels square, the whole '
             'picture (stretched if it is not square), each pixel the average of the '
             'area it covers (default: %(default)s{})'.format(
                 ', as CIFAR-10' if default_image_size == 32 else ''))
    parser.add_argument(
        '--test_fraction', type=open_fraction, default=0.2,
        help='your own images without a test folder: the share of each class held out '
             'for testing, chosen by a hash of each file name (default: %(default)s)')
    parser.add_argument('--train_dir', default='tf_logs',
                        help='folder of the runs: one subfolder per run for its '
                             'TensorBoard logs and checkpoints (default: %(default)s)')
    parser.add_argument('--seed', type=non_negative_int, default=None,
                        help='random seed of the initial weights, the batches and the '
                             'augmentation: the same seed repeats a run exactly (default: '
                             'drawn at random and recorded in the run\'s flags.json)')

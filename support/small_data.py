"""Flags fitted to a small training set: the batch size, and Part 3's learning rate.

A default batch of 400 or 1000 images is more than a folder of 170 photos has, so where
--batch_size is not given and its default is more than a tenth of the training images,
a batch is that tenth (an epoch then has 10 steps at least). Part 3's learning rate,
where --learning_rate is not given either, stays for batches of 200 or more (on 2,000
photos it did better so than scaled down) and below that is scaled with the batch, x
batch/200; the other scripts keep theirs (on 500 photos, Part 2's did worse scaled down).
docs/images.md has the measurements. Each change is printed once, with its reason.
"""
from support.errors import InputError

FULL_RATE_BATCH = 200  # Part 3's learning rate holds for batches this large


class DefaultInt(int):
    """A flag's default, not given on the command line: fit_batch() may change it."""


class DefaultFloat(float):
    """A flag's default, not given on the command line: fit_batch() may change it."""


def default(value):
    """value, marked as a default that fit_batch() may fit to the data."""
    return (DefaultFloat if isinstance(value, float) else DefaultInt)(value)


def check_batch_size(batch_size, num_train):
    """Raise InputError unless 0 < batch_size <= num_train (a batch is of distinct
    training images)."""
    if not 0 < batch_size <= num_train:
        raise InputError('--batch_size must be at most the number of training images '
                         '(%d), got %d' % (num_train, batch_size))


def fit_batch(args, num_train, scale_rate=False):
    """Fit args.batch_size, and with scale_rate args.learning_rate, to num_train
    training images.

    Raises:
      InputError: a --batch_size given larger than the training set.
    """
    batch_size, fitted = args.batch_size, max(1, num_train // 10)
    if not isinstance(batch_size, DefaultInt):
        check_batch_size(batch_size, num_train)
    elif fitted < batch_size:
        args.batch_size = fitted
        line = 'batch_size = {} instead of {}: a tenth of the {} training images, so ' \
               'that an epoch has 10 steps'.format(fitted, batch_size, num_train)
        if scale_rate and not isinstance(args.learning_rate, DefaultFloat):
            line += ' (--learning_rate as given)'
        elif scale_rate and fitted < FULL_RATE_BATCH:
            rate = args.learning_rate
            args.learning_rate = float('{:.4g}'.format(rate * fitted / FULL_RATE_BATCH))
            line += '; learning_rate = {:g} instead of {:g}: times {}/{}'.format(
                args.learning_rate, rate, fitted, FULL_RATE_BATCH)
        else:
            line += ' (the learning rate stays: docs/images.md)'
        print(line + '.')

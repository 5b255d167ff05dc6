"""Each training step's time in a real run of run_cnn_model.py, not a bare step.

    python benchmarks/steps_in_run.py [--data_dir DIR] [run_cnn_model.py flags ...]
    python benchmarks/steps_in_run.py --channels 64 --later_channels 256 \\
        --activation gelu --max_steps 495 --seed 0      # the earlier 94 % command

Runs run_cnn_model.py's main() in this process with the flags given (and a temporary
--train_dir), times each call of its compiled training step (what
support/training.step_function() returns: the step with its batch gather, lookahead,
summaries every 100th step, and the wait for its loss), and prints each step's
milliseconds, then their least, median and largest. benchmarks/step_time.py times a bare
step of the same network; this shows what a run adds to it, and how much the time of
one and the same step varies on this machine from minute to minute. Ctrl-C stops the
run (saving a checkpoint, as always) and still prints the steps so far.
"""
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ablation import DEFAULT_DATA  # noqa: E402
from support import cli  # noqa: E402
cli.import_tensorflow_quietly()
import run_cnn_model  # noqa: E402  (parses no flags on import)
from support import training  # noqa: E402


def main():
    seconds = []
    step_function = training.step_function

    def timed_step_function(*args, **kwargs):
        step = step_function(*args, **kwargs)

        def timed(indices):
            start = time.perf_counter()
            result = step(indices)
            seconds.append(time.perf_counter() - start)
            return result
        return timed

    training.step_function = timed_step_function
    with tempfile.TemporaryDirectory() as train_dir:
        args = run_cnn_model.parse_args(['--data_dir', DEFAULT_DATA] + sys.argv[1:] +
                                        ['--train_dir', train_dir])
        try:
            run_cnn_model.main(args)
        finally:
            if seconds:
                print('ms a step: ' + ' '.join('%.0f' % (1000 * s) for s in seconds))
                print('%d steps: least %.0f ms, median %.0f ms, largest %.0f ms' % (
                    len(seconds), 1000 * min(seconds), 1000 * statistics.median(seconds),
                    1000 * max(seconds)))


if __name__ == '__main__':
    main()

"""The training loop's machinery, which the tutorial does not discuss.

Each training script holds its own loop over the steps, as the tutorial does:

    train_step = loop.step_function(train_step, summary_writer, model.global_step)
    for step in loop.steps(model.global_step, max_steps, run, checkpoint, command):
        indices = next(batches)
        loss, accuracy = train_step(indices)
        ...

- set_seed(): a run's randomness comes from its seed alone, so it can be repeated.
- step_function(): the training step as one TensorFlow graph (tf.function); its
  summaries go to TensorBoard every 100th step, the graph of one step to the Graphs
  tab, and a loss that becomes NaN or infinite stops training with one line.
- steps(): the steps from where the run stands to max_steps. Ctrl-C, or SIGTERM (what
  `docker stop`, Kubernetes, Slurm and cloud preemption send), ends the loop after the
  step under way: a checkpoint of that step is saved, one line names the command that
  continues the run, and the exit status is non-zero. A second Ctrl-C quits at once.
- Progress: the epoch, images/s and time left, for runs that take minutes.
- predict(): a model's scores on many images, 1000 at a time, with progress lines.
"""
import math
import signal
import sys
import time

import tensorflow as tf

from support.errors import InputError

SUMMARY_EVERY = 100  # steps between two TensorBoard summaries
PROGRESS_EVERY = 10  # seconds between two lines of predict()'s progress


def set_seed(seed):
    """Seed TensorFlow (initial weights) and make its kernels deterministic, so the
    same seed gives the same run, also on a GPU."""
    tf.random.set_seed(seed)
    tf.config.experimental.enable_op_determinism()


def step_function(train_step, summary_writer, global_step, run=None, variant_at=None):
    """train_step(indices) -> (loss, accuracy) as one TensorFlow graph.

    Args:
      train_step: takes one training step on the examples at indices (int64 vector)
        and increments global_step.
      summary_writer: tf.summary writer for the summaries and the graph.
      global_step: the int64 tf.Variable that counts the steps.
      run: the support.runs.Run whose last good checkpoint a divergence names.
      variant_at: None, or function(step number) -> a Python value that train_step
        then takes as its second argument (Part 3: the size of the step's images);
        a graph is traced for each value the first time it is needed.

    Returns:
      A function(indices) -> (loss, accuracy).

    Raises (the returned function):
      InputError: the loss became NaN or infinite.
    """
    # Two graphs of the step, called directly (a concrete function skips tf.function's
    # argument matching): one without summary ops for most steps, one with them for
    # every 100th. The first is what TensorBoard's Graphs tab shows: the layers, loss
    # and accuracy, without summary edges crowding the network out of the picture.
    spec = tf.TensorSpec([None], tf.int64, name='indices')
    graphs = {}

    def graph(step):
        variant = variant_at(step) if variant_at else None
        key = variant, step % SUMMARY_EVERY == 0
        if key not in graphs:
            def one_step(indices):
                return train_step(indices, variant) if variant_at else train_step(indices)

            def with_summaries(indices):
                with summary_writer.as_default(step=global_step), \
                        tf.summary.record_if(True):
                    return one_step(indices)
            # autograph=False: the steps branch on Python values only; AutoGraph would
            # change nothing but the time to trace them.
            graphs[key] = tf.function(with_summaries if key[1] else one_step,
                                      autograph=False).get_concrete_function(spec)
        return graphs[key]

    step = int(global_step.numpy())  # the next step's number, counted here
    plain = graph(step + (step % SUMMARY_EVERY == 0)).graph  # traced outside the writer
    with summary_writer.as_default():
        tf.summary.graph(plain)

    def checked_step(indices):
        nonlocal step
        loss, accuracy = graph(step)(tf.convert_to_tensor(indices, tf.int64))
        step += 1
        if not math.isfinite(loss):
            last_good = run and run.latest_checkpoint()
            raise InputError('the loss became {} at step {}: training diverged; lower '
                             '--learning_rate.{}'.format(
                                 float(loss), step - 1,
                                 ' The last good checkpoint is ' + last_good
                                 if last_good else ''))
        return loss, accuracy
    return checked_step


def steps(global_step, max_steps, run=None, checkpoint=None, resume_command=None):
    """The step numbers from global_step's value up to max_steps - 1.

    The caller's loop body takes step number `step`; when it returns and Ctrl-C or
    SIGTERM came meanwhile, the run's checkpoint is saved at step + 1 (if the body
    did not just save it), one line says how to continue, and the process exits with
    status 130 (Ctrl-C) or 143 (SIGTERM).

    Args:
      global_step: the tf.Variable that counts the steps taken.
      max_steps: where to stop.
      run, checkpoint: the support.runs.Run and tf.train.Checkpoint to save on a
        signal; None saves nothing.
      resume_command: the command that continues the run, for that line.
    """
    signals = [s for s in ('SIGINT', 'SIGTERM') if hasattr(signal, s)]
    received = None  # the signal that came

    def on_signal(signum, frame):
        nonlocal received
        received = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one quits
        if hasattr(signal, 'SIGTERM'):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {s: signal.signal(getattr(signal, s), on_signal) for s in signals}
    try:
        for step in range(int(global_step.numpy()), max_steps):
            yield step
            if received is not None:
                message = '\nInterrupted at step {}'.format(step + 1)
                if checkpoint is not None:
                    message += run.save_at_stop(checkpoint, step + 1, resume_command)
                print(message, file=sys.stderr, flush=True)
                sys.exit(128 + received)
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


class Progress:
    """The end of a step line for long runs: epoch, images/s and seconds left."""

    def __init__(self, batch_size, examples, max_steps):
        self.batch_size, self.examples, self.max_steps = batch_size, examples, max_steps
        self.last = None  # (step, time) of the previous line

    def __call__(self, step):
        now = time.perf_counter()
        line = ''
        if self.last is not None and step > self.last[0]:
            speed = (step - self.last[0]) / (now - self.last[1])  # steps per second
            line = ', epoch {:.1f}/{:.1f}, {:.0f} images/s, {:.0f} s left'.format(
                step * self.batch_size / self.examples,
                self.max_steps * self.batch_size / self.examples,
                speed * self.batch_size, (self.max_steps - step) / speed)
        self.last = (step, now)
        return line


def predict(logits_fn, images, batch_size=1000, what=None):
    """logits_fn(images), computed batch_size images at a time: all 10,000 test
    images at once would take 250 MB of floats in between.

    With what (e.g. 'test images, each seen 6 ways'), a line says that it starts, and
    one every PROGRESS_EVERY seconds how far it is: Part 3 takes a minute or more to
    score CIFAR-10's test set on a CPU, and would otherwise look hung.
    """
    if what:
        print('Classifying the {} {}'.format(len(images), what), flush=True)
    logits, started = [], time.perf_counter()
    last = started
    for start in range(0, len(images), batch_size):
        logits.append(logits_fn(images[start:start + batch_size]))
        done, now = min(start + batch_size, len(images)), time.perf_counter()
        if what and now - last >= PROGRESS_EVERY and done < len(images):
            print('  {} of {} classified, {:.0f} s left'.format(
                done, len(images), (now - started) / done * (len(images) - done)),
                flush=True)
            last = now
    return tf.concat(logits, axis=0)

"""The loop around a training step: what every training script does the same way.

A script defines train_step(indices) -> (loss, accuracy) for one batch, as the
tutorial describes it; train() runs it max_steps times and takes care of the rest:

- 100 steps per tf.function call: each call costs about a millisecond of Python and
  graph overhead, so it is paid once per 100 steps (the idea of Keras'
  steps_per_execution), and the summaries of every 100th step go to TensorBoard;
- the graph of one step for TensorBoard's Graphs tab (the network, not the loop);
- the printed `Step N ... training accuracy X` lines (with the epoch, the speed and the
  time left, for runs that take minutes), a checkpoint every 1000 steps;
- a loss that becomes NaN or infinite stops training with one line;
- Ctrl-C finishes the steps under way, saves them and exits with status 130.
"""
import itertools
import signal
import sys
import time

import numpy as np
import tensorflow as tf

from support.cli import InputError

STEPS_PER_CALL = 100


def set_seed(seed):
    """Seed TensorFlow (initial weights) and return a NumPy generator for the batches;
    seed None gives a different run each time."""
    if seed is not None:
        tf.random.set_seed(seed)
    return np.random.default_rng(seed)


def train(train_step, global_step, batches, max_steps, summary_writer,
          step_line='Step {:d}, training accuracy {:g}', run=None, checkpoint=None,
          checkpoint_every=1000, evaluate=None, evaluate_at=(), resume_hint='',
          epoch_size=None):
    """Train until global_step reaches max_steps.

    Args:
      train_step: function(indices) -> (loss, accuracy) that takes one step on the
        training examples at indices (an int64 vector).
      global_step: the int64 tf.Variable train_step increments.
      batches: iterator of index vectors, one per step.
      max_steps: where to stop.
      summary_writer: tf.summary writer for the summaries and the graph.
      step_line: format of the line printed every 100 steps (step, accuracy).
      run, checkpoint: a support.runs.Run and the tf.train.Checkpoint to save in it
        every checkpoint_every steps, at the end and on Ctrl-C; None saves nothing.
      evaluate, evaluate_at: call evaluate(step) before each step in evaluate_at.
      resume_hint: how to continue after Ctrl-C, for its message.
      epoch_size: (batch size, training examples): add the epoch, the speed and the
        time left to each printed line, for runs that take minutes.

    Returns:
      The path of the last checkpoint saved, or None.

    Raises:
      InputError: the loss became NaN or infinite.
    """
    def step_with_summaries(indices):
        with summary_writer.as_default(step=global_step), \
                tf.summary.record_if(global_step % STEPS_PER_CALL == 0):
            return train_step(indices)

    # TensorBoard's Graphs tab: the graph of one step (layers, loss, accuracy), traced
    # without the summary ops, whose edges would crowd the network out of the picture.
    one_step = tf.function(train_step).get_concrete_function(
        tf.TensorSpec([None], tf.int64, name='indices'))
    with summary_writer.as_default():
        tf.summary.graph(one_step.graph)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64)])
    def train_steps(batch_indices):
        """One train_step per row of batch_indices; their losses and accuracies."""
        num_steps = tf.shape(batch_indices)[0]
        losses = tf.TensorArray(tf.float32, size=num_steps)
        accuracies = tf.TensorArray(tf.float32, size=num_steps)
        for k in tf.range(num_steps):
            with tf.name_scope(''):  # tags as in the tutorial: Loss/loss, not while/...
                loss, accuracy = step_with_summaries(batch_indices[k])
            losses = losses.write(k, tf.cast(loss, tf.float32))
            accuracies = accuracies.write(k, tf.cast(accuracy, tf.float32))
        return losses.stack(), accuracies.stack()

    # Ctrl-C only raises a flag: the steps under way finish, then the loop stops.
    interrupted = []

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one quits

    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    saved = None
    step = int(global_step.numpy())
    started = None
    try:
        while step < max_steps:
            if step in evaluate_at:
                evaluate(step)
            # Up to the next multiple of 100 steps, or the next step to evaluate at.
            stop = min([s for s in evaluate_at if s > step] +
                       [step - step % STEPS_PER_CALL + STEPS_PER_CALL, max_steps])
            batch_indices = np.stack(list(itertools.islice(batches, stop - step)))
            losses, accuracies = [t.numpy() for t in train_steps(batch_indices)]
            if not np.all(np.isfinite(losses)):
                bad = int(np.isfinite(losses).argmin())
                last_good = run.latest_checkpoint() if checkpoint is not None else None
                raise InputError(
                    'the loss became {} at step {}: training diverged; lower '
                    '--learning_rate.{}'.format(
                        losses[bad], step + bad,
                        ' The last good checkpoint is ' + last_good if last_good else ''))
            if step % STEPS_PER_CALL == 0:
                line = step_line.format(step, accuracies[0])
                if epoch_size and started:  # the first call also builds the graph
                    speed = (stop - step) / (time.perf_counter() - started)
                    batch_size, examples = epoch_size
                    line += ', epoch {:.1f}/{:.1f}, {:.0f} images/s, {:.0f} s left'.format(
                        step * batch_size / examples, max_steps * batch_size / examples,
                        speed * batch_size, (max_steps - stop) / speed)
                print(line, flush=True)
            started = time.perf_counter()
            step = stop
            if checkpoint is not None and (step % checkpoint_every == 0 or
                                           step == max_steps or interrupted):
                saved = run.save(checkpoint, step)
                if not interrupted:
                    print('Saved checkpoint', saved)
            if interrupted:
                print('\nInterrupted at step {}{}'.format(
                    step, ': saved checkpoint {}; continue with {}'.format(
                        saved, resume_hint) if saved else '.'), file=sys.stderr)
                sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    return saved


def predict(logits_fn, images, batch_size=1000):
    """logits_fn(images), computed batch_size images at a time: all 10,000 test
    images at once would take 250 MB of floats in between."""
    return tf.concat([logits_fn(images[start:start + batch_size])
                      for start in range(0, len(images), batch_size)], axis=0)

"""What each of Part 3's techniques adds: run_cnn_model.py with all of them, and with
each one taken away, over several seeds; test accuracy as mean +- sd, and time.

    python benchmarks/research/ablation.py [--data_dir DIR] [--seeds 0 1 2] [flags ...]
    python benchmarks/research/ablation.py --channels 32 --max_steps 200  # smaller, quicker
    python benchmarks/research/ablation.py --rows 2 3  # only those rows (as in ROWS)

Script flags given here (e.g. --channels, --max_steps) apply to every row. Each row is
a whole run_cnn_model.py process per seed, in a temporary train_dir; its time is the
process's wall time. The test-time augmentation rows need no training: they score
the first row's checkpoints with fewer test-time views, and the differences are from
the first row: both only when it is run. Prints a Markdown table.
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402 (the project on the import path, DEFAULT_DATA, train)

ROWS = [  # (what, flags)
    ('everything (the defaults)', []),  # 0
    ('without whitening (first layer learned)', ['--no_whitening']),  # 1
    ('without lookahead', ['--no_lookahead']),  # 2
    ('without label smoothing', ['--label_smoothing', '0']),  # 3
    ('random flips instead of alternating', ['--random_flips']),  # 4
]


def fewer_views(trained, data_dir):
    """Test accuracy of each trained run's last checkpoint with the mirror image only,
    and with the image alone (the run itself used mirror images and shifts)."""
    import tensorflow as tf
    import cnn
    import data_helpers
    from support import loop, restore
    data = data_helpers.load_data(data_dir)
    images = tf.constant(data['images_test'])
    mirror, alone = [], []
    for run in trained:
        network = restore.Network(run)
        model = network.model
        for views, scores in [(lambda x: cnn.test_logits(x, model, shifts=False), mirror),
                              (lambda x: cnn.inference(x, model), alone)]:
            logits = loop.predict(
                lambda rows: views(cnn.to_images(rows, network.mean_image)), images)
            scores.append(float(cnn.evaluation(logits, data['labels_test'])))
    return mirror, alone


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=common.DEFAULT_DATA)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--rows', type=int, nargs='+', choices=range(len(ROWS)),
                        default=range(len(ROWS)), help='the rows to run (default: all)')
    args, flags = parser.parse_known_args()
    results = []
    with tempfile.TemporaryDirectory() as train_dir:
        for row in sorted(set(args.rows)):
            what, row_flags = ROWS[row]
            trained = []
            for seed in args.seeds:
                trained.append(common.train('run_cnn_model.py', flags + row_flags + [
                    '--data_dir', args.data_dir, '--seed', str(seed)], train_dir))
                print('%s, seed %d: %.4f in %.1f s' % (what, seed, *trained[-1][:2]),
                      file=sys.stderr, flush=True)
            results.append((what, [r[0] for r in trained], [r[1] for r in trained]))
            if row == 0:
                mirror, alone = fewer_views([r[2] for r in trained], args.data_dir)
                results += [('test-time views: mirror only, no shifts', mirror, None),
                            ('test-time views: the image alone', alone, None)]

    print('run_cnn_model.py %s, seeds %s\n' % (' '.join(flags) or '(defaults)',
                                               ' '.join(map(str, args.seeds))))
    print('| | test accuracy, mean +- sd | difference | each seed | time (s) |')
    print('|---|---|---|---|---|')
    base = statistics.mean(results[0][1]) if 0 in args.rows else None
    for what, accuracies, seconds in results:
        mean = statistics.mean(accuracies)
        sd = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        print('| %s | %.4f +- %.4f | %s | %s | %s |' % (
            what, mean, sd, '' if base is None else '%+.4f' % (mean - base),
            ', '.join('%.4f' % a for a in accuracies),
            '%.0f' % statistics.mean(seconds) if seconds else 'as above'))


if __name__ == '__main__':
    main()

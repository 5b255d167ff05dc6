"""Export a trained network for other programs and phones: a SavedModel and a TFLite file.

Takes the newest run in tf_logs with a checkpoint (run_fc_model.py or run_cnn_model.py),
or the run named with --run, and writes into its folder, in export/ (or --out):

    saved_model/   TensorFlow's SavedModel: uint8 RGB images in, probabilities out
    model.tflite   the same network for TensorFlow Lite (LiteRT), e.g. on a phone
    labels.txt     the class names, one a line, in the order of the probabilities
    README.md      the input each expects, and a short Python example for each

Both take the pixels as they are: the mean training image is subtracted inside, and
Part 3's test-time views are averaged inside, so a program feeds a photo shrunk to the
run's size and reads the probabilities. Everything is computed in float32.

    python export_model.py [--run RUN_NAME] [--out FOLDER]
    python predict_image.py --model tf_logs/RUN_NAME/export/model.tflite photo.jpg
"""
import os
import time

from support import cli, runs, script


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split('\n')[0])
    runs.add_run_flags(parser, 'to export')
    parser.add_argument('--out', metavar='FOLDER',
                        help='where to write the export (default: export/ in the run\'s '
                             'folder; an earlier export there is replaced)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    args = script.start(parse_args)  # before TensorFlow's slow import: -h answers at once

from support import export, restore


def main(args):
    beginTime = time.time()
    run = runs.trained_run(args)
    network = restore.Network(run, dtype='float32')  # what phones and TFLite compute in
    out = args.out or os.path.join(run.path, 'export')
    export.write(network, out)
    print('Run {}, step {}: exported to {}'.format(run.name, network.step, out))
    for name in sorted(os.listdir(out)):
        print('  {:<14} {:>9,d} bytes'.format(name, size_of(os.path.join(out, name))))
    print('Total time: {:5.2f}s'.format(time.time() - beginTime))


def size_of(path):
    """The bytes of a file, or of all files under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(path) for name in names)


if __name__ == '__main__':
    script.run(main, args)

"""How far reduced JPEG decoding moves an image from full decoding, and what it saves.

    python benchmarks/jpeg_decoding.py FOLDER_OF_JPEGS [--count 200]

For photos as they are and enlarged to 4000x3000 (JPEG quality 90, as from a camera),
shrunk to 32, 64 and 224 pixels as support/image_folder.py shrinks them: the mean
absolute difference (levels 0-255, and the worst image's) between decoding the whole
JPEG and Pillow's draft() asking for 1 or 8 times the final side, and ms per image.
"""
import argparse
import glob
import io
import os
import time

import numpy as np
from PIL import Image, ImageOps


def shrunk(data, size, margin):
    """The JPEG bytes as a size x size image; margin 0: the whole JPEG decoded."""
    with Image.open(io.BytesIO(data)) as image:
        if margin:
            image.draft('RGB', (margin * size, margin * size))
        image = ImageOps.exif_transpose(image).convert('RGB')
        return np.asarray(image.resize((size, size), Image.Resampling.BOX), np.int16)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder')
    parser.add_argument('--count', type=int, default=200)
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.folder, '**', '*.jpg'), recursive=True))
    files = files[::max(1, len(files) // args.count)][:args.count]
    photos = [open(f, 'rb').read() for f in files]
    cameras = []
    for data in photos[:40]:
        out = io.BytesIO()
        photo = Image.open(io.BytesIO(data)).convert('RGB')
        photo.resize((4000, 3000), Image.LANCZOS).save(out, 'JPEG', quality=90)
        cameras.append(out.getvalue())
    for name, images in [('as they are', photos), ('4000x3000', cameras)]:
        for size in (32, 64, 224):
            results = {}
            for margin in (0, 1, 8):
                start = time.perf_counter()
                results[margin] = [shrunk(data, size, margin) for data in images]
                results[margin, 'ms'] = (time.perf_counter() - start) * 1000 / len(images)
            for margin in (1, 8):
                differences = [np.abs(a - b).mean()
                               for a, b in zip(results[margin], results[0])]
                print('%s -> %d: draft %dx: mean |difference| %.2f (worst %.2f), %.2f ms; '
                      'whole %.2f ms' % (name, size, margin, np.mean(differences),
                                         np.max(differences), results[margin, 'ms'],
                                         results[0, 'ms']), flush=True)


if __name__ == '__main__':
    main()

"""One image file as pixels: decoded with Pillow, upright, RGB, resized.

The image is turned upright as its EXIF orientation says, made RGB (greyscale copied to
three channels, 16-bit scaled to 8, CMYK converted, transparent parts on white), and
resized to size x size: the whole picture, stretched if it is not square, each pixel the
average of the area it covers. An image over MAX_PIXELS is refused unread (a
decompression bomb), and one that fails to decode (truncated, not an image) raises
BadImage with the reason.
"""
import numpy as np
from PIL import Image, ImageOps

MAX_PIXELS = 1 << 27  # 134 million pixels: beyond any camera's photo

# Pillow warns of images over its own limit, and refuses those twice as large, with a
# message that gives no size: load_image() checks MAX_PIXELS itself instead.
Image.MAX_IMAGE_PIXELS = None


class BadImage(Exception):
    """An image file that cannot be used: the message says why."""


def load_image(path, size):
    """The image file at path as a size x size x 3 uint8 RGB array (module docstring).

    Raises:
      BadImage: too large to decode safely, truncated, or not an image Pillow reads.
    """
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise BadImage('%dx%d pixels: too large to decode safely' % image.size)
            # A large JPEG is decoded at 1/2..1/8 of its size where that still leaves
            # 8 pixels a side for each pixel kept: what full decoding gives, nearly.
            # (At fewer, the same photo as JPEG and as PNG became different rows.)
            image.draft('RGB', (8 * size, 8 * size))
            image = upright(image)
            image = rgb(image)
            image = image.resize((size, size), Image.Resampling.BOX)
            return np.asarray(image, np.uint8)
    except BadImage:
        raise
    except Exception as e:  # Pillow raises many kinds for a broken file
        message = str(e)
        if 'truncated' in message.lower() or isinstance(e, (EOFError, SyntaxError)):
            raise BadImage('truncated or damaged')
        if 'cannot identify image file' in message:
            raise BadImage('not an image Pillow can read')
        raise BadImage(message.split('\n')[0][:80] or type(e).__name__)


def load_row(path, size):
    """The image file at path as one row of load_data(): size x size x 3 uint8 values, a
    red, a green and a blue plane (as CIFAR-10's rows are).

    Raises:
      BadImage: as load_image().
    """
    return load_image(path, size).transpose(2, 0, 1).reshape(-1)


def upright(image):
    """The image turned as its EXIF orientation says (a phone's photo is stored as the
    sensor saw it); as it is where the EXIF data are damaged."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # Pillow raises many kinds for damaged EXIF data
        return image


def rgb(image):
    """A Pillow image of any mode as RGB: greyscale copied to the three channels,
    16- and 32-bit values scaled to 8 bits, transparent parts on white."""
    if image.mode.startswith('I') or image.mode == 'F':  # 16-bit (or more) greyscale
        values = np.asarray(image, np.float64)
        scale = 257 if image.mode != 'F' else 1  # 65535 -> 255
        image = Image.fromarray(np.clip(values / scale, 0, 255).round().astype(np.uint8))
    if 'A' in image.mode or 'a' in image.mode or 'transparency' in image.info:
        image = image.convert('RGBA')
        white = Image.new('RGBA', image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert('RGB')

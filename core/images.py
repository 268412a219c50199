"""Images as 8 bits per channel, whatever their depth: Pillow converts a 16-bit greyscale PNG (mode
``I;16``, or ``I`` in recent versions) to ``L``/``RGB``/``RGBA`` by clipping every value above 255, so
a 16-bit roughness map or view would read as white. Pillow scales 16-bit RGB(A) PNGs itself."""

from __future__ import annotations

import numpy as np
from PIL import Image

WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_8bit(image: Image.Image) -> Image.Image:
    """``image`` with 8 bits per channel: 16-bit (and 32-bit integer) greyscale scaled from 0..65535 to
    0..255 (rounded), float greyscale (``F``) from 0..1, clipped; any other mode as it is (then
    ``convert("RGBA")`` etc. are exact)."""
    if image.mode in WIDE_GREY_MODES:
        values = np.asarray(image, np.float64) / 257.0
    elif image.mode == "F":
        values = np.asarray(image, np.float64) * 255.0
    else:
        return image
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")


def convert_8bit(image: Image.Image, mode: str) -> Image.Image:
    """``image.convert(mode)`` after :func:`to_8bit` (``mode``: ``L``, ``RGB``, ``RGBA``, ...)."""
    return to_8bit(image).convert(mode)

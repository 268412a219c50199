"""Mipmap chains of texture images on the CPU, as OpenGL's ``glGenerateMipmap`` builds them.

llvmpipe generates mipmaps with its draw pipeline: ~80 ms for a 2048 x 2048 RGB atlas and ~110-170 ms
for an sRGB one, per object and map. OpenCV's box filter (``INTER_AREA``) makes the same levels in ~2 ms
(linear) and ~50 ms (sRGB, averaged in linear light as GL does), which the renderer then uploads level
by level. Hand-written only in the sense of the loop; the filtering is OpenCV's.
"""

from __future__ import annotations

import cv2
import numpy as np

from lrmzero.tone import to_linear


def _srgb_tables() -> tuple[np.ndarray, np.ndarray]:
    """(decode ``[256]`` float32: 8-bit sRGB -> linear, encode ``[65536]`` uint8: 16-bit linear -> sRGB)."""
    decode = to_linear(np.arange(256) / 255.0).astype(np.float32)
    x = np.arange(65536) / 65535.0
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return decode, np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)


_DECODE, _ENCODE = _srgb_tables()


def decode_srgb(image: np.ndarray) -> np.ndarray:
    """float32 linear light of a uint8 sRGB image ``[H, W, C]`` (one table lookup per value)."""
    return cv2.LUT(np.ascontiguousarray(image, np.uint8), _DECODE)


def level_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """``(width, height)`` of levels 1.. down to 1 x 1, each dimension halved and floored, as GL does."""
    sizes = []
    while width > 1 or height > 1:
        width, height = max(width // 2, 1), max(height // 2, 1)
        sizes.append((width, height))
    return sizes


def mip_chain(image: np.ndarray, srgb: bool = False) -> list[np.ndarray]:
    """Levels 1.. of ``image`` (``[H, W, C]`` uint8), each the 2 x 2 box mean of the one above.

    ``srgb``: the values are sRGB-encoded; they are averaged as linear light and encoded again (what
    GL does for an sRGB texture, so a fine black-and-white pattern fades to mid grey 188, not 128).
    Returns ``[H_k, W_k, C]`` uint8 arrays, sizes as :func:`level_sizes`.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"mip_chain: expected a uint8 [H, W, C] image, got {image.dtype} {image.shape}")
    sizes = level_sizes(image.shape[1], image.shape[0])
    levels = []
    if not srgb:
        current = image
        for size in sizes:
            current = cv2.resize(current, size, interpolation=cv2.INTER_AREA)
            levels.append(current.reshape(size[1], size[0], -1))
        return levels
    current = decode_srgb(image)
    for size in sizes:
        current = cv2.resize(current, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        levels.append(_ENCODE[(current * 65535.0 + 0.5).astype(np.uint16)])
    return levels


GL_TEXTURE_2D, GL_RGB, GL_UNSIGNED_BYTE, GL_UNPACK_ALIGNMENT = 0x0DE1, 0x1907, 0x1401, 0x0CF5


def level_uploader():
    """A function ``upload(level, image, internal_format)`` that defines mip ``level`` of the
    texture bound to GL_TEXTURE_2D on the active unit from a uint8 ``[H, W, 3]`` image, or None
    where the GL entry points cannot be found (then build the levels with GL's own generator).

    By hand (ctypes ``glTexImage2D``) because moderngl only defines levels through
    ``build_mipmaps``, i.e. through the slow generator this module replaces.
    """
    import ctypes
    import ctypes.util

    for library in ("libGL.so.1", "libOpenGL.so.0", ctypes.util.find_library("GL")):
        if not library:  # find_library found none
            continue
        try:
            gl = ctypes.CDLL(library)
            tex_image, store = gl.glTexImage2D, gl.glPixelStorei
            break
        except (OSError, AttributeError):
            continue
    else:
        return None
    tex_image.argtypes = [ctypes.c_uint, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
    tex_image.restype = None
    store.argtypes = [ctypes.c_uint, ctypes.c_int]
    store.restype = None

    def upload(level: int, image: np.ndarray, internal_format: int) -> None:
        data = np.ascontiguousarray(image, np.uint8)
        store(GL_UNPACK_ALIGNMENT, 1)
        tex_image(GL_TEXTURE_2D, level, internal_format, data.shape[1], data.shape[0], 0, GL_RGB,
                  GL_UNSIGNED_BYTE, data.ctypes.data)

    return upload

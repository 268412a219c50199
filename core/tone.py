"""The official Zeroverse tone chain, which every renderer's `Views` go through: per-object levels
(1st/99th percentiles of the opaque pixels of all views), clip, composite over the
background in linear, gamma 1/2.2, 8 bits. Textures are sRGB and decode with the sRGB curve, as
Blender decodes an image texture.
"""

from __future__ import annotations

import numpy as np

from lrmzero.views import Views

GAMMA = 2.2  # the official chain encodes with x ** (1 / 2.2)


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB texture values in [0, 1] to linear (the sRGB curve; the `gl` shader has the same)."""
    x = np.clip(np.asarray(srgb, np.float64), 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear values in [0, 1] to sRGB-encoded values in [0, 1] (the inverse of :func:`to_linear`)."""
    x = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def levels_range(linear: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    """One auto-levels range per object: the 1st and 99th percentiles of all RGB values of the
    opaque pixels (alpha > 0.95) of all its views together. (The released script averages each
    view's percentiles over the views; pooling them instead guarantees that after levels the 99th
    percentile of the object's opaque pixels is exactly 1, which averaging misses by a few per cent
    when the views differ.) ``linear [V, H, W, 3]`` straight colour, ``alpha [V, H, W]``."""
    colours, alphas = linear.reshape(-1, 3), alpha.reshape(-1)
    if len(alphas) > 400_000:  # a fixed, even subsample of the pixels (an odd stride, so not whole
        step = (len(alphas) // 400_000) | 1  # image columns) keeps this fast: 32 views x 256 px: 5x
        colours, alphas = colours[::step], alphas[::step]
    opaque = colours[alphas > 0.95]
    if not opaque.size:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(opaque, [1, 99]))
    return (lo, hi) if hi - lo > 1e-6 else (0.0, max(hi, 1e-6))


_ENCODE_STEPS = 1 << 20
_ENCODE = None


def _encode_table() -> np.ndarray:
    """uint8 ``[2^20 + 1]``: ``round(255 * x ** (1 / 2.2))`` at ``x = i / 2^20``."""
    global _ENCODE
    if _ENCODE is None:
        grid = np.arange(_ENCODE_STEPS + 1, dtype=np.float64) / _ENCODE_STEPS
        _ENCODE = np.round(255.0 * grid ** (1.0 / GAMMA)).astype(np.uint8)
    return _ENCODE


def encode_gamma(linear: np.ndarray) -> np.ndarray:
    """``round(255 * x ** (1 / 2.2))`` of values in [0, 1] through a 2^20-entry table (4x faster
    than the power; off by at most one level, in the darkest few 1e-6)."""
    return _encode_table()[(linear * _ENCODE_STEPS + 0.5).astype(np.int32)]


def tone_map(linear: np.ndarray, alpha: np.ndarray, background, levels: tuple[float, float] | None) -> np.ndarray:
    """The official per-object tone chain to RGBA uint8 ``[..., 4]``.

    ``linear [..., 3]``: straight linear colour; ``alpha [...]`` in [0, 1]; ``levels``: ``(lo, hi)``
    from :func:`levels_range`, or None to keep the values. Colour is rescaled to
    ``(c - lo) / (hi - lo)`` and clipped to [0, 1], composited over ``background`` (given as
    display values, composited in linear), encoded with gamma 1/2.2 and rounded to 8 bits. RGB is
    therefore *composited*: exactly ``background`` where alpha is 0, blended at fractional edges.
    It is composited with the alpha as written (8 bits), so a pixel a wide pixel filter covers by
    less than half a level is background, as its alpha 0 says.
    """
    # In place and with the table's scale folded in: 4x fewer passes over the image than step by step.
    steps = np.float32(_ENCODE_STEPS)
    lo, hi = levels if levels is not None else (0.0, 1.0)
    scale = np.float32(_ENCODE_STEPS / (hi - lo))
    x = np.multiply(linear, scale, dtype=np.float32)
    x -= np.float32(lo) * scale
    np.clip(x, 0.0, steps, out=x)  # levels and clip, in table steps
    alpha8 = np.round(np.clip(np.asarray(alpha, np.float32), 0.0, 1.0) * np.float32(255.0))
    a = (alpha8 / np.float32(255.0))[..., None]
    x *= a
    x += to_linear(np.asarray(background, np.float32)).astype(np.float32) * steps * (1.0 - a) + np.float32(0.5)
    out = np.empty(x.shape[:-1] + (4,), np.uint8)
    out[..., :3] = _encode_table()[x.astype(np.int32)]
    out[..., 3] = alpha8
    return out


def finish_views(linear: np.ndarray, alpha: np.ndarray, depth: np.ndarray, normal: np.ndarray, cameras,
                 settings, on_view=None):
    """The renderers' last step: the tone chain over all of an object's views (levels from all
    of them when ``settings.levels``), each view handed to ``on_view`` as it is finished.
    ``linear [V, H, W, 3]`` straight linear colour, ``alpha [V, H, W]`` coverage."""
    levels = levels_range(linear, alpha) if settings.levels else None
    rgba = np.empty(alpha.shape + (4,), np.uint8)
    for v in range(len(rgba)):
        rgba[v] = tone_map(linear[v], alpha[v], settings.background, levels)
        if on_view is not None:
            on_view(v, rgba[v], depth[v], normal[v])
    return Views(rgba, depth, normal, cameras)

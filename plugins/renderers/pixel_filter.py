"""The pixel filter a supersampling renderer resolves its sub-samples with.

Cycles (and so the official Zeroverse renders) filters every pixel with a Blackman-Harris window of
Blender's ``filter_width`` 1.5 px, which Cycles stretches to span twice that (3 px), applied
separably along x and y. A rasterizer that renders ``factor`` x the resolution matches it by
weighting each sub-sample with the window at the sub-sample's centre; a plain box over the pixel's
own sub-samples is sharper (standard deviation 0.29 px against the window's 0.42 px), which shows on
every edge and texture. Written here because the weights are a dozen lines and no library computes
Cycles' convention.
"""

from __future__ import annotations

import math

import numpy as np

# Blackman-Harris (4-term) coefficients, as Cycles' filter_func_blackman_harris
_BLACKMAN_HARRIS = (0.35875, 0.48829, 0.14128, 0.01168)


def blackman_harris(offset: np.ndarray, width: float) -> np.ndarray:
    """Cycles' pixel filter at ``offset`` pixels from the pixel's centre (any shape), for Blender's
    ``filter_width`` ``width``: the window spans ``[-width, width]`` and is 0 outside it."""
    span = 2.0 * width
    phase = 2.0 * math.pi * (np.asarray(offset, np.float64) / span + 0.5)
    a0, a1, a2, a3 = _BLACKMAN_HARRIS
    value = a0 - a1 * np.cos(phase) + a2 * np.cos(2 * phase) - a3 * np.cos(3 * phase)
    return np.where(np.abs(offset) < width, value, 0.0)


def filter_taps(factor: int, width: float) -> tuple[int, np.ndarray]:
    """The separable weights that resolve a ``factor`` x supersampled image to one pixel:
    ``(first, weights [T])``, where tap ``k`` is the sub-sample ``first + k`` counted from the
    pixel's first sub-sample along an axis, and the weights sum to 1. ``width`` 0 is the box over
    the pixel's own ``factor`` sub-samples (``first`` 0)."""
    if factor < 1:
        raise ValueError(f"pixel filter: factor must be >= 1, got {factor}")
    if width < 0:
        raise ValueError(f"pixel filter: width must be >= 0 pixels, got {width}")
    if width == 0:
        return 0, np.full(factor, 1.0 / factor)
    reach = math.ceil(width * factor) + factor
    index = np.arange(-reach, reach + factor)
    # sub-sample centres, in pixels, from the pixel's centre
    weights = blackman_harris((index + 0.5) / factor - 0.5, width)
    kept = np.flatnonzero(weights > 0)
    index, weights = index[kept[0]: kept[-1] + 1], weights[kept[0]: kept[-1] + 1]
    return int(index[0]), weights / weights.sum()


def bilinear_fetches(first: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of neighbouring taps as one bilinear fetch each: ``(offsets [F], weights [F])``, where a
    fetch at ``offsets[k]`` sub-samples from the pixel's first sub-sample's corner (texel centres sit
    at +0.5) blends the pair in proportion to their weights. An odd last tap is fetched at its centre.
    Exact for textures whose neighbouring texels may be blended linearly (premultiplied colour)."""
    offsets, merged = [], []
    for k in range(0, len(weights), 2):
        a = float(weights[k])
        b = float(weights[k + 1]) if k + 1 < len(weights) else 0.0
        offsets.append(first + k + 0.5 + b / (a + b))
        merged.append(a + b)
    return np.array(offsets), np.array(merged)


def resolve_coverage(color: np.ndarray, covered: np.ndarray, factor: int, width: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Filter a ``factor`` x supersampled image down to pixels, as `gl`'s resolve pass does:
    ``color [H*f, W*f, C]`` straight colour of each sub-sample, ``covered [H*f, W*f]`` 1 where it
    sees the object. Returns (straight colour ``[H, W, C]``, coverage alpha ``[H, W]``): the
    premultiplied colour and the coverage filtered with :func:`filter_taps`' weights along each axis
    (beyond the border the nearest sub-sample, as a clamped texture), then made straight again."""
    first, weights = filter_taps(factor, width)
    premultiplied = np.concatenate([color * covered[..., None], covered[..., None]], -1).astype(np.float64)
    for axis in (0, 1):
        size = premultiplied.shape[axis] // factor
        start = np.arange(size) * factor + first
        out = 0.0
        for k, weight in enumerate(weights):
            index = np.clip(start + k, 0, premultiplied.shape[axis] - 1)
            out = out + weight * np.take(premultiplied, index, axis=axis)
        premultiplied = out
    alpha = premultiplied[..., -1]
    return premultiplied[..., :-1] / np.maximum(alpha, 1e-12)[..., None], alpha

"""Texel lookups on the CPU for the renderers' rays (the light bake's, the cut-outs')."""

from __future__ import annotations

import numpy as np


def nearest(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``image [H, W, ...]`` (row 0 = top = v 1) at ``uv [N, 2]``, the texel each point falls in: ``[N, ...]``."""
    h, w = image.shape[:2]
    x = np.clip((uv[:, 0] * w).astype(np.int64), 0, w - 1)
    y = np.clip(((1.0 - uv[:, 1]) * h).astype(np.int64), 0, h - 1)
    return image[y, x]

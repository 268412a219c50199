"""Noise fields and random palettes shared by the procedural texture sources."""

from __future__ import annotations

import numpy as np
from PIL import Image


def texel_coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` ``[size, size]`` float32 texel centres in [0, 1] (x along columns)."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(t, t, indexing="xy")


def value_noise(size: int, rng: np.random.Generator, cells: int, cells_y: int | None = None) -> np.ndarray:
    """Smooth noise: a random lattice of ``cells`` cells along x and ``cells_y`` (default: as many)
    along y, resized bicubically. ``[size, size]`` float32 in ~[0, 1]; unequal counts stretch it."""
    lattice = rng.random(((cells if cells_y is None else cells_y) + 1, cells + 1), dtype=np.float32)
    img = Image.fromarray(lattice, mode="F").resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def fbm(
    size: int, rng: np.random.Generator, octaves: int = 5, base_cells: int = 4, persistence: float = 0.5
) -> np.ndarray:
    """Fractal sum of value-noise octaves (doubling frequency), normalized to [0, 1]. ``[size, size]``.

    Value noise through Pillow's C resize is ~10x faster than a numpy Perlin implementation.
    """
    total = np.zeros((size, size), np.float32)
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        cells = min(base_cells * 2**k, size)
        total += amp * value_noise(size, rng, cells)
        norm += amp
        amp *= persistence
    total /= norm
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / (hi - lo + 1e-8)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """``[..., 3]`` HSV in [0, 1] to RGB in [0, 1]."""
    h, s, v = hsv[..., 0] * 6.0, hsv[..., 1], hsv[..., 2]
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack(
        [
            np.stack([v, t, p], -1),
            np.stack([q, v, p], -1),
            np.stack([p, v, t], -1),
            np.stack([p, q, v], -1),
            np.stack([t, p, v], -1),
            np.stack([v, p, q], -1),
        ]
    )
    return np.take_along_axis(table, i[None, ..., None].repeat(3, -1), 0)[0]


def random_palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n, 3]`` colours in [0, 1]: a base hue with related and contrasting hues."""
    base = rng.random()
    hues = (base + rng.choice([0.0, 0.08, -0.08, 0.5, 0.33], size=n) + rng.normal(0, 0.03, n)) % 1.0
    sat = rng.uniform(0.15, 0.9, n)
    val = rng.uniform(0.15, 0.95, n)
    return hsv_to_rgb(np.stack([hues, sat, val], -1))


def palette_lut(palette: np.ndarray, steps: int = 256) -> np.ndarray:
    """A ``[steps, 3]`` colour ramp through the palette colours."""
    x = np.linspace(0, len(palette) - 1, steps)
    return np.stack([np.interp(x, np.arange(len(palette)), palette[:, c]) for c in range(3)], -1)


def apply_lut(field: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Colour a ``[H, W]`` field in [0, 1] through a ``[K, 3]`` ramp: ``[H, W, 3]`` float."""
    idx = np.clip((field * (len(lut) - 1)).astype(np.int32), 0, len(lut) - 1)
    return lut[idx]


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def grain(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Fine per-texel luminance noise, for realistic low-level detail."""
    if strength <= 0:
        return rgb
    n = rng.normal(0.0, strength, rgb.shape[:2]).astype(np.float32)
    return rgb * (1.0 + n[..., None])

"""Procedural texture sources: fBm noise, cellular, stripes, checks, gradients and blends of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from lrmzero import ConfigError, param
from lrmzero.components import TextureSource
from lrmzero.plugins.textures.noise import (
    apply_lut,
    fbm,
    grain,
    palette_lut,
    random_palette,
    texel_coords,
    to_uint8,
)


def _finish(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    return to_uint8(grain(rgb, rng, strength))


class Fbm(TextureSource):
    """Fractal value noise coloured through a random palette ramp (stone, wood-grain-like mottling)."""

    name = "fbm"

    @dataclass
    class Config:
        octaves: int = param(5, "noise octaves", ge=1, le=10)
        base_cells: int = param(4, "lattice cells of the lowest octave", ge=1, le=64)
        colors: int = param(3, "palette colours in the ramp", ge=2, le=8)
        grain: float = param(0.04, "std of per-texel luminance noise", ge=0.0, le=0.5)

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        field = fbm(size, rng, c.octaves, int(rng.integers(1, c.base_cells + 1)))
        return _finish(apply_lut(field, palette_lut(random_palette(rng, c.colors))), rng, c.grain)


class Cellular(TextureSource):
    """Voronoi cells, each a palette colour, with darkened borders and noise (tiles, pebbles, scales)."""

    name = "cellular"

    @dataclass
    class Config:
        min_cells: int = param(8, "fewest cells per tile", ge=1, le=4096)
        max_cells: int = param(96, "most cells per tile", ge=1, le=4096)
        border: float = param(0.5, "how much cell borders darken, 0..1", ge=0.0, le=1.0)
        grain: float = param(0.04, "std of per-texel luminance noise", ge=0.0, le=0.5)

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        n = int(rng.integers(min(c.min_cells, c.max_cells), max(c.min_cells, c.max_cells) + 1))
        points = rng.random((n, 2))
        # Cells are computed at half resolution and upsampled: 4x fewer nearest-point queries.
        full, size = size, max(8, size // 2)
        # Tile the points 3x3 so that cells wrap around the tile's edges.
        offsets = np.array([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)], float)
        tiled = (points[None] + offsets[:, None]).reshape(-1, 2)
        x, y = texel_coords(size)
        dist, idx = cKDTree(tiled).query(np.stack([x.ravel(), y.ravel()], -1), k=2)
        cell = (idx[:, 0] % n).reshape(size, size)
        edge = np.clip((dist[:, 1] - dist[:, 0]) * np.sqrt(n) * 4.0, 0, 1).reshape(size, size)
        colors = random_palette(rng, 4)[rng.integers(0, 4, n)]
        colors = colors * rng.uniform(0.8, 1.2, (n, 1))
        rgb = colors[cell] * (1.0 - c.border * (1.0 - edge))[..., None]
        rgb = rgb * (0.85 + 0.3 * fbm(size, rng, 4, 8))[..., None]
        up = Image.fromarray(to_uint8(rgb)).resize((full, full), Image.BICUBIC)
        return _finish(np.asarray(up, np.float32) / 255.0, rng, c.grain)


class Stripes(TextureSource):
    """Bands along a random direction, their phase warped by noise (fabric, wood, layered rock)."""

    name = "stripes"

    @dataclass
    class Config:
        min_frequency: float = param(2.0, "fewest bands per tile", gt=0.0)
        max_frequency: float = param(24.0, "most bands per tile", gt=0.0)
        warp: float = param(0.6, "phase warp by noise, in band widths", ge=0.0, le=10.0)
        grain: float = param(0.04, "std of per-texel luminance noise", ge=0.0, le=0.5)

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        freq = rng.uniform(min(c.min_frequency, c.max_frequency), max(c.min_frequency, c.max_frequency))
        angle = rng.uniform(0, np.pi)
        x, y = texel_coords(size)
        phase = (x * np.cos(angle) + y * np.sin(angle)) * freq
        phase = phase + c.warp * rng.uniform(0, 1) * (fbm(size, rng, 3, 3) - 0.5) * 2.0
        sharp = rng.uniform(0.5, 8.0)
        field = 0.5 + 0.5 * np.tanh(sharp * np.sin(2 * np.pi * phase))
        palette = random_palette(rng, 2)
        rgb = palette[0] * (1 - field[..., None]) + palette[1] * field[..., None]
        return _finish(rgb.astype(np.float32), rng, c.grain)


class Checker(TextureSource):
    """Checks of a random count and rotation with jittered edges and per-check tint."""

    name = "checker"

    @dataclass
    class Config:
        min_checks: int = param(2, "fewest checks along a side", ge=1, le=256)
        max_checks: int = param(16, "most checks along a side", ge=1, le=256)
        jitter: float = param(0.15, "edge jitter, in check widths", ge=0.0, le=1.0)
        grain: float = param(0.04, "std of per-texel luminance noise", ge=0.0, le=0.5)

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        n = int(rng.integers(min(c.min_checks, c.max_checks), max(c.min_checks, c.max_checks) + 1))
        angle = rng.uniform(0, np.pi / 2)
        x, y = texel_coords(size)
        u = (x * np.cos(angle) - y * np.sin(angle)) * n
        v = (x * np.sin(angle) + y * np.cos(angle)) * n
        u = u + c.jitter * (fbm(size, rng, 3, 4) - 0.5) * 2
        v = v + c.jitter * (fbm(size, rng, 3, 4) - 0.5) * 2
        parity = (np.floor(u) + np.floor(v)).astype(np.int64) % 2
        palette = random_palette(rng, 2)
        rgb = palette[parity]
        tint = 0.9 + 0.2 * fbm(size, rng, 2, n)
        return _finish((rgb * tint[..., None]).astype(np.float32), rng, c.grain)


class Gradient(TextureSource):
    """Linear or radial ramp through random colours, modulated by soft noise."""

    name = "gradient"

    @dataclass
    class Config:
        colors: int = param(3, "palette colours in the ramp", ge=2, le=8)
        noise: float = param(0.15, "noise added to the ramp position", ge=0.0, le=1.0)
        grain: float = param(0.03, "std of per-texel luminance noise", ge=0.0, le=0.5)

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg
        x, y = texel_coords(size)
        if rng.random() < 0.5:
            angle = rng.uniform(0, 2 * np.pi)
            t = x * np.cos(angle) + y * np.sin(angle)
        else:
            cx, cy = rng.random(2)
            t = np.hypot(x - cx, y - cy)
        t = t + c.noise * fbm(size, rng, 4, 4)
        t = (t - t.min()) / (t.max() - t.min() + 1e-8)
        rgb = apply_lut(t, palette_lut(random_palette(rng, c.colors)))
        return _finish(rgb.astype(np.float32), rng, c.grain)


class Blend(TextureSource):
    """Two other texture sources mixed through a soft noise mask (weathered, layered looks). The
    sources are the run's own instances, configured as the user set them (``textures.<name>``)."""

    name = "blend"

    @dataclass
    class Config:
        sources: List[str] = param(
            ["fbm", "cellular", "stripes", "checker", "gradient"], "texture sources to mix (two drawn)",
            nonempty=True, names_of="textures",
        )
        sharpness: float = param(6.0, "mask contrast; higher gives crisper patches", gt=0.0, le=100.0)

        def check(self) -> None:
            if "blend" in self.sources:
                raise ConfigError(f"textures.blend.sources: got {self.sources!r}; allowed: other texture "
                                  "sources than blend itself")

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self._sources: list[TextureSource] = []

    def use_components(self, components) -> None:
        """Take the run's instances of ``sources`` (the contract's ``Component.use_components``)."""
        self._sources = [components["textures"][name] for name in self.cfg.sources]

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        if not self._sources:
            raise RuntimeError("textures.blend: use_components() was not called with the run's textures")
        i, j = rng.integers(0, len(self._sources), 2)
        a = self._sources[i].paint(size, rng).astype(np.float32)
        b = self._sources[j].paint(size, rng).astype(np.float32)
        mask = 0.5 + 0.5 * np.tanh(self.cfg.sharpness * (fbm(size, rng, 4, 3) - 0.5))
        return to_uint8((a * (1 - mask[..., None]) + b * mask[..., None]) / 255.0)

"""`pbr`: procedural PBR materials that read like real ones: wood and planks, stone and marble,
brick and tiles, concrete and plaster, woven fabric, leather, brushed, painted and rusted metal,
plastic. Each family paints base colour, roughness, metallic and a height field (turned into a
tangent-space normal map) with detail at several scales, in natural palettes (mostly low to
medium saturation, now and then a saturated paint).

Written by hand: no maintained library generates PBR material sets procedurally in numpy.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

from lrmzero import ConfigError, param
from lrmzero.components import Material, TextureSource
from lrmzero.plugins.textures import noise
from lrmzero.plugins.textures.library import MaterialLibrary, default_cache_dir, source_fingerprint
from lrmzero.plugins.textures.noise import fbm, hsv_to_rgb, texel_coords, to_uint8, value_noise

Maps = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # base [S,S,3], rough, metal, height [S,S]


def hsv(h: float, s: float, v: float) -> np.ndarray:
    return hsv_to_rgb(np.array([h % 1.0, np.clip(s, 0, 1), np.clip(v, 0, 1)])).astype(np.float32)


def paint_colour(rng: np.random.Generator, saturated_probability: float) -> np.ndarray:
    """A paint or plastic colour: usually muted (saturation 0.05-0.45), sometimes vivid."""
    vivid = rng.random() < saturated_probability
    return hsv(rng.random(), rng.uniform(0.55, 0.9) if vivid else rng.uniform(0.05, 0.45), rng.uniform(0.25, 0.9))


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-texel blend of colours ``a``, ``b`` (``[3]`` or ``[S, S, 3]``) by ``t [S, S]``, in float32."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    t = np.asarray(t, np.float32)[..., None]
    return a + (b - a) * t


def rotate(field_xy: tuple[np.ndarray, np.ndarray], angle: float) -> tuple[np.ndarray, np.ndarray]:
    x, y = field_xy
    c, s = np.cos(angle), np.sin(angle)
    return x * c - y * s, x * s + y * c


def wood(size, rng, _) -> Maps:
    x, y = rotate(texel_coords(size), rng.uniform(0, np.pi))
    cx, cy = rng.uniform(-2, 2, 2)
    r = np.hypot((x - cx) * rng.uniform(0.05, 0.3), y - cy)  # stretched rings: grain along x
    warp = fbm(size, rng, 4, 3)
    rings = (r * rng.uniform(8, 25) + 1.5 * warp) % 1.0
    late = np.clip((rings - 0.55) / 0.45, 0, 1) ** 1.5  # dark late wood at each ring's end
    fibres = value_noise(size, rng, 8, 160)
    light = hsv(rng.uniform(0.05, 0.1), rng.uniform(0.35, 0.6), rng.uniform(0.45, 0.8))
    dark = light * rng.uniform(0.45, 0.7)
    base = mix(light, dark, np.clip(0.75 * late + 0.35 * (fibres - 0.5), 0, 1))
    base *= (0.9 + 0.2 * fbm(size, rng, 3, 2))[..., None]
    rough = 0.55 + 0.25 * late + 0.1 * fibres
    return base, rough, np.zeros_like(rough), 0.6 * late + 0.4 * fibres


def planks(size, rng, ctx) -> Maps:
    base, rough, metal, height = wood(size, rng, ctx)
    x, y = texel_coords(size)
    rows = int(rng.integers(3, 9))
    row = np.floor(y * rows).astype(int)
    shift = rng.random(rows)[row]
    length = rng.uniform(0.4, 1.0)
    col = np.floor((x + shift) / length).astype(int)
    board = (row * 97 + col * 31) % 13
    tint = np.asarray(rng.uniform(0.75, 1.15, 13), np.float32)[board]
    gap_y = np.abs((y * rows) % 1.0 - 0.5) > 0.47
    gap_x = np.abs(((x + shift) / length) % 1.0 - 0.5) > 0.5 - 0.012 / length
    gap = (gap_y | gap_x).astype(np.float32)
    base = base * tint[..., None] * (1 - 0.7 * gap[..., None])
    return base, np.clip(rough + 0.2 * gap, 0, 1), metal, height * (1 - gap) * 0.7 + 0.3 * (1 - gap)


def stone(size, rng, _) -> Maps:
    coarse = fbm(size, rng, 6, int(rng.integers(2, 6)))
    ridges = 1 - np.abs(2 * fbm(size, rng, 5, int(rng.integers(3, 8))) - 1)
    speck = fbm(size, rng, 2, size // 4)
    base_colour = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.03, 0.25), rng.uniform(0.35, 0.7))
    other = base_colour * rng.uniform(0.6, 1.3) + rng.normal(0, 0.03, 3)
    base = mix(base_colour, other, coarse) * (0.8 + 0.3 * speck)[..., None] * (0.85 + 0.2 * ridges)[..., None]
    rough = 0.75 + 0.2 * speck
    return base, rough, np.zeros_like(rough), 0.5 * coarse + 0.3 * ridges + 0.2 * speck


def marble(size, rng, _) -> Maps:
    x, y = rotate(texel_coords(size), rng.uniform(0, np.pi))
    turbulence = fbm(size, rng, 6, 3)
    veins = np.abs(np.sin((x * rng.uniform(2, 6) + 4.0 * turbulence) * np.pi)) ** rng.uniform(0.15, 0.5)
    kind = rng.random()
    if kind < 0.6:  # white and grey
        ground, vein = hsv(0.1, 0.03, rng.uniform(0.8, 0.95)), hsv(0.6, 0.05, rng.uniform(0.2, 0.5))
    elif kind < 0.8:  # dark with light veins
        ground, vein = hsv(rng.random(), 0.1, rng.uniform(0.08, 0.2)), hsv(0.1, 0.05, 0.85)
    else:  # green or rose
        h = rng.choice([0.35, 0.98])
        ground, vein = hsv(h, rng.uniform(0.2, 0.45), rng.uniform(0.35, 0.7)), hsv(h, 0.1, 0.9)
    base = mix(vein, ground, veins) * (0.95 + 0.1 * fbm(size, rng, 3, 8))[..., None]
    rough = 0.08 + 0.15 * fbm(size, rng, 3, 6)
    return base, rough, np.zeros_like(rough), 0.15 * veins


def _grid(size, rng, rows: int, cols: int, running_bond: bool, mortar: float):
    """(cell id [S,S], inside-cell distance to the joint in cell heights [S,S])."""
    x, y = texel_coords(size)
    ry = y * rows
    row = np.floor(ry).astype(int)
    rx = x * cols + (0.5 * (row % 2) if running_bond else 0.0)
    col = np.floor(rx).astype(int)
    fy, fx = ry - row, rx - col
    edge = np.minimum(np.minimum(fy, 1 - fy), np.minimum(fx, 1 - fx) * rows / cols)
    return row * 1009 + col, edge


def brick(size, rng, _) -> Maps:
    rows = int(rng.integers(6, 16))
    cell, edge = _grid(size, rng, rows, max(2, rows // 3), True, 0.08)
    mortar = np.clip((0.07 - edge) / 0.03, 0, 1) * (0.85 + 0.3 * fbm(size, rng, 3, 16))
    mortar = np.clip(mortar, 0, 1)
    h = rng.uniform(0.0, 0.07)
    colours = np.stack([hsv(h + rng.normal(0, 0.015), rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.65)) for _ in range(17)])
    brick_colour = colours[cell % 17] * (0.8 + 0.35 * fbm(size, rng, 5, 8))[..., None]
    mortar_colour = hsv(0.1, 0.05, rng.uniform(0.55, 0.8))
    base = mix(brick_colour, mortar_colour, mortar)
    rough = 0.8 + 0.15 * mortar
    pits = fbm(size, rng, 2, size // 6)
    return base, rough, np.zeros_like(rough), (1 - mortar) * (0.8 + 0.2 * pits)


def tiles(size, rng, ctx) -> Maps:
    n = int(rng.integers(3, 12))
    cell, edge = _grid(size, rng, n, n, False, 0.05)
    grout = np.clip((0.04 - edge) / 0.015, 0, 1)
    colour = paint_colour(rng, ctx.saturated_probability)
    variation = np.asarray(rng.uniform(0.85, 1.1, 23), np.float32)[cell % 23]
    glaze = colour * variation[..., None] * (0.95 + 0.08 * fbm(size, rng, 4, 4))[..., None]
    base = mix(glaze, hsv(0.1, 0.05, rng.uniform(0.3, 0.75)), grout)
    rough = 0.12 + 0.2 * rng.random() + 0.7 * grout
    bevel = np.clip(edge / 0.08, 0, 1)
    return base, rough, np.zeros_like(rough), (1 - grout) * (0.6 + 0.4 * bevel)


def concrete(size, rng, _) -> Maps:
    big = fbm(size, rng, 5, 3)
    fine = fbm(size, rng, 3, size // 8)
    pits = (fbm(size, rng, 2, size // 5) > rng.uniform(0.8, 0.9)).astype(np.float32)
    grey = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.12), rng.uniform(0.45, 0.75))
    base = grey * (0.8 + 0.25 * big + 0.1 * fine)[..., None] * (1 - 0.35 * pits[..., None])
    rough = 0.85 + 0.1 * fine
    return base, rough, np.zeros_like(rough), 0.4 * big + 0.4 * fine - 0.5 * pits


def plaster(size, rng, ctx) -> Maps:
    strokes = value_noise(size, rng, int(rng.integers(3, 10)), int(rng.integers(3, 10)))
    fine = fbm(size, rng, 4, 16)
    colour = paint_colour(rng, ctx.saturated_probability * 0.5) * 0.4 + hsv(0.1, 0.08, 0.85) * 0.6
    base = colour * (0.88 + 0.12 * strokes + 0.06 * fine)[..., None]
    rough = 0.8 + 0.15 * fine
    return base, rough, np.zeros_like(rough), 0.7 * strokes + 0.3 * fine


def fabric(size, rng, ctx) -> Maps:
    x, y = rotate(texel_coords(size), rng.choice([0.0, np.pi / 4, np.pi / 2]))
    threads = rng.uniform(60, 160)
    u, v = x * threads, y * threads
    over = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)  # plain weave: warp over weft
    warp_profile = np.sin(np.pi * (v % 1.0)) ** 0.5
    weft_profile = np.sin(np.pi * (u % 1.0)) ** 0.5
    height = over * warp_profile + (1 - over) * weft_profile
    colour = paint_colour(rng, ctx.saturated_probability)
    second = colour if rng.random() < 0.6 else paint_colour(rng, ctx.saturated_probability)
    base = mix(colour, second, over) * (0.7 + 0.3 * height)[..., None]
    base *= (0.9 + 0.15 * fbm(size, rng, 4, 4))[..., None]
    if rng.random() < 0.3:  # a printed or woven check
        checks = ((np.floor(x * rng.integers(3, 10)) + np.floor(y * rng.integers(3, 10))) % 2).astype(np.float32)
        base = mix(base, base * 0.6, checks)
    rough = 0.9 + 0.08 * height
    return base, rough, np.zeros_like(rough), height


def leather(size, rng, _) -> Maps:
    n = int(rng.integers(300, 1200))
    points = rng.random((n, 2))
    offsets = np.array([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)], float)
    tree = cKDTree((points[None] + offsets[:, None]).reshape(-1, 2))
    half = max(8, size // 2)
    x, y = texel_coords(half)
    d, _ = tree.query(np.stack([x.ravel(), y.ravel()], -1), k=2)
    crease = np.clip((d[:, 1] - d[:, 0]) * np.sqrt(n) * 3, 0, 1).reshape(half, half)
    crease = np.asarray(Image.fromarray(crease.astype(np.float32), mode="F").resize((size, size), Image.BICUBIC))
    colour = hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.5))
    if rng.random() < 0.2:
        colour = hsv(0.0, 0.0, rng.uniform(0.04, 0.12))  # black
    base = colour * (0.75 + 0.25 * crease + 0.15 * fbm(size, rng, 4, 5))[..., None]
    rough = 0.45 + 0.3 * (1 - crease)
    return base, rough, np.zeros_like(rough), crease


METALS = {"steel": (0.6, 0.0, 0.55), "aluminium": (0.58, 0.02, 0.8), "gold": (0.12, 0.6, 0.9),
          "copper": (0.06, 0.55, 0.85), "brass": (0.13, 0.45, 0.8), "iron": (0.6, 0.02, 0.45)}


def _metal_colour(rng) -> np.ndarray:
    h, s, v = METALS[list(METALS)[int(rng.integers(len(METALS)))]]
    return hsv(h, s, v)


def brushed_metal(size, rng, _) -> Maps:
    x, y = rotate(texel_coords(size), rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.05))
    brush = value_noise(size, rng, 4, int(rng.integers(200, 400)))
    smudge = fbm(size, rng, 4, 3)
    base = _metal_colour(rng) * (0.9 + 0.1 * brush + 0.05 * smudge)[..., None] * np.ones((size, size, 1))
    rough = 0.2 + 0.2 * brush + 0.15 * smudge
    return base, rough, np.ones_like(rough), 0.3 * brush


def painted_metal(size, rng, ctx) -> Maps:
    paint = paint_colour(rng, ctx.saturated_probability)
    wear = fbm(size, rng, 6, int(rng.integers(3, 8)))
    chipped = (wear > rng.uniform(0.7, 0.95)).astype(np.float32)
    metal = _metal_colour(rng) * 0.8
    base = mix(paint * (0.92 + 0.1 * fbm(size, rng, 3, 12))[..., None], metal, chipped)
    rough = (0.35 + 0.25 * rng.random()) * (1 - chipped) + 0.45 * chipped
    return base, rough, chipped, 1 - chipped


def rusted_metal(size, rng, _) -> Maps:
    rust_amount = fbm(size, rng, 6, int(rng.integers(2, 6)))
    rust = np.clip((rust_amount - rng.uniform(0.3, 0.6)) / 0.2, 0, 1)
    spots = fbm(size, rng, 3, size // 8)
    rust_colour = mix(hsv(0.05, 0.7, 0.35), hsv(0.07, 0.75, 0.6), spots)
    metal = _metal_colour(rng) * 0.7
    base = mix(np.broadcast_to(metal, rust_colour.shape), rust_colour, rust)
    rough = 0.35 * (1 - rust) + 0.9 * rust
    return base, rough, 1 - rust, rust * (0.5 + 0.5 * spots)


def plastic(size, rng, ctx) -> Maps:
    colour = paint_colour(rng, ctx.saturated_probability * 2)
    subtle = fbm(size, rng, 4, 6)
    base = colour * (0.95 + 0.06 * subtle)[..., None] * np.ones((size, size, 1))
    rough = np.full((size, size), rng.uniform(0.15, 0.6), np.float32) + 0.05 * subtle
    texture = 0.15 * fbm(size, rng, 2, size // 4) if rng.random() < 0.4 else 0 * subtle  # a moulded grain
    return base, rough, np.zeros_like(rough), texture


FAMILIES: dict[str, Callable] = {
    "wood": wood, "planks": planks, "stone": stone, "marble": marble, "brick": brick, "tiles": tiles,
    "concrete": concrete, "plaster": plaster, "fabric": fabric, "leather": leather,
    "brushed_metal": brushed_metal, "painted_metal": painted_metal, "rusted_metal": rusted_metal,
    "plastic": plastic,
}


def height_to_normal(height: np.ndarray, strength: float) -> np.ndarray:
    """Tangent-space normals ``[S, S, 3]`` in [-1, 1] of a height field ``[S, S]`` (row 0 at the top,
    so +v is up the rows): ``normalize(-dh/du, -dh/dv, 1)`` with ``strength`` height per tile."""
    size = height.shape[0]
    dh_dv, dh_du = np.gradient(height * strength * size)  # per texel; rows grow downwards (-v)
    n = np.stack([-dh_du, dh_dv, np.ones_like(height)], -1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


class PBRMaterials(TextureSource):
    """Procedural PBR materials (base colour, roughness, metallic, normal) from the families in
    ``families``; see the module docstring."""

    name = "pbr"

    @dataclass
    class Config:
        families: List[str] = param(list(FAMILIES), "material families drawn from", nonempty=True,
                                    choices=list(FAMILIES))
        family_weights: Optional[List[float]] = param(None, "weight of each family (null: uniform)")
        saturated_probability: float = param(0.15, "chance that a paint, plastic or fabric colour is vivid",
                                             ge=0.0, le=1.0)
        bump: float = param(0.004, "height of the relief (normal map), in tile sides", ge=0.0, le=0.1)
        library: int = param(512, "draw from a fixed library of this many materials, each painted once and "
                             "kept in cache_dir (~2 MB each at 512 px; as the official objects draw from "
                             "MatSynth's fixed set); 0: paint a new material for every draw", ge=0)
        cache_dir: Optional[str] = param(None, "folder of the library's materials (null: $LRMZERO_CACHE/materials, "
                                         "$XDG_CACHE_HOME/lrmzero/materials or ~/.cache/lrmzero/materials)")

        def check(self) -> None:
            w = self.family_weights
            if w is not None and (len(w) != len(self.families) or sum(w) <= 0 or min(w) < 0):
                raise ConfigError(f"textures.pbr.family_weights: got {w!r} for families {self.families}; "
                                  "allowed: one non-negative weight per family with a positive sum, or null")

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self.cfg.check()
        w = np.ones(len(self.cfg.families)) if self.cfg.family_weights is None else np.asarray(self.cfg.family_weights, float)
        self.weights = w / w.sum()
        self.libraries: dict[int, MaterialLibrary] = {}

    def paint_material(self, size: int, rng: np.random.Generator) -> Material:
        """A material from the library (``library`` > 0), else a new one from ``rng``."""
        if not self.cfg.library:
            return self.paint_new(size, rng)
        if size not in self.libraries:
            c = self.cfg
            settings = (c.families, c.family_weights, c.saturated_probability, c.bump, size)
            code = [inspect.getsource(sys.modules[m]) for m in (__name__, noise.__name__)]
            folder = Path(c.cache_dir) if c.cache_dir else default_cache_dir()
            folder = folder / f"pbr-{source_fingerprint(settings, code)}"
            self.libraries[size] = MaterialLibrary(lambda r: self.paint_new(size, r), c.library, folder)
        return self.libraries[size].draw(rng)

    def paint_new(self, size: int, rng: np.random.Generator) -> Material:
        """A new material painted from ``rng``."""
        family = self.cfg.families[int(rng.choice(len(self.cfg.families), p=self.weights))]
        base, rough, metal, height = FAMILIES[family](size, rng, self.cfg)
        normal = height_to_normal(np.asarray(height, np.float32), self.cfg.bump)
        return Material(to_uint8(np.broadcast_to(base, (size, size, 3))), to_uint8(rough), to_uint8(metal),
                        to_uint8(normal * 0.5 + 0.5))

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return self.paint_material(size, rng).base_color

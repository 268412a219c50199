"""Elliptic torus about the z axis (one surface)."""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import revolve, unit_circle


class Torus(Primitive):
    """Torus about z filling ``[-a, a] x [-b, b] x [-c, c]``.

    In unit units the tube radius is ``r`` (drawn from ``[tube_min, tube_max]``) and the major
    radius ``1 - r``, so the outer rim has radius 1; x and y are then scaled by a and b, and z so
    that the tube's height is ``c``. Surface 0: the whole shell (u around z, v around the tube).
    """

    name = "torus"
    surfaces = ("shell",)

    @dataclass
    class Config:
        segments: int = param(100, "segments around the z axis", ge=3, le=4096)
        tube_segments: int = param(50, "segments around the tube", ge=3, le=1024)
        tube_min: float = param(0.15, "smallest tube radius, as a fraction of the outer radius", gt=0.0, lt=0.5)
        tube_max: float = param(0.45, "largest tube radius, as a fraction of the outer radius", gt=0.0, lt=0.5)

    def coarse(self, segments: int) -> "Torus":
        """The same torus with ``segments`` segments around (a wireframe base)."""
        return type(self)(dataclasses.replace(self.cfg, segments=segments, tube_segments=max(3, segments // 2)))

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        a, b, c = (float(s) for s in size)
        cfg = self.cfg
        lo, hi = sorted((cfg.tube_min, cfg.tube_max))
        r = float(rng.uniform(lo, hi))
        major = 1.0 - r
        cos, sin = unit_circle(cfg.tube_segments)
        v, f, uv = revolve(major + r * cos, c * sin, cfg.segments, (a, b))
        surface = np.zeros(len(f), np.int32)
        params = {"half_axes": [a, b, c], "tube_ratio": r, "segments": cfg.segments}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        a, b, c = mesh.params["half_axes"]
        r = mesh.params["tube_ratio"]
        return float(2.0 * np.pi**2 * (1.0 - r) * r * a * b * c)

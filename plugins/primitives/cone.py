"""Elliptic cone: a revolved side narrowing to an apex and a base disk."""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import disk, merge_patches, revolve


class Cone(Primitive):
    """Cone along z: base ellipse ``(a, b)`` at ``z = -c``, apex at ``z = +c``.

    Surfaces: 0 side (u around, v from base to apex), 1 base (-z, planar UVs).
    """

    name = "cone"
    surfaces = ("side", "base")

    @dataclass
    class Config:
        segments: int = param(150, "segments around the axis", ge=3, le=4096)
        rows: int = param(32, "segments along the side, base to apex", ge=1, le=1024)
        cap_rings: int = param(16, "concentric rings on the base", ge=1, le=1024)

    def coarse(self, segments: int) -> "Cone":
        """The same cone with ``segments`` segments around (a wireframe base)."""
        return type(self)(dataclasses.replace(self.cfg, segments=segments, rows=1, cap_rings=1))

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        a, b, c = (float(s) for s in size)
        cfg = self.cfg
        t = np.linspace(0.0, 1.0, cfg.rows + 1)
        radius = 1.0 - t
        radius[-1] = 0.0
        side = revolve(radius, -c + 2.0 * c * t, cfg.segments, (a, b))
        base = disk(-c, cfg.segments, cfg.cap_rings, (a, b), up=False)
        v, f, uv, surface = merge_patches([side, base], [0, 1])
        params = {"radii": [a, b], "half_height": c, "segments": cfg.segments}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        a, b = mesh.params["radii"]
        return float(np.pi * a * b * 2.0 * mesh.params["half_height"] / 3.0)

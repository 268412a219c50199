"""Elliptic cylinder: a revolved side and two capping disks."""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import disk, merge_patches, revolve


class Cylinder(Primitive):
    """Cylinder along z with elliptic section ``(a, b)`` and half-height ``c``.

    Surfaces: 0 side (u around, ``uv_wraps`` times; v up), 1 top cap (+z), 2 bottom cap (-z); caps
    have planar UVs.
    """

    name = "cylinder"
    surfaces = ("side", "top", "bottom")

    @dataclass
    class Config:
        segments: int = param(150, "segments around the axis", ge=3, le=4096)
        rows: int = param(32, "segments along the side, bottom to top", ge=1, le=1024)
        cap_rings: int = param(16, "concentric rings on each cap", ge=1, le=1024)
        uv_wraps: int = param(2, "times the texture goes around the side (Zeroverse: 2)", ge=1, le=16)

    def coarse(self, segments: int) -> "Cylinder":
        """The same cylinder with ``segments`` segments around (a wireframe base)."""
        return type(self)(dataclasses.replace(self.cfg, segments=segments, rows=1, cap_rings=1))

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        a, b, c = (float(s) for s in size)
        cfg = self.cfg
        z = np.linspace(-c, c, cfg.rows + 1)
        segments = -(-cfg.segments // cfg.uv_wraps) * cfg.uv_wraps  # the caps' rim matches the side's
        side = revolve(np.ones_like(z), z, segments, (a, b), wraps=cfg.uv_wraps)
        top = disk(c, segments, cfg.cap_rings, (a, b), up=True)
        bottom = disk(-c, segments, cfg.cap_rings, (a, b), up=False)
        v, f, uv, surface = merge_patches([side, top, bottom], [0, 1, 2])
        params = {"radii": [a, b], "half_height": c, "segments": cfg.segments}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        a, b = mesh.params["radii"]
        return float(np.pi * a * b * 2.0 * mesh.params["half_height"])

"""Capsule: a cylinder with half-ellipsoid caps, built with lrmzero.geometry.revolve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import revolve


class Capsule(Primitive):
    """Capsule along z filling ``[-a, a] x [-b, b] x [-c, c]``; each cap takes ``cap_fraction``
    of the half-height. Surface 0: the whole shell (u around z, v bottom to top)."""

    name = "capsule"
    surfaces = ("shell",)

    @dataclass
    class Config:
        segments: int = param(96, "segments around the axis", ge=3, le=4096)
        cap_rings: int = param(16, "rings on each cap, equator to pole", ge=1, le=1024)
        side_rows: int = param(16, "rows along the straight side", ge=1, le=1024)
        cap_fraction: float = param(0.4, "share of the half-height taken by each cap", gt=0.0, le=1.0)

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        a, b, c = (float(s) for s in size)
        cfg = self.cfg
        h = cfg.cap_fraction * c
        phi = np.linspace(-np.pi / 2, 0.0, cfg.cap_rings + 1)
        bottom_r, bottom_z = np.cos(phi), -c + h + h * np.sin(phi)
        side_z = np.linspace(-c + h, c - h, cfg.side_rows + 1)[1:-1]
        top_r, top_z = bottom_r[::-1], -bottom_z[::-1]
        radius = np.concatenate([bottom_r, np.ones_like(side_z), top_r])
        z = np.concatenate([bottom_z, side_z, top_z])
        radius[0] = radius[-1] = 0.0  # exact poles
        v, f, uv = revolve(radius, z, cfg.segments, (a, b))
        surface = np.zeros(len(f), np.int32)
        params = {"half_axes": [a, b, c], "cap_height": h}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        a, b, c = mesh.params["half_axes"]
        h = mesh.params["cap_height"]
        return float(np.pi * a * b * 2.0 * (c - h) + 2.0 * (2.0 / 3.0) * np.pi * a * b * h)

"""Ellipsoid as a latitude/longitude grid (one surface)."""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import revolve


class Sphere(Primitive):
    """Ellipsoid with half-axes ``(a, b, c)``. Surface 0: the whole shell (u: longitude, ``uv_wraps``
    times around; v: latitude)."""

    name = "sphere"
    surfaces = ("shell",)

    @dataclass
    class Config:
        segments: int = param(100, "segments around the z axis (longitude)", ge=3, le=2048)
        rings: int = param(50, "segments from pole to pole (latitude)", ge=2, le=1024)
        uv_wraps: int = param(2, "times the texture goes around (Zeroverse: 2)", ge=1, le=16)

    def coarse(self, segments: int) -> "Sphere":
        """The same sphere with ``segments`` segments around (a wireframe base)."""
        return type(self)(dataclasses.replace(self.cfg, segments=segments, rings=max(2, segments // 2)))

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        a, b, c = (float(s) for s in size)
        phi = np.linspace(-np.pi / 2, np.pi / 2, self.cfg.rings + 1)
        radius = np.cos(phi)
        radius[0] = radius[-1] = 0.0
        z = c * np.sin(phi)
        z[0], z[-1] = -c, c
        v, f, uv = revolve(radius, z, self.cfg.segments, (a, b), wraps=self.cfg.uv_wraps)
        surface = np.zeros(len(f), np.int32)
        params = {"half_axes": [a, b, c], "segments": self.cfg.segments, "rings": self.cfg.rings}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        return float(4.0 / 3.0 * np.pi * np.prod(mesh.params["half_axes"]))

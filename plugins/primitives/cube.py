"""Cuboid with per-axis half-sizes: six separate grids, one UV square and one surface per face."""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import Primitive
from lrmzero.geometry import merge_patches, plane_patch

# (axis, sign) of each surface id, in order: +x, -x, +y, -y, +z, -z.
FACES = ((0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1))


class Cube(Primitive):
    """Cuboid ``[-a, a] x [-b, b] x [-c, c]``. Surfaces 0..5: +x, -x, +y, -y, +z, -z."""

    name = "cube"
    surfaces = ("+x", "-x", "+y", "-y", "+z", "-z")

    @dataclass
    class Config:
        segments: int = param(50, "grid cells along each side of each face", ge=1, le=1024)

    def coarse(self, segments: int) -> "Cube":
        """The same cube with one cell per face side (a wireframe base: its 12 edges)."""
        return type(self)(dataclasses.replace(self.cfg, segments=1))

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        size = np.asarray(size, float)
        n = self.cfg.segments
        patches = []
        for axis, sign in FACES:
            e1, e2 = (axis + 1) % 3, (axis + 2) % 3
            if sign < 0:
                e1, e2 = e2, e1
            origin = -size.copy()
            origin[axis] = sign * size[axis]
            du = np.zeros(3)
            dv = np.zeros(3)
            du[e1] = 2 * size[e1]
            dv[e2] = 2 * size[e2]
            patches.append(plane_patch(origin, du, dv, n, n))
        v, f, uv, surface = merge_patches(patches, list(range(6)))
        params = {"half_size": size.tolist(), "segments": n}
        return PartMesh(v, f, uv, surface, surface.copy(), kind=self.name, params=params)

    def analytic_volume(self, mesh: PartMesh) -> float:
        return float(8.0 * np.prod(mesh.params["half_size"]))

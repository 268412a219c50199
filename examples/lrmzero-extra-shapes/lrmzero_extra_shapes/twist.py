"""Twist: rotate the object about the world z axis by an angle growing linearly with height."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, param
from lrmzero.components import AugmentContext, Augmentation
from lrmzero.mesh import bounds


def twist_vertices(vertices: np.ndarray, angle_deg: float, z_min: float, z_max: float) -> np.ndarray:
    """Rotate each vertex about z by ``angle * (z - z_min) / (z_max - z_min)`` (volume preserving)."""
    t = (vertices[:, 2] - z_min) / max(z_max - z_min, 1e-12)
    theta = np.radians(angle_deg) * t
    c, s = np.cos(theta), np.sin(theta)
    out = vertices.copy()
    out[:, 0] = c * vertices[:, 0] - s * vertices[:, 1]
    out[:, 1] = s * vertices[:, 0] + c * vertices[:, 1]
    return out


class Twist(Augmentation):
    """Twist the whole object about z by U(-max_angle_deg, max_angle_deg) from bottom to top.

    Every horizontal slice is rotated rigidly, so closed parts stay closed and volumes are kept.
    """

    name = "twist"

    @dataclass
    class Config:
        probability: float = param(0.5, "chance that an object is twisted", ge=0.0, le=1.0)
        max_angle_deg: float = param(90.0, "largest twist from bottom to top", ge=0.0, le=720.0)

    def apply(self, parts: list[PartMesh], rng: np.random.Generator, context: AugmentContext):
        angle = float(rng.uniform(-self.cfg.max_angle_deg, self.cfg.max_angle_deg))
        lo, hi = bounds(parts)
        out = [p.copy(vertices=twist_vertices(p.vertices, angle, lo[2], hi[2])) for p in parts]
        return out, {"angle_deg": angle}

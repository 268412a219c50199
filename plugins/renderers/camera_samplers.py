"""Camera samplers: Zeroverse's random views, uniform views on a sphere, and evenly spaced orbits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from lrmzero import param
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.components import CameraSampler


def _cameras(eyes: np.ndarray, width: int, height: int, fov_deg: float) -> Cameras:
    K = np.repeat(intrinsics_from_fov(width, height, fov_deg)[None], len(eyes), axis=0)
    return Cameras(look_at(eyes), K, width, height)


class ZeroverseCameras(CameraSampler):
    """Zeroverse's views: direction U(-1, 1)^3 normalized (not uniform on the sphere), radius
    U(radius_min, radius_max), kept only if z_min < camera z < z_max; looking at the origin."""

    name = "zeroverse"

    @dataclass
    class Config:
        fov_deg: float = param(50.0, "horizontal field of view", gt=0.0, lt=180.0)
        radius_min: float = param(1.5, "nearest camera distance from the origin", gt=0.0)
        radius_max: float = param(2.8, "farthest camera distance from the origin", gt=0.0)
        z_min: float = param(-0.75, "lowest camera height (Z up)")
        z_max: float = param(1.6, "highest camera height (Z up)")

    def sample(self, views: int, width: int, height: int, rng: np.random.Generator) -> Cameras:
        c = self.cfg
        eyes = []
        for _ in range(10000 * max(1, views)):
            d = rng.uniform(-1.0, 1.0, 3)
            n = np.linalg.norm(d)
            if n < 1e-6:
                continue
            eye = d / n * rng.uniform(min(c.radius_min, c.radius_max), max(c.radius_min, c.radius_max))
            if c.z_min < eye[2] < c.z_max:
                eyes.append(eye)
                if len(eyes) == views:
                    break
        if len(eyes) < views:
            raise ValueError(
                f"camera_samplers.zeroverse: no camera heights between z_min={c.z_min} and "
                f"z_max={c.z_max} at radii {c.radius_min}..{c.radius_max}"
            )
        return _cameras(np.array(eyes), width, height, c.fov_deg)


class UniformSphere(CameraSampler):
    """Directions uniform on the sphere, radius U(radius_min, radius_max), looking at the origin."""

    name = "uniform_sphere"

    @dataclass
    class Config:
        fov_deg: float = param(50.0, "horizontal field of view", gt=0.0, lt=180.0)
        radius_min: float = param(2.0, "nearest camera distance", gt=0.0)
        radius_max: float = param(2.5, "farthest camera distance", gt=0.0)

    def sample(self, views: int, width: int, height: int, rng: np.random.Generator) -> Cameras:
        c = self.cfg
        d = rng.normal(size=(views, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = rng.uniform(min(c.radius_min, c.radius_max), max(c.radius_min, c.radius_max), (views, 1))
        return _cameras(d * r, width, height, c.fov_deg)


class Orbit(CameraSampler):
    """Evenly spaced views on rings of fixed elevation (for evaluation and turntables): views are
    split across ``elevations_deg`` in order, each ring evenly spaced in azimuth."""

    name = "orbit"

    @dataclass
    class Config:
        fov_deg: float = param(50.0, "horizontal field of view", gt=0.0, lt=180.0)
        radius: float = param(2.2, "camera distance", gt=0.0)
        elevations_deg: List[float] = param([20.0], "ring elevations above the XY plane", ge=-89.9, le=89.9,
                                             nonempty=True)
        azimuth_start_deg: float = param(0.0, "azimuth of the first view of each ring")
        random_start: bool = param(False, "draw the first azimuth at random instead")

    def sample(self, views: int, width: int, height: int, rng: np.random.Generator) -> Cameras:
        c = self.cfg
        rings = np.array_split(np.arange(views), len(c.elevations_deg))
        start = rng.uniform(0, 360) if c.random_start else c.azimuth_start_deg
        eyes = []
        for elevation, ring in zip(c.elevations_deg, rings):
            az = np.radians(start + 360.0 * np.arange(len(ring)) / max(1, len(ring)))
            el = np.radians(elevation)
            eyes += [c.radius * np.array([np.cos(el) * np.cos(a), np.cos(el) * np.sin(a), np.sin(el)]) for a in az]
        return _cameras(np.array(eyes).reshape(-1, 3), width, height, c.fov_deg)

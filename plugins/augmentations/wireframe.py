"""Wireframe: a coarse primitive replaced by struts along its feature edges, with joints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from lrmzero import PartMesh, param
from lrmzero.components import AugmentContext, Augmentation
from lrmzero.geometry import disk, merge_patches, revolve
from lrmzero.mesh import bounds

# Tessellation parameters a coarse base primitive gets, where its Config has them.
def feature_edges(vertices: np.ndarray, faces: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges where the surface bends by more than ``angle_deg`` (so no diagonal of a flat quad).

    Returns ``(points [P, 3], edges [E, 2])`` over welded positions.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=True)  # welds seams, drops degenerate faces
    sharp = mesh.face_adjacency_angles > np.radians(angle_deg)
    edges = mesh.face_adjacency_edges[sharp]
    # open boundary edges (a base that is not closed) are features too
    counts = np.bincount(mesh.edges_unique_inverse, minlength=len(mesh.edges_unique))
    edges = np.concatenate([edges, mesh.edges_unique[counts == 1]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    used = np.unique(edges)
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    return np.asarray(mesh.vertices)[used], remap[edges]


def strut(p0: np.ndarray, p1: np.ndarray, radius: float, segments: int):
    """A closed cylinder of ``radius`` from p0 to p1: ``(vertices, faces, uv, surface)``."""
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    z = np.array([-length / 2, length / 2])
    side = revolve(np.ones(2), z, segments, (radius, radius))
    top = disk(length / 2, segments, 1, (radius, radius), up=True)
    bottom = disk(-length / 2, segments, 1, (radius, radius), up=False)
    v, f, uv, s = merge_patches([side, top, bottom], [0, 0, 0])
    rot, _ = Rotation.align_vectors([axis / length], [[0.0, 0.0, 1.0]])
    return rot.apply(v) + (p0 + p1) / 2, f, uv


def joint(centre: np.ndarray, radius: float, segments: int):
    """A small closed sphere at a wireframe vertex."""
    phi = np.linspace(-np.pi / 2, np.pi / 2, max(2, segments // 2) + 1)
    r = np.cos(phi)
    r[0] = r[-1] = 0.0
    z = radius * np.sin(phi)
    z[0], z[-1] = -radius, radius
    v, f, uv = revolve(r, z, segments, (radius, radius))
    return v + centre, f, uv


class Wireframe(Augmentation):
    """Add a wireframe: a coarse primitive (kind from ``kinds``) of half-size U(size_min, size_max)
    per axis, optionally subdivided (more segments), replaced by closed struts of thickness
    U(thickness_min, thickness_max) along its feature edges and a joint at each vertex. It is placed
    at a random point of the object's bounds, randomly rotated, and uses one of the object's
    materials. Each strut is one surface id (0..E-1), the joints follow.
    """

    name = "wireframe"

    @dataclass
    class Config:
        probability: float = param(0.3, "chance that an object gets a wireframe", ge=0.0, le=1.0)
        kinds: List[str] = param(["cube", "sphere", "cylinder", "cone", "torus"], "primitive kinds used as bases",
                                 nonempty=True, names_of="primitives")
        size_min: float = param(0.3, "smallest half-size per axis (object's largest side is 1.8)", gt=0.0)
        size_max: float = param(0.6, "largest half-size per axis", gt=0.0)
        thickness_min: float = param(0.01, "thinnest strut diameter", gt=0.0)
        thickness_max: float = param(0.03, "thickest strut diameter", gt=0.0)
        segments: int = param(6, "segments around the axis of a curved base", ge=3, le=64)
        subdivide_probability: float = param(0.5, "chance the base gets twice the segments", ge=0.0, le=1.0)
        feature_angle: float = param(10.0, "edges bending more than this (degrees) become struts", gt=0.0, lt=180.0)
        strut_segments: int = param(8, "segments around each strut", ge=3, le=64)

    def base(self, kind: str, segments: int, context: AugmentContext, size: np.ndarray, rng) -> PartMesh:
        """The coarse base: the run's ``kind`` primitive asked for a coarse version (the contract's
        ``Primitive.coarse``), so any primitive plugin can be a wireframe base."""
        return context.primitives[kind].coarse(segments).build(size, rng)

    def apply(self, parts: list[PartMesh], rng: np.random.Generator, context: AugmentContext):
        cfg = self.cfg
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        size = rng.uniform(*sorted((cfg.size_min, cfg.size_max)), 3)
        thickness = float(rng.uniform(*sorted((cfg.thickness_min, cfg.thickness_max))))
        subdivided = bool(rng.random() < cfg.subdivide_probability)
        segments = cfg.segments * (2 if subdivided else 1)
        rotation = Rotation.random(random_state=rng)
        lo, hi = bounds(parts)
        centre = rng.uniform(lo, hi)
        materials = np.unique(np.concatenate([p.material for p in parts]))
        material = int(materials[int(rng.integers(len(materials)))])

        base = self.base(kind, segments, context, size, rng)
        points, edges = feature_edges(base.vertices, base.faces, cfg.feature_angle)
        points = rotation.apply(points) + centre
        radius = thickness / 2
        pieces = [strut(points[a], points[b], radius, cfg.strut_segments) for a, b in edges]
        pieces += [joint(p, radius, cfg.strut_segments) for p in points]
        v, f, uv, surface = merge_patches(pieces, list(range(len(pieces))))
        wire = PartMesh(
            v, f, uv, surface, np.full(len(f), material, np.int32), kind="wireframe",
            params={"base": kind, "struts": int(len(edges)), "joints": int(len(points))},
            size=np.full(3, radius),
        )
        record = {
            "base": kind,
            "size": size.tolist(),
            "subdivided": subdivided,
            "thickness": thickness,
            "struts": int(len(edges)),
            "joints": int(len(points)),
            "centre": centre.tolist(),
            "material": material,
        }
        return [*parts, wire], record

"""The Zeroverse shape sampler: how many parts, which primitives, sizes, poses and material slots."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from lrmzero.components import Primitive
from lrmzero.plugins.composition.zeroverse.config import ShapeConfig
from lrmzero.mesh import PartMesh, bounds

MAX_JITTER_SAMPLES = 4096


def normalized_weights(weights: list | None, n: int) -> np.ndarray:
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    return w / w.sum()


def random_rigid(rng: np.random.Generator, max_rotation_deg: float, max_translation: float):
    """A ``[4, 4]`` transform: rotation U(0, max) deg about x, y, z (extrinsic), translation U(0, max)^3."""
    angles = rng.uniform(0.0, max_rotation_deg, 3)
    translation = rng.uniform(0.0, max_translation, 3)
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    m[:3, 3] = translation
    return m, angles, translation


def jitter_material_boundaries(part: PartMesh, amount: float, rng: np.random.Generator) -> PartMesh:
    """Move material boundaries off the surface boundaries by up to ``amount`` of the part's size.

    Each face takes the material of the original face nearest to its centroid displaced by a smooth
    random field (three random sinusoids per axis) of amplitude ``amount * largest side``; so the
    regions keep their shapes roughly but their borders wander across faces.
    """
    if amount <= 0 or len(np.unique(part.material)) < 2:
        return part
    centroids = part.vertices[part.faces].mean(axis=1)
    extent = float(np.ptp(part.vertices, axis=0).max())
    freq = rng.normal(0.0, 2.0 * np.pi / extent, (3, 3, 3))  # [term, out-axis, in-axis]
    phase = rng.uniform(0, 2 * np.pi, (3, 3))
    weight = rng.uniform(-1.0, 1.0, (3, 3)) / 3.0
    offset = np.zeros_like(centroids)
    for term in range(3):
        offset += weight[term] * np.sin(centroids @ freq[term].T + phase[term])
    # Nearest among a strided subset of faces: the boundaries' resolution stays far finer than
    # the jitter, at a fraction of the cost of a tree over every face.
    stride = max(1, len(centroids) // MAX_JITTER_SAMPLES)
    samples = np.arange(0, len(centroids), stride)
    _, nearest = cKDTree(centroids[samples]).query(centroids + amount * extent * offset)
    return part.copy(material=part.material[samples[nearest]])


def sample_parts(
    cfg: ShapeConfig, primitives: Mapping[str, Primitive], rng: np.random.Generator
) -> tuple[list[PartMesh], list[dict[str, Any]]]:
    """Draw one object's parts as Zeroverse composes them (REFERENCE.md).

    Part count from ``count_weights``; per part a kind, half-axes U(min, max)^3, a rotation and a
    translation. Before each new part is appended the accumulated assembly is itself re-rotated and
    re-translated. Parts are concatenated, never unioned. Material slots are numbered object-wide
    (part 0's surfaces first) and their boundaries jittered.

    Returns:
        parts (in world frame, not yet normalized) and one JSON-ready record per part.
    """
    count = int(rng.choice(len(cfg.count_weights), p=normalized_weights(cfg.count_weights, len(cfg.count_weights)))) + 1
    kinds = list(cfg.primitives)
    kind_p = normalized_weights(cfg.primitive_weights, len(kinds))
    parts: list[PartMesh] = []
    records: list[dict[str, Any]] = []
    next_slot = 0
    for k in range(count):
        kind = kinds[int(rng.choice(len(kinds), p=kind_p))]
        size = rng.uniform(cfg.half_axis_min, cfg.half_axis_max, 3)
        max_translation = cfg.translation_fraction * 2.0 * float(size.max())
        if parts:
            assembly, a_angles, a_shift = random_rigid(rng, cfg.max_rotation_deg, max_translation)
            parts = [p.transformed(assembly) for p in parts]
            records[-1]["assembly_moved_before_next"] = {
                "rotation_deg": a_angles.tolist(),
                "translation": a_shift.tolist(),
            }
        part = primitives[kind].build(size, rng)
        part = part.copy(material=part.material + next_slot, size=size.copy())
        next_slot = int(part.material.max()) + 1
        part = jitter_material_boundaries(part, cfg.material_jitter, rng)
        pose, angles, shift = random_rigid(rng, cfg.max_rotation_deg, max_translation)
        parts.append(part.transformed(pose))
        records.append(
            {
                "kind": kind,
                "size": size.tolist(),
                "rotation_deg": angles.tolist(),
                "translation": shift.tolist(),
                "params": part.params,
            }
        )
    return parts, records


def normalize(parts: list[PartMesh], largest_side: float) -> tuple[list[PartMesh], float, np.ndarray]:
    """Centre the bounding box at the origin and scale its largest side to ``largest_side``.

    Returns:
        the parts, the scale and the offset applied before scaling (x' = (x + offset) * scale).
    """
    lo, hi = bounds(parts)
    offset = -(lo + hi) / 2.0
    scale = largest_side / float((hi - lo).max())
    m = np.eye(4) * scale
    m[3, 3] = 1.0
    m[:3, 3] = offset * scale
    return [p.transformed(m) for p in parts], scale, offset

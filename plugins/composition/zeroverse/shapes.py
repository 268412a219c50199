"""The Zeroverse shape sampler: how many parts, which primitives, sizes, poses and material slots."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from lrmzero.components import Primitive
from lrmzero.plugins.composition.zeroverse.config import ShapeConfig
from lrmzero.mesh import PartMesh, bounds, weld_positions



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
    """Move material boundaries off the surface boundaries by up to ``amount`` of the part's size,
    along smooth curves that cut through faces (no face-sized teeth).

    Each point takes the material of the region nearest to it after a displacement by a smooth
    random field (three random sinusoids per axis) of amplitude ``amount * largest side``. The
    material of a (welded) vertex is decided that way; a face whose corners disagree is split
    where the difference of the two regions' distances crosses zero, interpolated linearly along
    its edges, so a boundary is a polyline through the faces. Positions and UVs of the new
    vertices are interpolated; shared edges are split identically from both sides, so the part
    stays closed by position.
    """
    if amount <= 0 or len(np.unique(part.material)) < 2:
        return part
    unique, group = weld_positions(part.vertices)
    extent = float(np.ptp(unique, axis=0).max())
    freq = rng.normal(0.0, 2.0 * np.pi / extent, (3, 3, 3))  # [term, out-axis, in-axis]
    phase = rng.uniform(0, 2 * np.pi, (3, 3))
    weight = rng.uniform(-1.0, 1.0, (3, 3)) / 3.0
    offset = np.zeros_like(unique)
    for term in range(3):
        offset += weight[term] * np.sin(unique @ freq[term].T + phase[term])
    moved = unique + amount * extent * offset
    materials = np.unique(part.material)
    centroids = part.vertices[part.faces].mean(axis=1)
    # Each displaced vertex takes the material of the nearest original region (its faces' centroids:
    # far finer than the jitter); one tree over all regions gives the same as the nearest per region.
    # (single-threaded on purpose: scipy's query worker threads outlive a Ctrl-C in the main thread
    # and read freed arrays)
    _, nearest = cKDTree(centroids).query(moved)
    label = np.searchsorted(materials, part.material[nearest])
    # [U, M] distance to each region, needed only at the corners of faces whose corners disagree
    corner_label = label[group[part.faces]]
    mixed = (corner_label != corner_label[:, :1]).any(axis=1)
    rows = np.unique(group[part.faces[mixed]])
    distance = np.full((len(unique), len(materials)), np.nan)
    if len(rows):
        distance[rows] = np.stack([cKDTree(centroids[part.material == m]).query(moved[rows])[0]
                                   for m in materials], -1)
    return split_faces_by_label(part, group, label, distance, materials)


def split_faces_by_label(part: PartMesh, group: np.ndarray, label: np.ndarray, distance: np.ndarray,
                         materials: np.ndarray) -> PartMesh:
    """Give each face the material of its corners' ``label [U]`` (over welded positions ``group
    [V]``), splitting faces whose corners disagree along the zero crossing of the distance
    difference ``distance [U, M]`` of the two labels at each edge's ends (read only at the corners
    of such faces)."""
    corner_label = label[group[part.faces]]  # [F, 3]
    same = (corner_label[:, 0] == corner_label[:, 1]) & (corner_label[:, 1] == corner_label[:, 2])
    vertices, uv = [part.vertices], [part.uv]
    count = [len(part.vertices)]

    def add(points: np.ndarray, coords: np.ndarray) -> np.ndarray:
        start = count[0]
        vertices.append(points)
        uv.append(coords)
        count[0] += len(points)
        return np.arange(start, start + len(points))

    def crossing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """New vertices where the labels of part vertices ``a``, ``b`` ``[K]`` meet on their edge. The
        edge is taken from its lower welded end so that both faces on it compute the same point."""
        wa, wb = group[a], group[b]
        swap = wa > wb
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        wa, wb = group[a], group[b]
        la, lb = label[wa], label[wb]
        ga = distance[wa, la] - distance[wa, lb]  # <= 0: a is nearer its own region
        gb = distance[wb, la] - distance[wb, lb]  # >= 0
        t = np.clip(ga / np.minimum(ga - gb, -1e-12), 1e-3, 1 - 1e-3)[:, None]
        # the same expression from both faces: identical floats for identical (a, b) positions
        return add(part.vertices[a] + t * (part.vertices[b] - part.vertices[a]), part.uv[a] + t * (part.uv[b] - part.uv[a]))

    faces = [part.faces[same]]
    face_label = [corner_label[same, 0]]
    source = [np.nonzero(same)[0]]
    mixed = np.nonzero(~same)[0]
    f, l = part.faces[mixed], corner_label[mixed]
    three = (l[:, 0] != l[:, 1]) & (l[:, 1] != l[:, 2]) & (l[:, 0] != l[:, 2])
    # Two labels: rotate each face so that corner 0 is the one alone.
    two = np.nonzero(~three)[0]
    f2, l2 = f[two], l[two]
    alone = np.where(l2[:, 1] == l2[:, 2], 0, np.where(l2[:, 0] == l2[:, 2], 1, 2))
    order = (alone[:, None] + np.arange(3)[None]) % 3
    f2 = np.take_along_axis(f2, order, axis=1)
    l2 = np.take_along_axis(l2, order, axis=1)
    c01, c02 = crossing(f2[:, 0], f2[:, 1]), crossing(f2[:, 0], f2[:, 2])
    faces += [np.stack([f2[:, 0], c01, c02], -1), np.stack([c01, f2[:, 1], f2[:, 2]], -1),
              np.stack([c01, f2[:, 2], c02], -1)]
    face_label += [l2[:, 0], l2[:, 1], l2[:, 1]]
    source += [mixed[two]] * 3
    # Three labels: each corner keeps the quad between its two edge crossings and the centroid.
    f3, l3, src3 = f[three], l[three], mixed[three]
    if len(f3):
        c01, c12, c20 = crossing(f3[:, 0], f3[:, 1]), crossing(f3[:, 1], f3[:, 2]), crossing(f3[:, 2], f3[:, 0])
        g = add(part.vertices[f3].mean(axis=1), part.uv[f3].mean(axis=1))
        for corner, after, before in ((0, c01, c20), (1, c12, c01), (2, c20, c12)):
            faces += [np.stack([f3[:, corner], after, g], -1), np.stack([f3[:, corner], g, before], -1)]
            face_label += [l3[:, corner]] * 2
            source += [src3] * 2
    source = np.concatenate(source)
    return part.copy(
        vertices=np.concatenate(vertices),
        faces=np.concatenate(faces),
        uv=np.concatenate(uv),
        surface=part.surface[source],
        material=materials[np.concatenate(face_label)].astype(np.int32),
    )


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

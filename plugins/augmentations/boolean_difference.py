"""Boolean difference: cut a random primitive out of the parts it touches (a solid bite by default,
thin walls as an option)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import manifold3d as m3
import numpy as np
from scipy.spatial.transform import Rotation

from lrmzero import PartMesh, param
from lrmzero.components import AugmentContext, Augmentation
from lrmzero.mesh import weld_positions
from lrmzero.plugins.augmentations.solids import NEW_SURFACE, from_manifold, offset_inward, to_manifold


def random_surface_point(parts: list[PartMesh], rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """A point uniform by area over all parts' surfaces: (part index, ``[3]`` point)."""
    areas = []
    for p in parts:
        tri = p.vertices[p.faces]
        areas.append(np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2)
    totals = np.array([a.sum() for a in areas])
    pi = int(rng.choice(len(parts), p=totals / totals.sum()))
    fi = int(rng.choice(len(areas[pi]), p=areas[pi] / areas[pi].sum()))
    r1, r2 = rng.random(2)
    s = np.sqrt(r1)
    tri = parts[pi].vertices[parts[pi].faces[fi]]
    return pi, (1 - s) * tri[0] + s * (1 - r2) * tri[1] + s * r2 * tri[2]


def cut_part(
    part: PartMesh, cutter: PartMesh | m3.Manifold, thickness: float
) -> tuple[PartMesh | None, str]:
    """``part`` minus ``cutter``; with ``thickness`` > 0 the part is hollowed to a shell of that
    thickness first, so the cut shows thin walls (Zeroverse thickens its cut shells likewise).
    Cut walls get the cutter's UVs and materials; surface ids ``NEW_SURFACE`` of the cutter become
    the part's next surface id.

    Returns:
        (the new part or None if it is gone, one of "cut", "missed", "removed").
    """
    _, group = weld_positions(part.vertices)
    solid = to_manifold(part, group)
    cut = solid - (cutter if isinstance(cutter, m3.Manifold) else to_manifold(cutter))
    volume = solid.volume()
    if cut.is_empty() or cut.volume() <= 1e-9 * volume:
        return None, "removed"
    if cut.volume() >= volume * (1 - 1e-9):
        return part, "missed"
    if thickness > 0:
        cut = cut - to_manifold(offset_inward(part, thickness, group), group)
        if cut.is_empty():
            return None, "removed"
    return from_manifold(cut, part), "cut"


def cutter_half_axes(kind: str, size: float, depth: float) -> np.ndarray:
    """``[3]`` half-axes of the cutter Blender's default operator makes at scalar ``size``: a sphere
    or cube of radius / half-side ``size``; a cylinder or cone of radius ``size`` and length
    ``depth`` (Blender's 2: they tunnel through the object); a torus of major radius ``size`` and
    minor ``0.3 size``; any other primitive plugin ``size`` on every axis."""
    if kind in ("cylinder", "cone"):
        return np.array([size, size, depth / 2])
    if kind == "torus":
        return np.array([1.3 * size, 1.3 * size, 0.3 * size])
    return np.full(3, size)


class BooleanDifference(Augmentation):
    """Cut a primitive (kind uniform over ``cutters``) of scalar size U(size_min, size_max) (see
    :func:`cutter_half_axes`), randomly rotated and centred at a random point on the object's
    surface, out of every part it touches: a solid bite, as the official cut looks. With a wall
    thickness above 0 the part is hollowed to a shell of that thickness first (the cut shows thin
    walls and a dark interior).

    Parts are cut one by one (they overlap and are never unioned), so each boolean input is a closed
    solid. Kept faces keep their UVs and materials; the cut walls get the cutter's UVs and a new
    material. A cutter that would remove every part is skipped; meta.json says which parts were cut,
    missed or removed.
    """

    name = "boolean_difference"

    @dataclass
    class Config:
        probability: float = param(0.5, "chance that an object gets a cut", ge=0.0, le=1.0)
        cutters: List[str] = param(["sphere", "cube", "cone", "cylinder", "torus"], "primitive kinds used as cutters",
                                    nonempty=True, names_of="primitives")
        size_min: float = param(0.3, "smallest cutter size: radius, half-side (object's largest side is 1.8)", gt=0.0)
        size_max: float = param(0.6, "largest cutter size", gt=0.0)
        depth: float = param(2.0, "length of cylinder and cone cutters (Blender's default: 2)", gt=0.0)
        thickness_min: float = param(0.0, "thinnest wall left around the cut (0: a solid bite)", ge=0.0)
        thickness_max: float = param(0.0, "thickest wall left around the cut (above 0: hollow shells)", ge=0.0)

    def apply(self, parts: list[PartMesh], rng: np.random.Generator, context: AugmentContext):
        cfg = self.cfg
        kind = cfg.cutters[int(rng.integers(len(cfg.cutters)))]
        size = float(rng.uniform(*sorted((cfg.size_min, cfg.size_max))))
        rotation = Rotation.random(random_state=rng)
        thickness = float(rng.uniform(*sorted((cfg.thickness_min, cfg.thickness_max))))
        part_index, centre = random_surface_point(parts, rng)
        cutter = context.primitives[kind].build(cutter_half_axes(kind, size, cfg.depth), rng)
        pose = np.eye(4)
        pose[:3, :3] = rotation.as_matrix()
        pose[:3, 3] = centre
        cutter = cutter.transformed(pose)
        wall_material = context.new_material()
        cutter = cutter.copy(
            material=np.full(len(cutter.faces), wall_material, np.int32),
            surface=np.full(len(cutter.faces), NEW_SURFACE, np.int32),
        )
        cutter_solid = to_manifold(cutter)
        record: dict[str, Any] = {
            "cutter": kind,
            "size": size,
            "rotation_quat_xyzw": rotation.as_quat().tolist(),
            "centre": centre.tolist(),
            "on_part": part_index,
            "thickness": thickness,
            "wall_material": wall_material,
        }
        lo, hi = cutter.vertices.min(0), cutter.vertices.max(0)
        results, outcome = [], []
        for part in parts:
            plo, phi = part.vertices.min(0), part.vertices.max(0)
            if np.any(phi < lo) or np.any(plo > hi):
                results.append(part)
                outcome.append("missed")
                continue
            new, what = cut_part(part, cutter_solid, thickness)
            results.append(new)
            outcome.append(what)
        record["parts"] = outcome
        if all(r is None for r in results):
            record["skipped"] = "the cutter would remove every part"
            return parts, record
        if "cut" not in outcome and "removed" not in outcome:
            record["skipped"] = "the cutter touches no part"
        return [r for r in results if r is not None], record

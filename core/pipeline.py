"""Build one object from (config, seed, index): shape -> augmentations -> normalize -> textures."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lrmzero.asset import Asset
from lrmzero.components import AugmentContext
from lrmzero.config import RunConfig
from lrmzero.materials import bake_uvs, describe_atlas, paint_atlas
from lrmzero.mesh import concatenate
from lrmzero.registry import Registries
from lrmzero.shapes import normalize, sample_parts


def object_id(index: int) -> str:
    """The folder name of object ``index`` in a dataset."""
    return f"{index:08d}"


def object_streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for (shape, augmentations, textures, cameras) of object ``index``.

    They depend only on (seed, index), so any worker, process or shard builds the same object;
    separate streams keep, e.g., the shapes unchanged when only the texture config changes.
    """
    children = np.random.SeedSequence(entropy=seed, spawn_key=(index,)).spawn(4)
    return tuple(np.random.default_rng(c) for c in children)


class ObjectBuilder:
    """Holds one process's component instances; :meth:`build` makes any object of the run."""

    def __init__(self, run: RunConfig, registries: Registries) -> None:
        self.run = run
        self.config_hash = run.hash()
        comps = run.components

        def make(kind: str, names) -> dict[str, Any]:
            reg = registries.kind(kind)
            return {n: reg.get(n).factory(comps[kind][n]) for n in names}

        gen = run.generate
        self.primitives = make("primitives", comps["primitives"])
        for name in registries.primitives.names():  # e.g. cutter kinds not drawn as parts
            self.primitives.setdefault(name, registries.primitives.build(name))
        self.textures = make("textures", gen.materials.sources)
        self.augmentations = [(n, make("augmentations", [n])[n]) for n in gen.augment.apply]
        self.primitive_registry = registries.primitives

    def build(self, seed: int, index: int) -> Asset:
        gen = self.run.generate
        shape_rng, aug_rng, tex_rng, _ = object_streams(seed, index)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        parts, part_records = sample_parts(gen.shape, self.primitives, shape_rng)
        timings["shape"] = time.perf_counter() - t0

        parts, _, _ = normalize(parts, gen.shape.normalized_size)
        slots = [int(max(p.material.max() for p in parts)) + 1]

        def new_material() -> int:
            slots[0] += 1
            return slots[0] - 1

        context = AugmentContext(self.primitives, self.primitive_registry, new_material)
        aug_records = []
        for name, aug in self.augmentations:
            t0 = time.perf_counter()
            probability = getattr(aug.cfg, "probability", None)
            applied = True if probability is None else bool(aug_rng.random() < float(probability))
            record: dict[str, Any] = {"name": name, "applied": applied}
            if applied:
                parts, details = aug.apply(parts, aug_rng, context)
                record.update(details)
            timings[f"augment.{name}"] = time.perf_counter() - t0
            aug_records.append(record)

        # Normalize again: augmentations may move the bounds (bumps, cuts, a wireframe beside).
        parts, scale, offset = normalize(parts, gen.shape.normalized_size)
        mesh = concatenate(parts)

        t0 = time.perf_counter()
        atlas = paint_atlas(slots[0], gen.materials, self.textures, tex_rng)
        vertices, faces, uv = bake_uvs(mesh.vertices, mesh.faces, mesh.uv, mesh.material, atlas)
        timings["textures"] = time.perf_counter() - t0

        meta = {
            "object_id": object_id(index),
            "seed": seed,
            "index": index,
            "config_hash": self.config_hash,
            "num_parts": len(part_records),
            "parts": part_records,
            "augmentations": aug_records,
            "normalization": {"final_scale": scale, "final_offset": offset.tolist()},
            "materials": describe_atlas(atlas),
            "num_vertices": int(len(vertices)),
            "num_faces": int(len(faces)),
            "timings": timings,
        }
        return Asset(vertices, faces, uv, atlas.image, meta)

"""The Zeroverse composer: one object from (seed, index): shape -> normalize -> augmentations -> textures."""

from __future__ import annotations

import time
from typing import Any


from lrmzero.asset import Asset
from lrmzero.components import AugmentContext, ComposeContext, Composer
from lrmzero.mesh import concatenate, drop_coincident_faces
from lrmzero.objects import object_id, object_streams
from lrmzero.plugins.composition.zeroverse.config import ZeroverseConfig
from lrmzero.plugins.composition.zeroverse.materials import bake_uvs, describe_atlas, paint_atlas
from lrmzero.plugins.composition.zeroverse.shapes import normalize, sample_parts


class ZeroverseComposer(Composer):
    """Zeroverse's rules (LRM-Zero, REFERENCE.md): 1-9 primitives with random sizes, rotations and
    translations, concatenated; a texture per material slot; then the run's augmentations in order
    (height fields, boolean cuts, wireframes), each drawn with its ``probability`` if it has one."""

    name = "zeroverse"
    Config = ZeroverseConfig

    def __init__(self, cfg: ZeroverseConfig | None = None) -> None:
        super().__init__(cfg)
        self.cfg.check()

    def setup(self, context: ComposeContext) -> None:
        super().setup(context)
        self.primitives = dict(context.components.get("primitives", {}))
        self.textures = {n: context.components["textures"][n] for n in self.cfg.materials.sources}
        self.augmentations = list(context.augmentations)
        self.primitive_registry = context.registries.primitives

    def build(self, seed: int, index: int) -> Asset:
        cfg, size = self.cfg, self.context.normalized_size
        shape_rng, aug_rng, tex_rng, _ = object_streams(seed, index)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        parts, part_records = sample_parts(cfg.shape, self.primitives, shape_rng)
        timings["shape"] = time.perf_counter() - t0

        # Normalized once, before the augmentations, as the official renderer does.
        parts, scale, offset = normalize(parts, size)
        normalization = {"final_scale": scale, "final_offset": offset.tolist()}
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

        if cfg.shape.renormalize_after_augmentations:
            parts, scale2, offset2 = normalize(parts, size)
            normalization["after_augmentations"] = {"scale": scale2, "offset": offset2.tolist()}
        mesh = drop_coincident_faces(concatenate(parts))  # e.g. one cutter's wall in two overlapping parts

        t0 = time.perf_counter()
        atlas = paint_atlas(slots[0], cfg.materials, self.textures, tex_rng)
        vertices, faces, uv = bake_uvs(mesh.vertices, mesh.faces, mesh.uv, mesh.material, atlas)
        timings["textures"] = time.perf_counter() - t0

        meta = {
            "object_id": object_id(index),
            "seed": seed,
            "index": index,
            "config_hash": self.context.config_hash,
            "num_parts": len(part_records),
            "parts": part_records,
            "augmentations": aug_records,
            "normalization": normalization,
            "materials": describe_atlas(atlas),
            "num_vertices": int(len(vertices)),
            "num_faces": int(len(faces)),
            "timings": timings,
        }
        return Asset(vertices, faces, uv, atlas.image, meta, maps=atlas.maps)

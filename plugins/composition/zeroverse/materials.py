"""Paint an object's material slots with texture sources and pack them into one atlas per PBR map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from lrmzero.components import Material, TextureSource
from lrmzero.plugins.composition.zeroverse.config import MaterialsConfig
from lrmzero.plugins.composition.zeroverse.shapes import normalized_weights


@dataclass
class Atlas:
    """One texture image per PBR map holding a tile per material, and where each slot's tile is.

    Attributes:
        image: ``[H, W, 3]`` uint8 base colour (row 0 is the top, i.e. v = 1 in glTF/OpenGL UV terms).
        maps: ``metallic_roughness`` (glTF packing: G roughness, B metallic) and ``normal``
            (tangent space), laid out like ``image``.
        slot_tile: ``[S]`` tile index of each material slot.
        tile_size, gutter, columns: the layout.
        sources: the texture source name of each tile.
    """

    image: np.ndarray
    maps: dict[str, np.ndarray]
    slot_tile: np.ndarray
    tile_size: int
    gutter: int
    columns: int
    sources: list[str]

    def remap_uv(self, uv: np.ndarray, tile: np.ndarray) -> np.ndarray:
        """Local UVs ``[N, 2]`` in [0, 1] of corners in tiles ``[N]`` -> atlas UVs ``[N, 2]``."""
        h, w = self.image.shape[:2]
        col, row = tile % self.columns, tile // self.columns
        inner = self.tile_size - 2 * self.gutter
        u = (col * self.tile_size + self.gutter + uv[:, 0] * inner) / w
        v = 1.0 - (row * self.tile_size + self.gutter + (1.0 - uv[:, 1]) * inner) / h
        return np.stack([u, v], axis=-1)


def paint_atlas(
    num_slots: int,
    cfg: MaterialsConfig,
    sources: Mapping[str, TextureSource],
    rng: np.random.Generator,
) -> Atlas:
    """Draw a texture per slot (``per_surface``) or one for all (``per_object``) and pack them."""
    names = list(cfg.sources)
    p = normalized_weights(cfg.source_weights, len(names))
    num_tiles = num_slots if cfg.sampling == "per_surface" else 1
    slot_tile = np.arange(num_slots) if cfg.sampling == "per_surface" else np.zeros(num_slots, int)
    columns = int(np.ceil(np.sqrt(num_tiles)))
    rows = int(np.ceil(num_tiles / columns))
    t = cfg.tile_size
    image = np.zeros((rows * t, columns * t, 3), np.uint8)
    packed = np.zeros_like(image)
    packed[..., 0] = 255  # glTF ignores R of metallicRoughness; occlusion 1 where a viewer reads it
    normal = np.empty_like(image)
    normal[:] = (128, 128, 255)
    chosen = []
    for i in range(num_tiles):
        name = names[int(rng.choice(len(names), p=p))]
        material = sources[name].paint_material(t, rng)
        check_material(name, material, t)
        r, c = divmod(i, columns)
        tile = np.s_[r * t : (r + 1) * t, c * t : (c + 1) * t]
        image[tile] = material.base_color
        packed[tile + (1,)] = material.roughness if material.roughness is not None else round(255 * cfg.default_roughness)
        packed[tile + (2,)] = material.metallic if material.metallic is not None else 0
        if material.normal is not None:
            normal[tile] = material.normal
        chosen.append(name)
    return Atlas(image, {"metallic_roughness": packed, "normal": normal}, slot_tile, t, cfg.gutter, columns, chosen)


def check_material(name: str, material: Material, size: int) -> None:
    """A source's material has the promised maps, shapes and dtype (else ValueError naming it)."""
    expected = {"base_color": (size, size, 3), "roughness": (size, size), "metallic": (size, size),
                "normal": (size, size, 3)}
    for field, shape in expected.items():
        value = getattr(material, field)
        if field != "base_color" and value is None:
            continue
        if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != np.uint8:
            got = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"texture source {name!r} returned {field} {got}; expected uint8 {shape}")


def bake_uvs(vertices, faces, uv, material, atlas: Atlas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split vertices shared by faces of different tiles and map UVs into the atlas.

    Returns ``(vertices [V', 3], faces [F, 3], uv [V', 2])``.
    """
    tile = atlas.slot_tile[material]  # [F]
    tiles = int(tile.max()) + 1
    key = faces.reshape(-1).astype(np.int64) * tiles + np.repeat(tile, 3)
    unique, inverse = np.unique(key, return_inverse=True)
    src_vertex, src_tile = unique // tiles, unique % tiles
    new_uv = atlas.remap_uv(np.clip(uv[src_vertex], 0.0, 1.0), src_tile)
    return vertices[src_vertex], inverse.reshape(-1, 3), new_uv


def describe_atlas(atlas: Atlas) -> dict[str, Any]:
    return {
        "tiles": len(atlas.sources),
        "tile_size": atlas.tile_size,
        "sources": atlas.sources,
        "slot_tile": atlas.slot_tile.tolist(),
    }

"""glTF's ``KHR_texture_transform`` (a texture's offset, rotation and scale in UV space: most often a tiling
factor) applied to the UVs of the parts whose material carries it. Written here: trimesh's glTF loader ignores
the extension, so such a texture landed where the UVs alone put it (once across a floor meant to repeat it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXTENSION = "KHR_texture_transform"
TEXTURES = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "emissiveTexture")


@dataclass(frozen=True)
class UVTransform:
    """The extension's fields: ``offset`` (u, v), ``rotation`` (radians, counter-clockwise in UV space),
    ``scale`` (u, v)."""

    offset: tuple[float, float] = (0.0, 0.0)
    rotation: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def from_extension(cls, fields: dict) -> "UVTransform":
        return cls(tuple(map(float, fields.get("offset", (0.0, 0.0)))), float(fields.get("rotation", 0.0)),
                   tuple(map(float, fields.get("scale", (1.0, 1.0)))))

    def apply(self, uv: np.ndarray) -> np.ndarray:
        """UVs ``[V, 2]`` as trimesh reads them (v up) moved as the glTF spec moves them: in glTF's UV frame
        (v down), ``translation x rotation x scale``, the rotation ``[[cos, sin], [-sin, cos]]``."""
        x = uv[:, 0] * self.scale[0]
        y = (1.0 - uv[:, 1]) * self.scale[1]
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        u = c * x + s * y + self.offset[0]
        v = -s * x + c * y + self.offset[1]
        return np.column_stack([u, 1.0 - v])


def _transform_of(texture_info) -> UVTransform | None:
    extensions = texture_info.get("extensions", {}) if isinstance(texture_info, dict) else {}
    fields = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    return UVTransform.from_extension(fields) if isinstance(fields, dict) else None


def material_transforms(tree: dict) -> tuple[dict[str, UVTransform], list[str]]:
    """A glTF file's transforms by material name (trimesh's materials keep the file's names): the one on
    the base colour texture, whose UVs every map of the part shares; and what cannot be followed, for the
    caller to say: a transformed material without a name, two materials of one name transformed differently,
    a map transformed otherwise than the base colour (read with the base colour's)."""
    seen: dict[str, UVTransform | None] = {}  # each name's first base colour transform (None: none)
    ambiguous: set[str] = set()
    problems = []
    for index, material in enumerate(tree.get("materials", []) if isinstance(tree, dict) else []):
        if not isinstance(material, dict):
            continue
        slots = {**material.get("pbrMetallicRoughness", {}), **material}
        found = {name: _transform_of(slots.get(name)) for name in TEXTURES if name in slots}
        base = found.get("baseColorTexture")
        name = material.get("name")
        if any(t is not None for t in found.values()) and not isinstance(name, str):
            problems.append(f"material {index} has {EXTENSION} but no name to find its parts by")
            continue
        if any(t != base for t in found.values()):
            problems.append(f"material {name!r}: maps with a {EXTENSION} other than its base colour's")
        if name in seen and seen[name] != base and name not in ambiguous:
            problems.append(f"two materials named {name!r} with different {EXTENSION}s")
            ambiguous.add(name)
        seen.setdefault(name, base)
    return {name: t for name, t in seen.items() if t is not None and name not in ambiguous}, problems


def apply_texture_transform(part, transforms: dict[str, UVTransform]) -> None:
    """The part's UVs moved by its material's transform, if it has one (in place)."""
    visual = getattr(part, "visual", None)
    transform = transforms.get(getattr(getattr(visual, "material", None), "name", None))
    uv = getattr(visual, "uv", None)
    if transform is not None and uv is not None:
        visual.uv = transform.apply(np.asarray(uv, np.float64))

"""`Asset`: a finished, normalized, textured object, and its GLB encoding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from PIL import Image

# What an asset without PBR maps means, to every renderer and to the GLB: one place, so that renderers
# compared with each other (gl vs cycles) shade a map-less asset alike.
DEFAULT_ROUGHNESS = 0.5
DEFAULT_METALLIC = 0.0
MAP_NAMES = ("metallic_roughness", "normal")
CUTOUT_MAP = "opacity"  # holes in the surface (glTF alphaMode MASK): an optional map beside MAP_NAMES
EMISSIVE_MAP = "emissive"  # light the surface gives off (glTF's emission): optional too
FLAT_MAPS = {  # one texel standing for a missing map (glTF packing; R of metallic_roughness unused)
    "metallic_roughness": (255, round(255 * DEFAULT_ROUGHNESS), round(255 * DEFAULT_METALLIC)),
    "normal": (128, 128, 255),
    CUTOUT_MAP: (255, 255, 255),
    EMISSIVE_MAP: (0, 0, 0),
}


@dataclass
class Asset:
    """One object ready to render or write.

    Attributes:
        vertices: ``[V, 3]`` float64, world frame (Z up), centred, largest side ``normalized_size``.
        faces: ``[F, 3]`` int64, counter-clockwise seen from outside.
        uv: ``[V, 2]`` atlas UVs (v up: v = 1 is the top row of ``texture``).
        texture: ``[H, W, 3]`` uint8 base-colour atlas (sRGB, as images are).
        maps: optional PBR maps laid out like ``texture`` (same UVs), uint8 ``[H', W', 3]``:
            ``metallic_roughness`` (glTF packing: G roughness, B metallic, linear) and ``normal``
            (tangent space, OpenGL/glTF convention: +Y is +v). Missing maps mean
            ``DEFAULT_ROUGHNESS``, ``DEFAULT_METALLIC`` and the geometric normal. ``opacity``
            (``CUTOUT_MAP``, optional, R read): cut-outs, as glTF's alphaMode MASK with a cutoff of 0.5 (a
            leaf's outline on a quad): where it is below 128 there is no surface (nothing drawn, hit or
            occluding); without it the surface is whole. ``emissive`` (``EMISSIVE_MAP``, optional, sRGB
            as the base colour): radiance the surface gives off, added to the light it reflects (glTF's
            emissive colour at strength 1; 255 is the radiance of the white environment).
        meta: JSON-ready description (seed, index, parts, textures, augmentations, timings).
        double_sided: whether a face may be seen from behind (an open surface: a sheet, a leaf, a cup of
            one wall; or faces wound inwards). False (a closed mesh wound outwards, as every generated
            object is) lets a renderer skip back faces; True makes it show each face from both sides, lit
            on each side by what that side sees, as Blender's Cycles does, and the GLB's material says
            ``doubleSided``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    texture: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    double_sided: bool = False

    def map_or_flat(self, name: str) -> np.ndarray:
        """The map ``name`` (one of ``MAP_NAMES``), or a 1x1 texel of its default where it is missing."""
        image = self.maps.get(name)
        return image if image is not None else np.full((1, 1, 3), FLAT_MAPS[name], np.uint8)

    def to_trimesh(self, texture_format: str = "jpeg", quality: int = 95) -> trimesh.Trimesh:
        """A textured trimesh with a glTF PBR material: base colour, and the metallic-roughness and
        normal textures and the emission where the asset has those maps; cut-outs in the base colour's
        alpha (PNG).
        ``texture_format`` (png or jpeg) and ``quality`` (JPEG quality or PNG compress level) set how an
        exporter encodes them."""
        cutouts = self.maps.get(CUTOUT_MAP)
        if cutouts is None:
            image = Image.fromarray(self.texture)
        else:  # glTF keeps cut-outs in the base colour's alpha, which JPEG cannot hold
            texture_format, quality = "png", 1
            size = max(self.texture.shape[:2], cutouts.shape[:2])[::-1]  # the larger, neither one resampled
            rgb = Image.fromarray(self.texture).resize(size, Image.NEAREST)
            alpha = Image.fromarray(np.ascontiguousarray(cutouts[..., 0])).resize(size, Image.NEAREST)
            image = Image.merge("RGBA", (*rgb.split(), alpha))
        image.format = "JPEG" if texture_format == "jpeg" else "PNG"
        # Pillow reads encoder options from `encoderinfo` too; trimesh's exporter passes none.
        image.encoderinfo = {"quality": quality} if texture_format == "jpeg" else {"compress_level": quality}
        def encoded(array: np.ndarray) -> Image.Image:
            img = Image.fromarray(array)
            img.format = image.format
            img.encoderinfo = image.encoderinfo
            return img

        maps = {}
        if "metallic_roughness" in self.maps:
            maps["metallicRoughnessTexture"] = encoded(self.maps["metallic_roughness"])
        if "normal" in self.maps:
            maps["normalTexture"] = encoded(self.maps["normal"])
        if EMISSIVE_MAP in self.maps:
            maps.update(emissiveTexture=encoded(self.maps[EMISSIVE_MAP]), emissiveFactor=[1.0, 1.0, 1.0])
        material = _ExportMaterial(
            baseColorTexture=image,
            metallicFactor=1.0 if "metallic_roughness" in self.maps else DEFAULT_METALLIC,
            roughnessFactor=1.0 if "metallic_roughness" in self.maps else DEFAULT_ROUGHNESS,
            doubleSided=self.double_sided,
            **({} if cutouts is None else {"alphaMode": "MASK", "alphaCutoff": 0.5}),
            **maps,
        )
        visual = trimesh.visual.TextureVisuals(uv=self.uv, material=material)
        return trimesh.Trimesh(self.vertices, self.faces, visual=visual, process=False)


class _ExportMaterial(trimesh.visual.material.PBRMaterial):
    """A PBR material hashed by identity: the glTF exporter hashes each material to merge
    duplicates, and the content hash of three 2048 x 2048 textures (their bytes) cost ~0.1 s per
    object; an asset has one material, so there is nothing to merge."""

    __hash__ = object.__hash__


# glTF's ``asset.generator`` of lrmzero's own files: their vertices are the Z-up world's, not glTF's Y up
GLB_GENERATOR = "lrmzero (world Z up)"


def encode_glb(asset: Asset, texture_format: str = "jpeg", quality: int = 95) -> bytes:
    """The asset as binary glTF with its atlas embedded; vertices stay in the Z-up world frame,
    so ``trimesh.load(path, force="mesh")`` returns exactly the positions the cameras see (the file says so
    in ``asset.generator``: :data:`GLB_GENERATOR`)."""
    mesh = asset.to_trimesh(texture_format, quality)

    def mark(tree: dict) -> None:
        tree.setdefault("asset", {"version": "2.0"})["generator"] = GLB_GENERATOR

    return trimesh.exchange.gltf.export_glb(trimesh.Scene(mesh), include_normals=False, tree_postprocessor=mark)

"""A real mesh's materials made into what the renderers take (one texture, UVs in the unit square): glTF
base colour factors baked into their textures, flat colours (glTF factors, OBJ ``Kd``) read as the linear
values they are, repeating textures unwrapped, per-vertex or per-face colours as a table of colours. Each is
written here because trimesh's own conversion gets it wrong (said in each)."""

from __future__ import annotations

import cv2
import numpy as np
import trimesh
from PIL import Image

from lrmzero.images import convert_8bit
from lrmzero.mesh import unique_rows
from lrmzero.tone import to_linear, to_srgb

TEXTURE_ATTRIBUTES = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "emissiveTexture", "image")
# UVs this far past the unit square count as inside it (clamped): exporters' rounding at an island's edge,
# which would otherwise double a texture for a few texels' worth (1e-3 of 4096: 4 texels)
UV_TOLERANCE = 1e-3


def bake_base_colour_factor(part) -> None:
    """A glTF material's base colour, ``baseColorFactor`` (linear) x ``baseColorTexture`` (sRGB), baked
    into its texture in linear light as the glTF spec defines it, and the factor dropped (in place).

    Written here because trimesh (5.2) packs several materials into one texture by multiplying the uint8
    texels by the uint8 factor, which wraps around: the white factor glTF exporters write beside a texture
    (Blender's ``[1, 1, 1, 1]``) turns every colour c into 256 - c, and a tint is applied to sRGB values."""
    material = getattr(getattr(part, "visual", None), "material", None)
    if not isinstance(material, trimesh.visual.material.PBRMaterial) or material.baseColorTexture is None \
            or material.baseColorFactor is None:
        return
    factor = np.asarray(material.baseColorFactor, np.float64) / 255.0  # trimesh keeps it as uint8 RGBA
    if (factor < 1.0).any():
        rgba = np.asarray(convert_8bit(material.baseColorTexture, "RGBA"))
        alpha = np.round(np.arange(256) * factor[3]).astype(np.uint8)[rgba[..., 3]]  # alpha is linear
        baked = np.dstack([tinted(rgba[..., :3], factor[:3]), alpha])
        material.baseColorTexture = Image.fromarray(baked, "RGBA")
    material.baseColorFactor = None


def tinted(srgb: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """uint8 sRGB colours ``[..., 3]`` times a linear ``factor [3]``, in linear light, as uint8 sRGB (through a
    table of the 256 codes per channel)."""
    codes = np.arange(256) / 255.0
    tables = [np.round(to_srgb(to_linear(codes) * f) * 255.0).astype(np.uint8) for f in factor]
    return np.stack([tables[c][srgb[..., c]] for c in range(3)], axis=-1)


def bake_metallic_roughness_factors(part) -> None:
    """A glTF material's metalness and roughness, ``metallicFactor`` x B and ``roughnessFactor`` x G of its
    metallic-roughness texture, or the factors alone without one, as that texture (in place; the factors
    dropped). A factor the file leaves out is 1, the glTF spec's default, as Blender imports it (a material
    that gives neither is a rough metal). Written here: this loader kept the texture and ignored the factors
    (a part without the texture took this project's defaults, 0.5 rough and not metal)."""
    material = getattr(getattr(part, "visual", None), "material", None)
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        return
    metallic = 1.0 if material.metallicFactor is None else float(np.clip(material.metallicFactor, 0.0, 1.0))
    roughness = 1.0 if material.roughnessFactor is None else float(np.clip(material.roughnessFactor, 0.0, 1.0))
    texture = material.metallicRoughnessTexture
    if texture is None:
        texel = np.round(np.array([0.0, roughness, metallic]) * 255.0).astype(np.uint8)
        material.metallicRoughnessTexture = Image.fromarray(np.tile(texel, (2, 2, 1)), "RGB")
    elif metallic < 1.0 or roughness < 1.0:
        mr = np.asarray(convert_8bit(texture, "RGB")).astype(np.float64)
        mr[..., 1] *= roughness
        mr[..., 2] *= metallic
        material.metallicRoughnessTexture = Image.fromarray(np.round(mr).astype(np.uint8), "RGB")
    material.metallicFactor = material.roughnessFactor = None


def bake_emission(part) -> None:
    """A glTF material's emission, ``emissiveFactor`` (linear) x ``emissiveTexture`` (sRGB), or the factor
    alone, baked into its emissive texture in linear light (in place; the factor dropped). The factor left
    out is 0, the spec's default: a texture alone gives off nothing. (Strengths past 1,
    KHR_materials_emissive_strength, are not read.) Written here: trimesh reads both and uses neither."""
    material = getattr(getattr(part, "visual", None), "material", None)
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        return
    factor = np.zeros(3) if material.emissiveFactor is None else np.clip(material.emissiveFactor, 0.0, 1.0)
    texture, material.emissiveFactor = material.emissiveTexture, None
    if not factor.any():
        material.emissiveTexture = None
        return
    if texture is None:
        texel = np.round(to_srgb(factor) * 255.0).astype(np.uint8)
        material.emissiveTexture = Image.fromarray(np.tile(texel, (2, 2, 1)), "RGB")
        return
    material.emissiveTexture = Image.fromarray(tinted(np.asarray(convert_8bit(texture, "RGB")), factor), "RGB")


def texture_flat_colour(part) -> None:
    """A material with a colour and no texture given that colour as a texture (in place): glTF's
    ``baseColorFactor`` is linear (the glTF spec), and so is an OBJ's ``Kd`` as Blender reads it (the
    official renders imported meshes with Blender): ``Kd 0.8`` shows as sRGB 231, not the 204 trimesh keeps.
    Then every part is textured alike, alone or packed with others. Written here: trimesh reads such a
    material's colour as sRGB, and a lone one's ``to_color`` fails for want of the vertex count."""
    visual = getattr(part, "visual", None)
    material = getattr(visual, "material", None)
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        if material.baseColorTexture is not None or material.baseColorFactor is None:
            return
        linear = np.asarray(material.baseColorFactor, np.float64)[:3] / 255.0
    elif isinstance(material, trimesh.visual.material.SimpleMaterial):
        if material.image is not None or material.diffuse is None:
            return
        linear = np.asarray(material.diffuse, np.float64)[:3] / 255.0
    else:
        return
    colour = np.round(to_srgb(linear) * 255.0).astype(np.uint8)
    kept = {name: getattr(material, name, None)
            for name in ("metallicRoughnessTexture", "normalTexture", "emissiveTexture")}
    if isinstance(material, trimesh.visual.material.PBRMaterial) and material.alphaMode is not None:
        alpha = np.asarray(material.baseColorFactor, np.uint8)[3:4]  # for cut_outs
        image = Image.fromarray(np.tile(np.concatenate([colour, alpha]), (2, 2, 1)), "RGBA")
        kept.update(alphaMode=material.alphaMode, alphaCutoff=material.alphaCutoff)
    else:
        image = Image.fromarray(np.tile(colour, (2, 2, 1)), "RGB")
    textured = trimesh.visual.material.PBRMaterial(baseColorTexture=image, **kept)  # a flat map, if any
    uv = getattr(visual, "uv", None)  # kept for a map beside the colour that is a texture (not junk UVs' repeats)
    textured_maps = any(isinstance(image, Image.Image) and max(image.size) > 2 for image in kept.values())
    if not textured_maps or uv is None or len(uv) != len(part.vertices):
        uv = np.full((len(part.vertices), 2), 0.5)
    part.visual = trimesh.visual.TextureVisuals(uv=uv, material=textured)


def cut_outs(part) -> None:
    """glTF alpha (the base colour texture's alpha, with ``baseColorFactor``'s baked in) as cut-outs, in
    place: alphaMode MASK keeps what reaches ``alphaCutoff`` (0.5 when left out), as Cycles renders it;
    BLEND, which Cycles shows partly see-through (glass, a veil), keeps what reaches one half (the renderers
    here draw no partial transparency); OPAQUE, or none, ignores alpha, as the spec says. Afterwards the
    texture's alpha is 0 or 255 under alphaMode MASK with alphaCutoff 0.5, or alphaMode is None where nothing
    is cut away. Written here: trimesh reads alphaMode and keeps the alpha, and uses neither."""
    material = getattr(getattr(part, "visual", None), "material", None)
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        return
    mode = str(material.alphaMode or "OPAQUE").upper()
    if mode not in ("MASK", "BLEND") or material.baseColorTexture is None:
        material.alphaMode = None
        return
    cutoff = 0.5 if mode == "BLEND" or material.alphaCutoff is None else float(material.alphaCutoff)
    rgba = np.array(convert_8bit(material.baseColorTexture, "RGBA"))
    kept = rgba[..., 3] >= np.round(cutoff * 255.0)
    if kept.all():
        material.alphaMode = None
        return
    rgba[..., 3] = np.where(kept, 255, 0)
    material.baseColorTexture = Image.fromarray(rgba, "RGBA")
    material.alphaMode, material.alphaCutoff = "MASK", 0.5


def unwrap_repeating_uvs(part: trimesh.Trimesh, max_size: int = 4096) -> trimesh.Trimesh:
    """A textured part whose UVs leave the unit square (a texture repeated across a floor, an island a
    little over the edge: glTF's and OBJ's default wrap is to repeat) as the same look with UVs inside it.

    Each face moves by the whole number of repeats below its lowest corner (faces inside [0, 1] stay), its
    vertices split where faces moved differently meet; the texture (and the PBR maps) is then tiled as
    often as the faces still reach past 1, shrunk to at most ``max_size`` texels across, and the UVs scaled
    into it; past ``max_size`` repeats (junk UVs, or less than a texel each), each image's mean colour.
    Written here: trimesh (and this loader before) wrapped each *vertex* into [0, 1) alone, so a face across
    a repeat's edge (u 0.9 to 1.1, or one touching u = 1) sampled the texture's whole width backwards.

    Returns the part itself when there is nothing to unwrap, else a new part with the same faces in order."""
    visual = getattr(part, "visual", None)
    if not isinstance(visual, trimesh.visual.TextureVisuals) or visual.uv is None \
            or len(visual.uv) != len(part.vertices) or visual.material is None:
        return part
    uv = np.asarray(visual.uv, np.float64)
    tol = UV_TOLERANCE
    if ((uv >= -tol) & (uv <= 1.0 + tol)).all():
        return part
    faces = np.asarray(part.faces, np.int64)
    corner_uv = uv[faces]  # [F, 3, 2]
    inside = ((corner_uv >= -tol) & (corner_uv <= 1.0 + tol)).all(axis=(1, 2))
    shift = np.where(inside[:, None], 0.0, np.floor(corner_uv.min(axis=1) + tol))  # [F, 2] whole repeats
    corner_uv = corner_uv - shift[:, None, :]
    tiles = np.maximum(1, np.ceil(corner_uv.max(axis=(0, 1)) - tol)).astype(np.int64)  # [2]: along u, v
    if (tiles > max_size).any():  # repeats finer than a texel each: what mipmaps show, each image's mean
        return _averaged(part)
    vertices, new_faces, first = split_corners(np.asarray(part.vertices), faces, np.repeat(shift, 3, axis=0))
    material = visual.material.copy()
    images = {attribute: getattr(material, attribute, None) for attribute in TEXTURE_ATTRIBUTES}
    tiled: dict[int, Image.Image] = {}  # one image may stand under two names (a PBR material's ``image``)
    for attribute, image in images.items():
        if isinstance(image, Image.Image):
            if id(image) not in tiled:
                tiled[id(image)] = _tiled(image, int(tiles[0]), int(tiles[1]), max_size)
            setattr(material, attribute, tiled[id(image)])
    new_uv = np.clip(corner_uv.reshape(-1, 2)[first] / tiles, 0.0, 1.0)
    return trimesh.Trimesh(vertices, new_faces, visual=trimesh.visual.TextureVisuals(uv=new_uv, material=material),
                           process=False)


def _averaged(part: trimesh.Trimesh) -> trimesh.Trimesh:
    """The part with each of its images reduced to its mean texel and every UV on it."""
    material = part.visual.material.copy()
    means: dict[int, Image.Image] = {}
    for attribute in TEXTURE_ATTRIBUTES:
        image = getattr(material, attribute, None)
        if isinstance(image, Image.Image):
            if id(image) not in means:
                means[id(image)] = image.resize((1, 1), Image.BOX)
            setattr(material, attribute, means[id(image)])
    uv = np.full((len(part.vertices), 2), 0.5)
    return trimesh.Trimesh(part.vertices, part.faces, visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
                           process=False)


def _tiled(image: Image.Image, across: int, down: int, max_size: int) -> Image.Image:
    """``image`` repeated ``across`` x ``down`` times, each copy shrunk (area-averaged) so the whole is at
    most ``max_size`` texels across."""
    array = np.asarray(image)
    h, w = array.shape[:2]
    scale = min(1.0, max_size / (w * across), max_size / (h * down))
    if scale < 1.0:
        array = shrunk(array, scale)
    return Image.fromarray(np.tile(array, (down, across) + (1,) * (array.ndim - 2)), image.mode)


def shrunk(image: np.ndarray, scale: float) -> np.ndarray:
    """``image [H, W, ...]`` area-averaged to ``scale`` of its size (at least one texel), its channels kept."""
    size = (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], *image.shape[2:])


def colours_as_texture(part):
    """A part coloured per vertex or per face as the same part textured with its table of colours
    (:func:`face_colour_table`), so that it joins textured parts without losing either (trimesh, joining
    a coloured part and a textured one, keeps neither). Returns (the part, or the new one; how many
    texels its table has, 0 if it was not coloured)."""
    visual = getattr(part, "visual", None)
    if not isinstance(visual, trimesh.visual.ColorVisuals) or visual.kind not in ("vertex", "face"):
        return part, 0
    vertices, faces, uv, texture = face_colour_table(np.asarray(part.vertices, np.float64),
                                                     np.asarray(part.faces, np.int64),
                                                     np.asarray(visual.face_colors)[:, :3])
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture, "RGB"))
    textured = trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
                               process=False)
    return textured, int(texture.shape[0] * texture.shape[1])


def face_colour_table(vertices: np.ndarray, faces: np.ndarray,
                      face_colours: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A mesh coloured per face as the textured mesh every renderer takes: a texture holding each distinct
    colour once (one texel each, row by row, ``ceil(sqrt(K))`` texels wide for K colours; the texels left
    over repeat the colours, so the texture's mean is not darkened) and each face's corners at the centre
    of its colour's texel. The UVs do not vary across a face, so a renderer reads that texel at its full
    resolution (no mip level mixes it with its neighbours) and shows the face's colour exactly.

    Written here: trimesh's ``ColorVisuals.to_texture`` puts each *vertex* on its colour's texel, so a face
    whose corners differ samples whatever texels lie between theirs.

    Args:
        vertices: ``[V, 3]``; faces: ``[F, 3]``; face_colours: ``[F, 3]`` uint8 sRGB.

    Returns:
        (vertices ``[V', 3]``: a vertex shared by faces of different colours is split, one per colour;
        faces ``[F, 3]`` into them, in the same order; uv ``[V', 2]`` (v up); texture ``[S, S, 3]`` uint8).
    """
    rgb = np.asarray(face_colours, np.uint8).astype(np.int64)
    packed, colour_of_face = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2], return_inverse=True)
    colours = np.stack([packed >> 16, packed >> 8 & 255, packed & 255], axis=1).astype(np.uint8)
    colour_of_corner = np.repeat(colour_of_face.reshape(-1), 3)
    split_vertices, split_faces, first = split_corners(vertices, faces, colour_of_corner)
    side = int(np.ceil(np.sqrt(len(colours))))
    texture = colours[np.arange(side * side) % len(colours)].reshape(side, side, 3)
    row, col = np.divmod(colour_of_corner[first], side)
    uv = np.column_stack([(col + 0.5) / side, 1.0 - (row + 0.5) / side])
    return split_vertices, split_faces, uv, texture


def split_corners(vertices: np.ndarray, faces: np.ndarray,
                  corner_key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vertex split where faces meeting at it give their corners different keys (``corner_key``: int
    ``[3F]`` or ``[3F, K]``, per corner in face order), one copy per key: (vertices ``[V', 3]``, faces
    ``[F, 3]`` into them in the same order, the corner each new vertex was made from ``[V']``, which picks
    per-corner values for the new vertices)."""
    keys = np.column_stack([faces.reshape(-1), np.asarray(corner_key).reshape(len(faces) * 3, -1)])
    first, corner_vertex = unique_rows(keys.astype(np.int64))
    return vertices[faces.reshape(-1)[first]], corner_vertex.reshape(-1, 3), first

"""Load existing meshes (GLB, OBJ, PLY, ...) as normalized, textured assets for `lrmzero render`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.color import linear_to_srgb, srgb_to_linear

from lrmzero.asset import Asset
from lrmzero.images import convert_8bit
from lrmzero.mesh import unique_rows

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl", ".off")
# meta.json's record of a mesh coloured per vertex or per face, whose texture is a table of its colours
COLOUR_TABLE = "colour_table"


def find_meshes(source: str | Path) -> list[Path]:
    """A mesh file, or every mesh file under a folder (recursively, sorted)."""
    src = Path(source)
    if src.is_file():
        return [src]
    if src.is_dir():
        return sorted(p for p in src.rglob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file())
    raise FileNotFoundError(f"INPUT: {str(src)!r} is neither a mesh file nor a folder")


def load_mesh_asset(path: str | Path, normalized_size: float = 1.8) -> Asset:
    """One mesh file as an :class:`Asset`, centred with its largest side ``normalized_size``.

    Textured meshes keep their UVs and base-colour image, and a glTF PBR material's
    metallic-roughness and normal textures; meshes coloured per vertex or per face keep each face's colour
    (:func:`face_colour_table`); others get their mean colour.

    Raises:
        ValueError: naming the file when it cannot be read or has no faces.
    """
    path = Path(path)
    try:
        scene = trimesh.load_scene(path)
        for part in scene.geometry.values():  # before the parts' materials are packed into one
            bake_base_colour_factor(part)
        mesh = scene.to_mesh()
    except Exception as exc:  # noqa: BLE001 - loaders raise many types
        raise ValueError(f"{path}: cannot be read as a mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: mesh has no faces")
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    texture, uv, maps, colours = None, None, {}, None
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None and len(visual.uv) == len(vertices):
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if image is not None:
            texture = np.asarray(convert_8bit(image, "RGB"), np.uint8)
            uv = np.mod(np.asarray(visual.uv, np.float64), 1.0)  # wrap repeats into the unit square
            for key, attribute in (("metallic_roughness", "metallicRoughnessTexture"), ("normal", "normalTexture")):
                extra = getattr(material, attribute, None)
                if extra is not None:
                    maps[key] = np.asarray(convert_8bit(extra, "RGB"), np.uint8)
    if texture is None and isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind in ("vertex", "face"):
        # coloured per vertex (scans, PLY) or per face (CAD): each face in its colour (a vertex-coloured
        # face in the colour at its centroid, the mean of its corners')
        vertices, faces, uv, texture = face_colour_table(vertices, faces, np.asarray(visual.face_colors)[:, :3])
        colours = {"kind": f"{visual.kind} colours, one per face", "texels": int(texture.shape[0] * texture.shape[1])}
    elif texture is None:
        colors = np.asarray(visual.to_color().vertex_colors)[:, :3] if hasattr(visual, "to_color") else None
        mean = colors.mean(axis=0) if colors is not None and len(colors) else np.array([180, 180, 180])
        texture = np.tile(mean.astype(np.uint8), (4, 4, 1))
        uv = np.full((len(vertices), 2), 0.5)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError(f"{path}: mesh has zero size")
    scale = normalized_size / extent
    offset = -(lo + hi) / 2.0
    vertices = (vertices + offset) * scale
    meta = {
        "source": str(path),
        "normalization": {"final_scale": scale, "final_offset": offset.tolist()},
        "num_vertices": int(len(vertices)),
        "num_faces": int(len(faces)),
        "timings": {},
    }
    if colours is not None:
        meta[COLOUR_TABLE] = colours
    return Asset(vertices, faces, uv, np.ascontiguousarray(texture), meta, maps=maps)


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
        codes = np.arange(256, dtype=np.uint8)
        tables = [np.round(linear_to_srgb(srgb_to_linear(codes) * f) * 255.0) for f in factor[:3]]
        tables.append(np.round(codes * factor[3]))
        rgba = np.asarray(convert_8bit(material.baseColorTexture, "RGBA"))
        baked = np.stack([table.astype(np.uint8)[rgba[..., c]] for c, table in enumerate(tables)], axis=-1)
        material.baseColorTexture = Image.fromarray(baked, "RGBA")
    material.baseColorFactor = None


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
    first, corner_vertex = unique_rows(np.column_stack([faces.reshape(-1), colour_of_corner]).astype(np.int64))
    side = int(np.ceil(np.sqrt(len(colours))))
    texture = colours[np.arange(side * side) % len(colours)].reshape(side, side, 3)
    row, col = np.divmod(colour_of_corner[first], side)
    uv = np.column_stack([(col + 0.5) / side, 1.0 - (row + 0.5) / side])
    return vertices[faces.reshape(-1)[first]], corner_vertex.reshape(-1, 3), uv, texture

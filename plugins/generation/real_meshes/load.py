"""Load existing meshes (GLB, OBJ, PLY, ...) as normalized, textured assets for `lrmzero render`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import trimesh

from lrmzero.asset import CUTOUT_MAP, EMISSIVE_MAP, GLB_GENERATOR, Asset
from lrmzero.plugins.generation.real_meshes.atlas import join_parts
from lrmzero.plugins.generation.real_meshes.gltf_file import check_gltf_extensions, gltf_generator, gltf_tree
from lrmzero.plugins.generation.real_meshes.materials import (bake_base_colour_factor, bake_emission,
                                                       bake_metallic_roughness_factors,
                                                       colours_as_texture, cut_outs, texture_flat_colour,
                                                       unwrap_repeating_uvs)
from lrmzero.plugins.generation.real_meshes.sides import closed_and_outward
from lrmzero.plugins.generation.real_meshes.texture_transform import apply_texture_transform, material_transforms

log = logging.getLogger("lrmzero")

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


# A Y-up file's coordinates in the Z-up world, as Blender's glTF and OBJ importers turn them:
# (x, y, z) -> (x, -z, y)
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


class MeshFileResolver(trimesh.resolvers.FilePathResolver):
    """The files a mesh file names (textures, glTF buffers): relative to its folder, reaching up to the folder
    above it (GSO keeps its textures in ``NAME/materials/textures/``, beside no mesh; trimesh's own
    resolver refuses any path out of the mesh's folder), else by file name in the texture folders such layouts
    keep (``textures/`` beside it, ``materials/textures/`` or ``textures/`` above it). No further: a file
    never reaches into other objects' folders."""

    def __init__(self, mesh_path: Path) -> None:
        super().__init__(str(mesh_path.parent), allow_anywhere=True)
        self.folder = mesh_path.parent.resolve()
        self.object_folder = self.folder.parent
        self.missing: list[str] = []  # what the file named and was not found

    def get(self, name: str) -> bytes:
        named = (self.folder / name.strip()).resolve()
        if named.is_relative_to(self.object_folder) and named.is_file():
            return named.read_bytes()
        base = Path(name.strip().replace("\\", "/")).name
        for folder in (self.folder, self.folder / "textures", self.object_folder / "materials" / "textures",
                       self.object_folder / "textures"):
            if base and (folder / base).is_file():
                return (folder / base).read_bytes()
        self.missing.append(name.strip())
        raise FileNotFoundError(name)


def file_up_axis(path: Path) -> str:
    """The up axis Blender's importer gives a mesh file: ``y`` for glTF (the spec's) and OBJ (Blender's
    default), except glTF files lrmzero wrote (``asset.generator``: :data:`~lrmzero.asset.GLB_GENERATOR`);
    ``z`` for the others (PLY, STL, OFF: Blender turns none of them)."""
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return "y"
    if suffix not in (".glb", ".gltf"):
        return "z"
    return "z" if gltf_generator(path).startswith(GLB_GENERATOR) else "y"


def load_mesh_asset(path: str | Path, normalized_size: float = 1.8, up: str = "z") -> Asset:
    """One mesh file as an :class:`Asset`, centred with its largest side ``normalized_size``; ``up``: the
    file's up axis, ``z`` (its coordinates are the world's), ``y`` (turned by :data:`Y_UP_TO_Z_UP`) or
    ``auto`` (:func:`file_up_axis`: as Blender imports the file).

    Textured meshes keep their UVs and base-colour image, and a glTF PBR material's
    metallic-roughness and normal textures; meshes coloured per vertex or per face keep each face's colour
    (:func:`~lrmzero.plugins.generation.real_meshes.materials.colours_as_texture`); others are grey.

    Raises:
        ValueError: naming the file when it cannot be read or has no faces.
    """
    path = Path(path)
    up = file_up_axis(path) if up == "auto" else up
    resolver = MeshFileResolver(path)
    tree = gltf_tree(path)  # {} for other formats
    check_gltf_extensions(path, tree)
    uv_transforms, unfollowed = material_transforms(tree)
    if unfollowed:
        log.warning("%s: %s (those textures are placed by their UVs alone)", path, "; ".join(unfollowed))
    try:
        scene = trimesh.load_scene(path, resolver=resolver)
        fixed, table_texels, coloured = {}, 0, set()
        for name, geometry in scene.geometry.items():  # once per geometry, however often it is placed
            if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
                continue
            part = geometry.copy()
            apply_texture_transform(part, uv_transforms)
            bake_base_colour_factor(part)
            bake_metallic_roughness_factors(part)  # before a flat colour's material is replaced
            bake_emission(part)
            texture_flat_colour(part)
            cut_outs(part)
            kind = getattr(part.visual, "kind", None)
            part, texels = colours_as_texture(part)
            if texels:
                table_texels += texels
                coloured.add(kind)
            fixed[name] = unwrap_repeating_uvs(part)
        parts, transforms = [], []
        for node in scene.graph.nodes_geometry:  # every placement of a geometry
            transform, name = scene.graph[node]
            if name in fixed:
                parts.append(fixed[name])
                transforms.append(transform)
    except Exception as exc:  # noqa: BLE001 - loaders raise many types
        raise ValueError(f"{path}: cannot be read as a mesh ({type(exc).__name__}: {exc})") from None
    if not parts:
        raise ValueError(f"{path}: mesh has no faces")
    vertices, faces, uv, texture, maps = join_parts(parts, transforms)
    if up == "y":
        vertices = vertices @ Y_UP_TO_Z_UP.T
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError(f"{path}: mesh has zero size")
    scale = normalized_size / extent
    offset = -(lo + hi) / 2.0
    vertices = (vertices + offset) * scale
    meta = {
        "source": str(path),
        # world = (the file's coordinates, turned if up is y, + final_offset) x final_scale
        "normalization": {"up": up, "final_scale": scale, "final_offset": offset.tolist()},
        "num_vertices": int(len(vertices)),
        "num_faces": int(len(faces)),
        "timings": {},
    }
    if resolver.missing:  # a texture the file names and nobody ships: said, and kept in meta.json
        meta["missing_files"] = sorted(set(resolver.missing))
        log.warning("%s: %s not found (looked beside it, up to %s, and in its texture folders); rendered without",
                    path, ", ".join(meta["missing_files"]), resolver.object_folder)
    if table_texels:  # parts coloured per vertex (scans, PLY) or per face (CAD): each face in its colour
        meta[COLOUR_TABLE] = {"kind": f"{' and '.join(sorted(coloured))} colours, one per face", "texels": table_texels}
    if CUTOUT_MAP in maps:  # glTF alpha, as holes (materials.cut_outs): one can see in through them
        meta["cut_outs"] = True
    if EMISSIVE_MAP in maps:
        meta["emission"] = True
    meta["double_sided"] = CUTOUT_MAP in maps or not closed_and_outward(vertices, faces)
    return Asset(vertices, faces, uv, np.ascontiguousarray(texture), meta, maps=maps,
                 double_sided=meta["double_sided"])

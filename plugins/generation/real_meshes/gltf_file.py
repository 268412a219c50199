"""What a glTF file's JSON says before trimesh reads it: its generator (lrmzero's own files are Z up), the
extensions it requires (refused by name where this reader cannot decode one)."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path


def gltf_tree(path: Path) -> dict:
    """A glTF file's JSON (``{}`` for another format, or a file that cannot be read as glTF)."""
    if path.suffix.lower() not in (".glb", ".gltf"):
        return {}
    try:
        with open(path, "rb") as f:
            if path.suffix.lower() == ".glb":  # header, then the JSON chunk: length, type, bytes
                f.seek(12)
                length = struct.unpack("<I", f.read(4))[0]
                f.seek(20)
                tree = json.loads(f.read(min(length, 1 << 26)))
            else:
                tree = json.load(f)
        return tree if isinstance(tree, dict) else {}
    except (OSError, ValueError, struct.error):
        return {}


def gltf_generator(path: Path) -> str:
    """A glTF file's ``asset.generator`` ("" where it has none or cannot be read)."""
    asset = gltf_tree(path).get("asset", {})
    return str(asset.get("generator", "")) if isinstance(asset, dict) else ""


# The extensions a glTF file may require (``extensionsRequired``: a reader that lacks one reads it wrong)
# that this reader decodes (trimesh's loader; KHR_texture_transform: texture_transform.py), with the module
# each needs; trimesh reads the others' placeholders as they are (Draco-compressed geometry without DracoPy as
# empty accessors, quantized positions as raw integers), so a file requiring one is refused.
READABLE_EXTENSIONS = {"KHR_draco_mesh_compression": "DracoPy", "KHR_materials_pbrSpecularGlossiness": None,
                       "EXT_texture_webp": None, "KHR_texture_transform": None}


def check_gltf_extensions(path: Path, tree: dict) -> None:
    """Raise ValueError naming each extension the glTF file ``path`` (its JSON: ``tree``) requires that cannot
    be decoded here, and what would decode it."""
    required = tree.get("extensionsRequired", [])
    unknown = sorted(str(name) for name in required if str(name) not in READABLE_EXTENSIONS)
    if unknown:
        raise ValueError(f"{path}: requires the glTF extension(s) {', '.join(unknown)}, which the mesh reader cannot "
                         f"decode; allowed: {', '.join(sorted(READABLE_EXTENSIONS))} (convert the file, e.g. with "
                         "gltf-transform, to plain glTF)")
    for name in required:
        module = READABLE_EXTENSIONS[str(name)]
        if module is not None and importlib.util.find_spec(module) is None:
            raise ValueError(f"{path}: requires the glTF extension {name}, decoded by {module}, which is not "
                             "installed: pip install 'lrmzero[meshes]'")

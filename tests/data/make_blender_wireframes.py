"""Writes blender_wireframes.npz: Blender's own Wireframe modifier (as the official augment_shape.py sets
it: thickness t, use_replace, use_even_offset, offset 0) applied to small polygon meshes, the reference
`test_augmentations` holds `wireframe_modifier` to. Run with a Python that has bpy (Blender 5.0.1 wrote
the file in the repository):

    LRMZERO_BPY_PYTHON=~/.bpy/bin/python; $LRMZERO_BPY_PYTHON tests/data/make_blender_wireframes.py
"""

import importlib.util
from pathlib import Path

import bpy  # first: it makes bmesh importable
import bmesh
import numpy as np

# lrmzero's polygon meshes, loaded from their file: plain numpy, so Blender's Python needs no lrmzero
_SOURCE = Path(__file__).resolve().parents[2] / "plugins" / "augmentations" / "polygon_meshes.py"
_SPEC = importlib.util.spec_from_file_location("polygon_meshes", _SOURCE)
polygon_meshes = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(polygon_meshes)

THICKNESS = 0.03
BASES = {  # small meshes with every corner kind: quads, n-gon caps, triangle fans, a subdivided grid
    "cube": polygon_meshes.cube(0.4),
    "cylinder8": polygon_meshes.cylinder(0.3, 0.5, vertices=8),
    "cone6": polygon_meshes.cone(0.35, 0.6, vertices=6),
    "sphere8x4": polygon_meshes.uv_sphere(0.4, segments=8, rings=4),
    "cube_subdivided": polygon_meshes.subdivide(polygon_meshes.cube(0.4), 1, smooth=False),
}


def wireframe(points: np.ndarray, polygons: list) -> tuple[np.ndarray, float]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("base")
    mesh.from_pydata(points.tolist(), [], [list(map(int, p)) for p in polygons])
    mesh.update()
    obj = bpy.data.objects.new("base", mesh)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    modifier = obj.modifiers.new("wireframe", "WIREFRAME")
    modifier.thickness = THICKNESS
    modifier.use_replace = True
    modifier.use_even_offset = True
    modifier.offset = 0.0
    bpy.ops.object.modifier_apply(modifier="wireframe")
    bm = bmesh.new()
    bm.from_mesh(obj.data)
    volume = bm.calc_volume(signed=True)
    return np.array([v.co[:] for v in obj.data.vertices]), volume


arrays = {"thickness": np.float64(THICKNESS), "blender_version": np.array(bpy.app.version_string)}
for name, (points, polygons) in BASES.items():
    vertices, volume = wireframe(np.asarray(points, np.float64), polygons)
    arrays[f"{name}/points"] = np.asarray(points, np.float64)
    arrays[f"{name}/polygon_sizes"] = np.array([len(p) for p in polygons])
    arrays[f"{name}/polygon_corners"] = np.concatenate([np.asarray(p) for p in polygons])
    arrays[f"{name}/vertices"] = vertices
    arrays[f"{name}/volume"] = np.float64(volume)
    print(name, len(vertices), "vertices, volume", volume)
np.savez_compressed(Path(__file__).with_name("blender_wireframes.npz"), **arrays)

"""Writes blender_meshes.npz, the references `test_augmentations` holds the wireframe augmentation to, made
by Blender itself as the official augment_shape.py makes them:

- ``base/<kind>/<subdivision>``: the vertices of ``primitive_<kind>_add`` at size 0.4 (cone and cylinder
  radius 0.4, torus 0.4 and 0.12, UV sphere radius 0.4, cube side 0.8), as they are and after the
  Subdivision Surface modifier with the official settings (simple or Catmull-Clark, a cube 3 levels,
  the rest 1, no limit surface);
- ``wireframe/<name>/...``: the Wireframe modifier (thickness t, use_replace, use_even_offset, offset 0)
  on small polygon meshes of every corner kind: their points, polygons, and Blender's vertices and volume.

Run with a Python that has bpy (Blender 5.0.1 wrote the file in the repository):

    ~/.bpy/bin/python tests/data/make_blender_meshes.py
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


SIZE = 0.4


def blender_primitive(kind: str, subdivision: str) -> np.ndarray:
    """Vertices ``[V, 3]`` of Blender's default mesh of ``kind`` at SIZE (as augment_shape.py adds it),
    subdivided as augment_a_wireframe_primitive does (``none``, ``simple`` or ``catmull_clark``)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    add = {"sphere": lambda: bpy.ops.mesh.primitive_uv_sphere_add(radius=SIZE),
           "cube": lambda: bpy.ops.mesh.primitive_cube_add(size=2 * SIZE),
           "cone": lambda: bpy.ops.mesh.primitive_cone_add(radius1=SIZE),
           "cylinder": lambda: bpy.ops.mesh.primitive_cylinder_add(radius=SIZE),
           "torus": lambda: bpy.ops.mesh.primitive_torus_add(major_radius=SIZE, minor_radius=SIZE * 0.3)}
    add[kind]()
    obj = bpy.context.active_object
    if subdivision != "none":
        modifier = obj.modifiers.new("subdivision", "SUBSURF")
        modifier.subdivision_type = subdivision.upper()
        modifier.levels = modifier.render_levels = 3 if kind == "cube" else 1
        modifier.use_limit_surface = False
        modifier.quality = 3
        modifier.boundary_smooth = "ALL"
        modifier.use_creases = True
        bpy.ops.object.modifier_apply(modifier="subdivision")
    return np.array([v.co[:] for v in obj.data.vertices], np.float32)


arrays = {"thickness": np.float64(THICKNESS), "size": np.float64(SIZE),
          "blender_version": np.array(bpy.app.version_string)}
for kind in ("sphere", "cube", "cone", "cylinder", "torus"):
    for subdivision in ("none", "simple", "catmull_clark"):
        arrays[f"base/{kind}/{subdivision}"] = blender_primitive(kind, subdivision)
for name, (points, polygons) in BASES.items():
    vertices, volume = wireframe(np.asarray(points, np.float64), polygons)
    arrays[f"wireframe/{name}/points"] = np.asarray(points, np.float64)
    arrays[f"wireframe/{name}/polygon_sizes"] = np.array([len(p) for p in polygons])
    arrays[f"wireframe/{name}/polygon_corners"] = np.concatenate([np.asarray(p) for p in polygons])
    arrays[f"wireframe/{name}/vertices"] = vertices
    arrays[f"wireframe/{name}/volume"] = np.float64(volume)
    print(name, len(vertices), "vertices, volume", volume)
np.savez_compressed(Path(__file__).with_name("blender_meshes.npz"), **arrays)

"""Writes blender_meshes.npz, the references `test_augmentations` holds the wireframe augmentation to, made
by Blender itself as the official augment_shape.py makes them:

- ``base/<kind>/<subdivision>``: the vertices of ``primitive_<kind>_add`` at size 0.4 (cone and cylinder
  radius 0.4, torus 0.4 and 0.12, UV sphere radius 0.4, cube side 0.8), as they are and after the
  Subdivision Surface modifier with the official settings (simple or Catmull-Clark, a cube 3 levels,
  the rest 1, no limit surface);
- ``uv/<kind>/<subdivision>/...``: Blender's UV map of some of those meshes, per face corner (positions,
  UVs, face sizes): the UVs a wireframe's beams show;
- ``wireframe/<name>/...``: the Wireframe modifier (thickness t, use_replace, use_even_offset, offset 0)
  on small polygon meshes of every corner kind, given lrmzero's UV map: their points, polygons, and
  Blender's vertices, volume and (position, UV) per face corner.

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


def corners(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions [L, 3], UVs [L, 2], face sizes [F]) of a mesh's face corners, face by face."""
    uv = mesh.uv_layers.active.data
    loops = [li for p in mesh.polygons for li in p.loop_indices]
    positions = np.array([mesh.vertices[mesh.loops[li].vertex_index].co[:] for li in loops], np.float32)
    uvs = np.array([uv[li].uv[:] for li in loops], np.float32)
    return positions, uvs, np.array([len(p.vertices) for p in mesh.polygons])


def wireframe(points: np.ndarray, polygons: list, corner_uv: list):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("base")
    mesh.from_pydata(points.tolist(), [], [list(map(int, p)) for p in polygons])
    mesh.update()
    layer = mesh.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", np.concatenate(corner_uv).astype(np.float32).ravel())
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
    return np.array([v.co[:] for v in obj.data.vertices]), volume, corners(obj.data)


SIZE = 0.4


def blender_primitive(kind: str, subdivision: str):
    """Blender's default mesh of ``kind`` at SIZE (as augment_shape.py adds it), subdivided as
    augment_a_wireframe_primitive does (``none``, ``simple`` or ``catmull_clark``): its vertices ``[V, 3]``
    and its face corners (:func:`corners`)."""
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
        modifier.uv_smooth = "PRESERVE_BOUNDARIES"
        bpy.ops.object.modifier_apply(modifier="subdivision")
    return np.array([v.co[:] for v in obj.data.vertices], np.float32), corners(obj.data)


arrays = {"thickness": np.float64(THICKNESS), "size": np.float64(SIZE),
          "blender_version": np.array(bpy.app.version_string)}
# UV maps: every kind as added, "simple" (linear within each face) and Catmull-Clark (UVs smoothed inside
# their islands, island borders kept); the UV sphere and torus with "simple" are left out (linear, as the cone's)
UV_CASES = {("sphere", "none"), ("cube", "none"), ("cone", "none"), ("cylinder", "none"), ("torus", "none"),
            ("cube", "simple"), ("cone", "simple"), ("cylinder", "simple"), ("cube", "catmull_clark"),
            ("cylinder", "catmull_clark"), ("cone", "catmull_clark"), ("sphere", "catmull_clark"),
            ("torus", "catmull_clark")}
for kind in ("sphere", "cube", "cone", "cylinder", "torus"):
    for subdivision in ("none", "simple", "catmull_clark"):
        vertices, (positions, uvs, sizes) = blender_primitive(kind, subdivision)
        arrays[f"base/{kind}/{subdivision}"] = vertices
        if (kind, subdivision) in UV_CASES:
            for key, value in (("positions", positions), ("uvs", uvs), ("face_sizes", sizes)):
                arrays[f"uv/{kind}/{subdivision}/{key}"] = value
for name, (points, polygons) in BASES.items():
    kind = {"cube": "cube", "cylinder8": "cylinder", "cone6": "cone", "sphere8x4": "sphere"}.get(name)
    if name == "cube_subdivided":
        base_points, base_polygons = polygon_meshes.cube(0.4)
        corner_uv = polygon_meshes.subdivide_with_uvs(
            (base_points, base_polygons), polygon_meshes.default_uvs("cube", base_points, base_polygons), 1, False)[2]
    else:
        corner_uv = polygon_meshes.default_uvs(kind, np.asarray(points, np.float64), polygons)
    vertices, volume, (positions, uvs, _) = wireframe(np.asarray(points, np.float64), polygons, corner_uv)
    arrays[f"wireframe/{name}/corner_positions"] = positions
    arrays[f"wireframe/{name}/corner_uvs"] = uvs
    arrays[f"wireframe/{name}/points"] = np.asarray(points, np.float64)
    arrays[f"wireframe/{name}/polygon_sizes"] = np.array([len(p) for p in polygons])
    arrays[f"wireframe/{name}/polygon_corners"] = np.concatenate([np.asarray(p) for p in polygons])
    arrays[f"wireframe/{name}/vertices"] = vertices
    arrays[f"wireframe/{name}/volume"] = np.float64(volume)
    print(name, len(vertices), "vertices, volume", volume)
np.savez_compressed(Path(__file__).with_name("blender_meshes.npz"), **arrays)

"""Runs inside a Python that has Blender's `bpy` (Blender pins its own numpy, so it usually lives in
its own environment): renders one object with Cycles as the official Zeroverse script does.

Usage: python cycles_worker.py JOB_FOLDER

JOB_FOLDER holds ``scene.npz`` (vertices [V, 3] in the Z-up world, faces [F, 3], uv [V, 2],
w2c [N, 4, 4] OpenCV, K [N, 3, 3]), the textures ``base_color.png``, ``metallic_roughness.png``,
``normal.png`` and ``settings.json``; the worker writes ``rgba.npy``: [N, H, W, 4] float32, linear
colour premultiplied by alpha (what Cycles writes with a transparent film), rows from the top.
Only numpy and bpy are imported here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# This folder holds lrmzero's cycles.py, which would shadow Blender's own `cycles` add-on.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

# OpenCV camera axes (x right, y down, z forward) to Blender's (x right, y up, looking down -z).
OPENCV_TO_BLENDER = np.diag([1.0, -1.0, -1.0, 1.0])


def reset() -> None:
    """An empty scene (the factory-settings reset would also turn the Cycles add-on off)."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)


def build_mesh(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray) -> bpy.types.Object:
    mesh = bpy.data.meshes.new("object")
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", vertices.astype(np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(faces), 3, np.int32))
    # Flat shading, as Blender's primitives (the wireframes' bases) are: a mesh built through the API is
    # smooth-shaded since Blender 4.1, which rounds every strut. (The official main shapes carry smooth
    # vertex normals; at their tessellation Cycles renders them 41-56 dB from flat, measured 2026-11-27.)
    mesh.polygons.foreach_set("use_smooth", np.zeros(len(faces), bool))
    layer = mesh.uv_layers.new(name="uv")
    layer.data.foreach_set("uv", uv[faces.ravel()].astype(np.float32).ravel())
    mesh.update(calc_edges=True)
    mesh.validate()
    obj = bpy.data.objects.new("object", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def image_node(nodes, path: Path, colour: bool):
    node = nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.load(str(path))
    node.image.colorspace_settings.name = "sRGB" if colour else "Non-Color"
    node.interpolation = "Linear"
    node.extension = "EXTEND"
    return node


def build_material(obj, folder: Path) -> None:
    """A Principled BSDF fed by the atlas: base colour (sRGB), roughness (G) and metallic (B) of
    the metallic-roughness map, the tangent-space normal map, and the cut-outs' opacity and the emission
    where there are any, as glTF's importer wires them."""
    material = bpy.data.materials.new("atlas")
    material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["Principled BSDF"]
    base = image_node(nodes, folder / "base_color.png", True)
    links.new(base.outputs["Color"], bsdf.inputs["Base Color"])
    packed = image_node(nodes, folder / "metallic_roughness.png", False)
    split = nodes.new("ShaderNodeSeparateColor")
    links.new(packed.outputs["Color"], split.inputs["Color"])
    links.new(split.outputs["Green"], bsdf.inputs["Roughness"])
    links.new(split.outputs["Blue"], bsdf.inputs["Metallic"])
    normal = image_node(nodes, folder / "normal.png", False)
    normal_map = nodes.new("ShaderNodeNormalMap")
    normal_map.uv_map = "uv"
    links.new(normal.outputs["Color"], normal_map.inputs["Color"])
    links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    if (folder / "opacity.png").exists():  # cut-outs: no surface where the map is below one half, as glTF's
        opacity = image_node(nodes, folder / "opacity.png", False)  # importer wires alphaMode MASK
        cut = nodes.new("ShaderNodeMath")
        cut.operation = "GREATER_THAN"
        cut.inputs[1].default_value = 0.5
        links.new(opacity.outputs["Color"], cut.inputs[0])
        links.new(cut.outputs["Value"], bsdf.inputs["Alpha"])
    if (folder / "emissive.png").exists():  # emission at strength 1, as glTF's importer sets it
        emissive = image_node(nodes, folder / "emissive.png", True)
        links.new(emissive.outputs["Color"], bsdf.inputs["Emission Color"])
        bsdf.inputs["Emission Strength"].default_value = 1.0
    obj.data.materials.append(material)


def setup_scene(settings: dict) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    world = bpy.data.worlds.new("uniform")
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs[0].default_value = (1.0, 1.0, 1.0, 1.0)
    background.inputs[1].default_value = 1.0
    scene.world = world
    cycles = scene.cycles
    cycles.samples = settings["samples"]
    cycles.diffuse_bounces = 1
    cycles.glossy_bounces = 1
    cycles.transparent_max_bounces = 3
    cycles.transmission_bounces = 3
    cycles.filter_width = settings["filter_width"]
    cycles.use_denoising = settings["denoise"]
    cycles.seed = settings["seed"]
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.image_settings.color_mode = "RGBA"
    cycles.device = "CPU"
    for kind in {"auto": ["OPTIX", "CUDA"], "CPU": []}.get(settings["device"], [settings["device"]]):
        prefs = bpy.context.preferences.addons["cycles"].preferences
        try:
            prefs.compute_device_type = kind
        except TypeError:  # this build has no such backend
            continue
        prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type == kind]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == kind
            cycles.device = "GPU"
            break
    print(f"cycles device: {cycles.device}", flush=True)
    if settings.get("threads"):
        scene.render.threads_mode = "FIXED"
        scene.render.threads = int(settings["threads"])


def add_camera(width: int, height: int):
    scene = bpy.context.scene
    data = bpy.data.cameras.new("camera")
    camera = bpy.data.objects.new("camera", data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.clip_start, data.clip_end = 0.01, 100.0
    return camera


def pose_camera(camera, w2c: np.ndarray, K: np.ndarray, width: int, height: int) -> None:
    from mathutils import Matrix

    c2w = np.linalg.inv(w2c) @ OPENCV_TO_BLENDER
    camera.matrix_world = Matrix(c2w.tolist())
    data = camera.data
    data.lens = K[0, 0] * data.sensor_width / width
    # shifts are in units of the larger image side
    largest = max(width, height)
    data.shift_x = -(K[0, 2] - width / 2.0) / largest
    data.shift_y = (K[1, 2] - height / 2.0) / largest


def main(folder: Path) -> None:
    settings = json.loads((folder / "settings.json").read_text())
    scene_data = np.load(folder / "scene.npz")
    reset()
    setup_scene(settings)
    obj = build_mesh(scene_data["vertices"], scene_data["faces"], scene_data["uv"])
    build_material(obj, folder)
    width, height = settings["width"], settings["height"]
    camera = add_camera(width, height)
    out = np.empty((len(scene_data["w2c"]), height, width, 4), np.float32)
    for i, (w2c, K) in enumerate(zip(scene_data["w2c"], scene_data["K"])):
        pose_camera(camera, w2c, K, width, height)
        path = folder / f"view_{i:03d}.exr"
        bpy.context.scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        image = bpy.data.images.load(str(path))
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
        out[i] = pixels.reshape(height, width, 4)[::-1]  # Blender's rows start at the bottom
        bpy.data.images.remove(image)
        path.unlink()
        print(f"view {i + 1}/{len(out)}", flush=True)
    np.save(folder / "rgba.npy", out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

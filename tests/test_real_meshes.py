"""`lrmzero render`'s reading of real meshes: every part in its own look (textures and glTF materials,
flat colours, vertex and face colours, repeating textures), joined into one atlas without resampling, and
stood up as Blender imports them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from PIL import Image

from lrmzero.plugins.generation.config import load_config
from tests.conftest import run_cli


def test_face_colour_table_gives_every_face_its_colour():
    from lrmzero.plugins.generation.real_meshes.materials import face_colour_table

    mesh = trimesh.creation.icosphere(subdivisions=2)
    colours = np.random.default_rng(0).integers(0, 256, (len(mesh.faces), 3)).astype(np.uint8)
    colours[::2] = (10, 20, 30)  # faces of one colour share its texel
    vertices, faces, uv, texture = face_colour_table(mesh.vertices, mesh.faces, colours)
    assert np.array_equal(vertices[faces], mesh.vertices[mesh.faces])  # the same triangles, in order
    side = texture.shape[0]
    assert texture.shape == (side, side, 3) and side == int(np.ceil(np.sqrt(len(np.unique(colours, axis=0)))))
    # each corner at a texel's centre (row 0 at v = 1), a face's three at the same one, holding its colour
    row_col = np.stack([(1 - uv[:, 1]) * side - 0.5, uv[:, 0] * side - 0.5], axis=1)
    assert np.allclose(row_col, np.round(row_col))
    texel = np.round(row_col).astype(int)[faces]  # [F, 3 corners, 2]
    assert (texel == texel[:, :1]).all()
    assert np.array_equal(texture[texel[:, 0, 0], texel[:, 0, 1]], colours)
    # one colour: no vertex split, one texel
    one_v, one_f, _, one_texture = face_colour_table(mesh.vertices, mesh.faces, np.full_like(colours, 99))
    assert len(one_v) == len(mesh.vertices) and one_texture.shape == (1, 1, 3)
    assert np.array_equal(one_v[one_f], mesh.vertices[mesh.faces])


@pytest.mark.parametrize("colouring", ["vertex", "face"])
def test_render_keeps_a_meshs_vertex_or_face_colours(tmp_path, colouring):
    """A mesh coloured per vertex (a scan's PLY) or per face (CAD) renders in its colours, not their mean,
    and its mesh.glb holds them exactly."""
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.6)
    ball.apply_translation((1.2, 0, 0))
    for part, rgb in ((box, (220, 40, 30)), (ball, (30, 60, 220))):
        count = len(part.vertices) if colouring == "vertex" else len(part.faces)
        setattr(part.visual, f"{colouring}_colors", np.tile([*rgb, 255], (count, 1)))
    mesh = trimesh.util.concatenate([box, ball])
    assert mesh.visual.kind == colouring
    (tmp_path / "in").mkdir()
    mesh.export(tmp_path / "in" / "two.ply")
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "in"), "--out", str(out), "--quiet", "--config", "demo",
                  "render.renderer=raycast", "render.views=2", "render.resolution=48")
    assert res.returncode == 0, res.stderr
    rgba = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "two" / "rgba").glob("*.png"))])
    opaque = rgba[..., :3][rgba[..., 3] == 255].astype(int)
    red = np.mean(opaque[:, 0] > opaque[:, 2] + 80)
    blue = np.mean(opaque[:, 2] > opaque[:, 0] + 80)
    assert red > 0.2 and blue > 0.1, (red, blue)  # the mean of the two would be neither
    meta = json.loads((out / "two" / "meta.json").read_text())
    assert meta["colour_table"] == {"kind": f"{colouring} colours, one per face", "texels": 4}
    glb = trimesh.load(out / "two" / "mesh.glb", force="mesh")
    texture = np.asarray(glb.visual.material.baseColorTexture.convert("RGB"))
    side = texture.shape[0]
    corner_uv = glb.visual.uv[glb.faces[:, 0]]
    texel = texture[((1 - corner_uv[:, 1]) * side).astype(int), (corner_uv[:, 0] * side).astype(int)]
    assert {tuple(c) for c in texel} == {(220, 40, 30), (30, 60, 220)}  # exact: written as PNG


def test_a_textured_part_and_a_coloured_part_keep_both_looks(tmp_path):
    """A file with a textured part beside a coloured one: each face in its own colour, exactly (trimesh
    joined the two into one grey, and its atlas shifted a colour table's texels by up to one)."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    box = trimesh.creation.box((1.0, 1.0, 1.0))
    box.visual = trimesh.visual.TextureVisuals(uv=np.full((len(box.vertices), 2), 0.5), material=(
        trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(np.full((4, 4, 3), (200, 30, 30),
                                                                                     np.uint8)))))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    ball.apply_translation((2.0, 0, 0))
    ball.unmerge_vertices()  # glTF keeps colours per vertex: a face's own corners keep its colour
    colours = np.random.default_rng(0).integers(0, 256, (len(ball.faces), 3)).astype(np.uint8)
    ball.visual.vertex_colors = np.column_stack([colours.repeat(3, axis=0), np.full(3 * len(colours), 255)])
    assert np.array_equal(ball.vertices[ball.faces], ball.vertices.reshape(-1, 3, 3))
    trimesh.Scene([box, ball]).export(tmp_path / "mixed.glb")
    asset = load_mesh_asset(tmp_path / "mixed.glb")
    h, w = asset.texture.shape[:2]
    uv = asset.uv[asset.faces].mean(axis=1)
    got = asset.texture[np.clip(((1 - uv[:, 1]) * h).astype(int), 0, h - 1),
                        np.clip((uv[:, 0] * w).astype(int), 0, w - 1)]
    on_ball = asset.vertices[asset.faces].mean(axis=1)[:, 0] > 0
    assert {tuple(c) for c in got[~on_ball]} == {(200, 30, 30)}
    assert np.array_equal(got[on_ball], colours)  # the ball's faces, in their order
    assert asset.meta["colour_table"]["kind"] == "vertex colours, one per face"


def test_a_gltf_base_colour_is_its_factor_times_its_texture(tmp_path):
    """Several glTF materials with textures and base colour factors (Blender writes [1, 1, 1, 1] beside a
    texture): each face keeps factor x texture, in linear light as glTF defines it (trimesh's own packing
    of such materials turned every colour c into 256 - c)."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    def encode(linear):  # sRGB's transfer function (IEC 61966-2-1), written out
        return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)

    def decode(code):
        value = code / 255.0
        return np.where(value <= 0.04045, value / 12.92, ((value + 0.055) / 1.055) ** 2.4)

    parts, expected = [], []
    for k, (texel, factor) in enumerate([((200, 30, 30), (1.0, 1.0, 1.0)), ((30, 30, 200), (1.0, 1.0, 1.0)),
                                         ((255, 255, 255), (1.0, 0.2, 0.2)), ((90, 160, 60), (0.5, 0.8, 1.0))]):
        box = trimesh.creation.box((1.0, 1.0, 1.0))
        box.apply_translation((2.0 * k, 0, 0))
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.fromarray(np.full((8, 8, 3), texel, np.uint8)), baseColorFactor=[*factor, 1.0])
        box.visual = trimesh.visual.TextureVisuals(uv=np.full((len(box.vertices), 2), 0.5), material=material)
        parts.append(box)
        expected.append(np.round(encode(decode(np.array(texel)) * np.array(factor)) * 255))
    trimesh.Scene(parts).export(tmp_path / "parts.glb")
    asset = load_mesh_asset(tmp_path / "parts.glb")
    h, w = asset.texture.shape[:2]
    uv = asset.uv[asset.faces].mean(axis=1)
    got = asset.texture[np.clip(((1 - uv[:, 1]) * h).astype(int), 0, h - 1),
                        np.clip((uv[:, 0] * w).astype(int), 0, w - 1)]
    centre_x = asset.vertices[asset.faces].mean(axis=1)[:, 0]
    for k, colour in enumerate(expected):  # the boxes lie along x in order
        faces = np.argsort(centre_x)[12 * k: 12 * (k + 1)]
        assert np.abs(got[faces].astype(int) - colour).max() <= 1, (k, got[faces][0], colour)


@pytest.mark.parametrize("parts", [1, 2])
def test_untextured_materials_show_their_linear_colour(tmp_path, parts):
    """An OBJ's Kd and a glTF base colour factor without a texture are linear values (Blender reads Kd so,
    glTF defines its factor so): Kd 0.8 shows as sRGB 231. One material alone (an OBJ of one Kd material
    failed to load) or several."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    def encode(linear):  # sRGB's transfer function (IEC 61966-2-1), written out
        return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055) * 255

    kd = [(0.8, 0.1, 0.1), (0.1, 0.3, 0.8)][:parts]
    (tmp_path / "m.mtl").write_text("".join(f"newmtl m{k}\nKd {r} {g} {b}\n" for k, (r, g, b) in enumerate(kd)))
    obj = ["mtllib m.mtl"]
    for k in range(parts):
        obj += [f"v {2 * k} 0 0", f"v {2 * k + 1} 0 0", f"v {2 * k + 1} 1 0", f"usemtl m{k}",
                f"f {3 * k + 1} {3 * k + 2} {3 * k + 3}"]
    (tmp_path / "m.obj").write_text("\n".join(obj) + "\n")
    boxes = []
    for k, factor in enumerate(kd):
        box = trimesh.creation.box((1.0, 1.0, 1.0))
        box.apply_translation((2.0 * k, 0, 0))
        box.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(
            baseColorFactor=[*factor, 1.0]))
        boxes.append(box)
    trimesh.Scene(boxes).export(tmp_path / "m.glb")
    for name in ("m.obj", "m.glb"):
        asset = load_mesh_asset(tmp_path / name)
        h, w = asset.texture.shape[:2]
        uv = asset.uv[asset.faces].mean(axis=1)
        got = asset.texture[np.clip(((1 - uv[:, 1]) * h).astype(int), 0, h - 1),
                            np.clip((uv[:, 0] * w).astype(int), 0, w - 1)].astype(int)
        x = asset.vertices[asset.faces].mean(axis=1)[:, 0]
        part_of_face = (x > (x.min() + x.max()) / 2).astype(int) if parts == 2 else np.zeros(len(x), int)
        for k in range(parts):  # the parts lie along x in order
            faces = part_of_face == k
            assert np.abs(got[faces] - encode(np.array(kd[k]))).max() <= 1.5, (name, k, got[faces][0])


def test_repeating_textures_are_unwrapped_face_by_face():
    """UVs past the unit square repeat the texture (glTF's and OBJ's default): after unwrapping, every point
    of every face shows the texel that repeating gives it, faces across a repeat's edge and one touching
    u = 1 included (wrapping each vertex alone sampled such faces across the texture backwards)."""
    from lrmzero.plugins.generation.real_meshes.materials import unwrap_repeating_uvs

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    uv = np.array([[0.1, 0.1], [0.9, 0.2], [0.5, 0.9],       # inside
                   [0.6, 0.5], [1.0, 0.5], [0.8, 1.0],       # touching u = 1 and v = 1
                   [0.8, 0.3], [1.3, 0.4], [1.1, 0.9],       # across u = 1
                   [-0.3, -0.2], [0.2, -0.4], [0.1, 0.3],    # below 0, across both edges
                   [2.2, 1.1], [2.7, 1.2], [2.4, 1.45]])     # two repeats right, one up
    vertices = np.column_stack([uv, np.zeros(len(uv))])
    faces = np.arange(len(uv)).reshape(-1, 3)

    def unwrapped(max_size):
        visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(texture))
        return unwrap_repeating_uvs(trimesh.Trimesh(vertices, faces, visual=visual, process=False), max_size)

    part = unwrapped(4096)
    new_uv, new_faces = np.asarray(part.visual.uv), np.asarray(part.faces)
    assert np.array_equal(np.asarray(part.vertices)[new_faces], vertices[faces])  # the same faces, in order
    assert new_uv.min() >= 0 and new_uv.max() <= 1
    tiled = np.asarray(part.visual.material.image)
    assert tiled.shape == (8, 8, 3)  # the faces reach 2 repeats along u and v once each moved

    def nearest(image, points):  # v up: row 0 at v = 1
        h, w = image.shape[:2]
        return image[np.clip(((1 - points[:, 1]) * h).astype(int), 0, h - 1),
                     np.clip((points[:, 0] * w).astype(int), 0, w - 1)]

    weights = rng.dirichlet(np.ones(3), 200)
    for f, nf in zip(faces, new_faces):
        truth = nearest(texture, np.mod(weights @ uv[f], 1.0))  # repeat each point, not each vertex
        assert np.mean(np.all(nearest(tiled, weights @ new_uv[nf]) == truth, axis=1)) >= 0.97, f
    # over max_size, each repeat is shrunk (area-averaged) so that the whole fits
    small = np.asarray(unwrapped(4).visual.material.image).astype(int)
    block_means = texture.reshape(2, 2, 2, 2, 3).mean(axis=(1, 3))
    assert small.shape == (4, 4, 3) and np.abs(small[:2, :2] - block_means).max() <= 1
    assert np.array_equal(small[:2, :2], small[2:, 2:])
    # a part inside the unit square is left as it is, exporters' rounding at its edges included
    rounded = np.array([[-1e-5, 0.1], [1 + 1e-5, 0.2], [0.5, 1 + 1e-5]])
    inside = trimesh.Trimesh(vertices[:3], faces[:1], process=False,
                             visual=trimesh.visual.TextureVisuals(uv=rounded, image=Image.fromarray(texture)))
    assert unwrap_repeating_uvs(inside) is inside
    # ... and such rounding beside a real repeat tiles the texture no further than the repeat needs
    rounded = np.vstack([uv[6:9], [[-1e-5, 0.2], [0.5, 1 + 1e-5], [0.4, 0.5]]])
    part = unwrap_repeating_uvs(trimesh.Trimesh(np.column_stack([rounded, np.zeros(6)]), faces[:2], process=False,
                                                visual=trimesh.visual.TextureVisuals(uv=rounded,
                                                                                     image=Image.fromarray(texture))))
    assert np.asarray(part.visual.material.image).shape == (4, 8, 3)  # 2 across (u up to 1.3), 1 down
    assert np.asarray(part.visual.uv).min() >= 0 and np.asarray(part.visual.uv).max() <= 1


def test_a_y_up_mesh_stands_up_as_blender_imports_it(tmp_path):
    """compose.mesh_up=y turns a file's +Y into the world's +Z as Blender's glTF importer does (glTF +Z,
    towards the viewer, becomes Blender's -Y); the default keeps the file's coordinates; gso-eval, the
    official renders' import, is y."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    column = trimesh.creation.box((0.2, 1.0, 0.4))  # tall along +Y
    column.apply_translation((0.3, 0.5, 0.2))  # its top at y = 1, its front at z = 0.4
    column.export(tmp_path / "column.glb")
    as_is = load_mesh_asset(tmp_path / "column.glb")
    upright = load_mesh_asset(tmp_path / "column.glb", up="y")
    assert np.allclose(np.ptp(as_is.vertices, axis=0), np.array([0.2, 1.0, 0.4]) * 1.8)
    assert np.allclose(np.ptp(upright.vertices, axis=0), np.array([0.2, 0.4, 1.0]) * 1.8)  # y -> z, z -> -y
    assert upright.meta["normalization"]["up"] == "y" and as_is.meta["normalization"]["up"] == "z"
    # each point as Blender's importer places it: (x, y, z) -> (x, -z, y) (both centred on the same box)
    x, y, z = as_is.vertices.T
    assert np.allclose(upright.vertices, np.column_stack([x, -z, y]))
    assert load_config("gso-eval", []).generate.compose.mesh_up == "y"
    assert load_config(None, []).generate.compose.mesh_up == "auto"


def test_auto_stands_a_file_up_as_blenders_importer_of_its_format_does(tmp_path):
    """compose.mesh_up=auto (the default): glTF and OBJ files Y up, lrmzero's own mesh.glb (its
    asset.generator says so) and PLY, STL, OFF as they are; `lrmzero render` stands a foreign GLB up."""
    from lrmzero.asset import GLB_GENERATOR, Asset, encode_glb
    from lrmzero.plugins.generation.real_meshes.load import file_up_axis, gltf_generator

    column = trimesh.creation.box((0.4, 1.6, 0.4))  # tall along +Y
    (tmp_path / "in").mkdir()
    for suffix in ("glb", "obj", "ply", "stl"):
        column.export(tmp_path / "in" / f"column.{suffix}")
    ours = Asset(column.vertices, column.faces, np.full((len(column.vertices), 2), 0.5),
                 np.full((2, 2, 3), 128, np.uint8))
    (tmp_path / "ours.glb").write_bytes(encode_glb(ours, "png", 1))
    assert gltf_generator(tmp_path / "ours.glb") == GLB_GENERATOR and gltf_generator(tmp_path / "in" / "column.glb")
    assert [file_up_axis(tmp_path / "in" / f"column.{s}") for s in ("glb", "obj", "ply", "stl")] == ["y", "y", "z", "z"]
    assert file_up_axis(tmp_path / "ours.glb") == "z"
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "in" / "column.glb"), "--out", str(out), "--quiet", "--config", "demo",
                  "render.renderer=raycast", "render.views=2", "render.resolution=16")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "column" / "meta.json").read_text())["normalization"]["up"] == "y"
    vertices = np.asarray(trimesh.load(out / "column" / "mesh.glb", force="mesh").vertices)
    assert np.argmax(np.ptp(vertices, axis=0)) == 2  # standing along the world's Z


def test_shelf_layout_places_padded_rectangles_apart_inside_the_atlas():
    from lrmzero.plugins.generation.real_meshes.atlas import shelf_layout

    sizes = [(int(h), int(w)) for h, w in np.random.default_rng(1).integers(1, 40, (25, 2))]
    corners, height, width = shelf_layout(sizes, padding=2)
    taken = np.zeros((height, width), int)
    for (top, left), (h, w) in zip(corners, sizes):
        assert top >= 2 and left >= 2 and top + h + 2 <= height and left + w + 2 <= width
        taken[top - 2: top + h + 2, left - 2: left + w + 2] += 1
    assert taken.max() == 1  # no two padded rectangles share a texel
    assert taken.sum() / taken.size > 0.5  # and the atlas is not mostly empty


def test_joined_parts_sample_their_own_texels_and_maps():
    """Every texel centre of every part's image lands on the same texel of the atlas (nothing resampled); a
    map only some parts have is filled with the flat default elsewhere."""
    from lrmzero.asset import FLAT_MAPS
    from lrmzero.plugins.generation.real_meshes.atlas import join_parts

    rng = np.random.default_rng(2)
    parts, expected = [], []
    for k, (h, w) in enumerate([(5, 7), (16, 3), (1, 1), (9, 9)]):
        image = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        uv = np.column_stack([(cols.ravel() + 0.5) / w, 1 - (rows.ravel() + 0.5) / h])  # every texel centre
        vertices = np.column_stack([uv, np.full(len(uv), float(k))])
        faces = np.arange(len(uv))[:, None].repeat(3, axis=1)  # a point-sized face per texel
        normal = rng.integers(0, 256, (h, w, 3)).astype(np.uint8) if k % 2 == 0 else None
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.fromarray(image), normalTexture=None if normal is None else Image.fromarray(normal))
        parts.append(trimesh.Trimesh(vertices, faces, process=False,
                                     visual=trimesh.visual.TextureVisuals(uv=uv, material=material)))
        expected.append((image.reshape(-1, 3), None if normal is None else normal.reshape(-1, 3)))
    vertices, faces, uv, texture, maps = join_parts(parts)
    assert set(maps) == {"normal"} and maps["normal"].shape == texture.shape
    height, width = texture.shape[:2]
    row = (1 - uv[:, 1]) * height - 0.5
    col = uv[:, 0] * width - 0.5
    assert np.allclose(row, np.round(row)) and np.allclose(col, np.round(col))  # texel centres
    row, col = np.round(row).astype(int), np.round(col).astype(int)
    start = 0
    for (colours, normals), part in zip(expected, parts):
        here = slice(start, start + len(part.vertices))
        assert np.array_equal(vertices[here], part.vertices)
        assert np.array_equal(texture[row[here], col[here]], colours)
        want = normals if normals is not None else np.tile(FLAT_MAPS["normal"], (len(colours), 1))
        assert np.array_equal(maps["normal"][row[here], col[here]], want)
        start += len(part.vertices)
    assert np.array_equal(faces, np.concatenate([p.faces + sum(len(q.vertices) for q in parts[:i])
                                                 for i, p in enumerate(parts)]))


def test_gltf_metalness_and_roughness_are_their_factors_times_their_texture(tmp_path):
    """glTF's metallic-roughness: B x metallicFactor, G x roughnessFactor, a factor left out being 1 (the
    spec's default, as Blender imports it); without a texture the factors alone. An OBJ material keeps the
    project's defaults (no map)."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    def metal_rough(asset):  # (roughness, metalness) in 0..255 at each face
        m = asset.maps["metallic_roughness"]
        uv = asset.uv[asset.faces].mean(axis=1)
        texel = m[np.clip(((1 - uv[:, 1]) * m.shape[0]).astype(int), 0, m.shape[0] - 1),
                  np.clip((uv[:, 0] * m.shape[1]).astype(int), 0, m.shape[1] - 1)]
        return {(int(g), int(b)) for _, g, b in texel}

    mr_texture = Image.fromarray(np.tile(np.array([0, 200, 100], np.uint8), (4, 4, 1)))
    cases = [({"metallicFactor": 0.0, "roughnessFactor": 0.3}, None, (76, 0)),
             ({}, None, (255, 255)),  # neither given: a rough metal
             ({"metallicFactor": 0.5}, mr_texture, (200, 50)),
             ({}, mr_texture, (200, 100))]
    for k, (factors, texture, expected) in enumerate(cases):
        box = trimesh.creation.box((1.0, 1.0, 1.0))
        material = trimesh.visual.material.PBRMaterial(baseColorFactor=[0.5, 0.5, 0.5, 1.0],
                                                       metallicRoughnessTexture=texture, **factors)
        box.visual = trimesh.visual.TextureVisuals(uv=np.full((len(box.vertices), 2), 0.5), material=material)
        box.export(tmp_path / f"box{k}.glb")
        assert metal_rough(load_mesh_asset(tmp_path / f"box{k}.glb")) == {expected}, (k, factors)
    (tmp_path / "m.mtl").write_text("newmtl m\nKd 0.5 0.5 0.5\n")
    (tmp_path / "m.obj").write_text("mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nusemtl m\nf 1 2 3\n")
    assert "metallic_roughness" not in load_mesh_asset(tmp_path / "m.obj").maps


def test_instances_of_one_textured_part_share_its_place_in_the_atlas(tmp_path):
    """A file placing one textured geometry 40 times (bolts, chair legs): the atlas holds its texture once, at
    full size, and every instance samples it."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    texture = np.random.default_rng(3).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    box = trimesh.creation.box((0.2, 0.2, 0.2))
    box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(4).random((len(box.vertices), 2)),
                                               material=trimesh.visual.material.PBRMaterial(
                                                   baseColorTexture=Image.fromarray(texture),
                                                   metallicFactor=0.0, roughnessFactor=0.5))
    other = trimesh.creation.icosphere(subdivisions=1, radius=0.3)
    other.visual.vertex_colors = np.tile([10, 200, 10, 255], (len(other.vertices), 1))
    scene = trimesh.Scene()
    for k in range(40):
        scene.add_geometry(box, geom_name="bolt", node_name=f"bolt{k}",
                           transform=trimesh.transformations.translation_matrix((k % 8, k // 8, 0)))
    scene.add_geometry(other, geom_name="ball")
    scene.export(tmp_path / "bolts.glb")
    asset = load_mesh_asset(tmp_path / "bolts.glb")
    assert len(asset.faces) == 40 * len(box.faces) + len(other.faces)
    height, width = asset.texture.shape[:2]
    assert height * width < 2 * (64 + 4) ** 2  # one copy of the texture (and the ball's colour), not 40
    corner_uv = asset.uv[asset.faces]  # [F, 3, 2]
    texel = asset.texture[np.clip(((1 - corner_uv[..., 1]) * height).astype(int), 0, height - 1),
                          np.clip((corner_uv[..., 0] * width).astype(int), 0, width - 1)]  # [F, 3, 3]
    ball = np.all(texel == (10, 200, 10), axis=(1, 2))
    assert ball.sum() == len(other.faces)
    bolts = corner_uv[~ball].reshape(40, len(box.faces), 3, 2)
    assert np.allclose(bolts, bolts[:1])  # every instance samples the same place
    box_uv = box.visual.uv[box.faces]
    want = texture[np.clip(((1 - box_uv[..., 1]) * 64).astype(int), 0, 63),
                   np.clip((box_uv[..., 0] * 64).astype(int), 0, 63)]
    assert np.array_equal(texel[~ball].reshape(40, len(box.faces), 3, 3)[0], want)  # the texture's own texels


def test_a_mirrored_instance_stays_outward_facing(tmp_path):
    """A geometry placed with a mirror (a left and a right shoe from one mesh) keeps its faces turned out:
    a mirror reverses their winding unless their corners are reversed too."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    box = trimesh.creation.box((1.0, 2.0, 3.0))
    scene = trimesh.Scene()
    scene.add_geometry(box, geom_name="shoe", node_name="right",
                       transform=trimesh.transformations.translation_matrix((2.0, 0, 0)))
    scene.add_geometry(box, geom_name="shoe", node_name="left", transform=np.diag([-1.0, 1.0, 1.0, 1.0]))
    scene.export(tmp_path / "shoes.glb")
    asset = load_mesh_asset(tmp_path / "shoes.glb")
    assert len(asset.faces) == 2 * len(box.faces)
    for half in (slice(0, len(box.faces)), slice(len(box.faces), None)):
        part = trimesh.Trimesh(asset.vertices, asset.faces[half], process=True)
        assert part.volume > 0 and np.isclose(part.volume, 6.0 * asset.meta["normalization"]["final_scale"] ** 3)


def test_a_gso_layout_renders_by_name_stood_up_in_its_texture(tmp_path):
    """GSO's layout (NAME/meshes/model.obj, its texture in NAME/materials/textures/) through `lrmzero render
    --config gso-eval`: one object per NAME, +Y up, its texture on it."""
    # the material names its texture by a path up and out of meshes/, or by its file name alone
    for name, rgb, named in (("Alarm_Clock", (200, 40, 40), "../materials/textures/texture.png"),
                             ("Bowl", (40, 40, 200), "texture.png")):
        root = tmp_path / "gso" / name
        (root / "meshes").mkdir(parents=True)
        (root / "materials" / "textures").mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), rgb, np.uint8)).save(root / "materials" / "textures" / "texture.png")
        (root / "meshes" / "model.mtl").write_text(f"newmtl m\nKd 1 1 1\nmap_Kd {named}\n")
        column = trimesh.creation.box((0.4, 1.6, 0.4))  # tall along the file's +Y
        uv = np.full((len(column.vertices), 2), 0.5)
        obj = ["mtllib model.mtl", *(f"v {x} {y} {z}" for x, y, z in column.vertices),
               *(f"vt {u} {v}" for u, v in uv), "usemtl m",
               *(f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}" for a, b, c in column.faces)]
        (root / "meshes" / "model.obj").write_text("\n".join(obj) + "\n")
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "gso"), "--out", str(out), "--quiet", "--config", "gso-eval",
                  "render.views=4", "render.resolution=32")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["Alarm_Clock", "Bowl"]
    for name, channel in (("Alarm_Clock", 0), ("Bowl", 2)):
        meta = json.loads((out / name / "meta.json").read_text())
        assert meta["normalization"]["up"] == "y"
        vertices = np.asarray(trimesh.load(out / name / "mesh.glb", force="mesh").vertices)
        assert np.argmax(np.ptp(vertices, axis=0)) == 2  # standing along the world's Z
        rgba = np.stack([np.asarray(Image.open(p)) for p in sorted((out / name / "rgba").glob("*.png"))])
        opaque = rgba[..., :3][rgba[..., 3] == 255].astype(int)
        assert np.mean(opaque[:, channel] > opaque[:, 2 - channel] + 60) > 0.9, name  # its texture's colour


def test_a_mesh_reaches_its_object_folder_and_no_further(tmp_path):
    from lrmzero.plugins.generation.real_meshes.load import MeshFileResolver

    (tmp_path / "objects" / "a" / "meshes").mkdir(parents=True)
    (tmp_path / "objects" / "a" / "materials" / "textures").mkdir(parents=True)
    (tmp_path / "objects" / "a" / "materials" / "textures" / "t.png").write_bytes(b"a's texture")
    (tmp_path / "objects" / "b").mkdir()
    (tmp_path / "objects" / "b" / "t.png").write_bytes(b"b's texture")
    (tmp_path / "secret.txt").write_bytes(b"not a texture")
    resolver = MeshFileResolver(tmp_path / "objects" / "a" / "meshes" / "model.obj")
    assert resolver.get("../materials/textures/t.png") == b"a's texture"
    assert resolver.get("t.png") == b"a's texture"  # by name, in the texture folders of its layout
    # outside a's folder only its own texture folders answer, by file name
    assert resolver.get("../../b/t.png") == b"a's texture"
    for outside in ("../../../secret.txt", str(tmp_path / "secret.txt")):
        with pytest.raises(FileNotFoundError):
            resolver.get(outside)


def test_a_texture_nobody_ships_is_said_and_recorded(tmp_path, caplog):
    import logging

    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    (tmp_path / "m.mtl").write_text("newmtl m\nKd 0.5 0.5 0.5\nmap_Kd textures/lost.png\n")
    (tmp_path / "m.obj").write_text("mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nvt 1 0\nvt 1 1\n"
                                    "usemtl m\nf 1/1 2/2 3/3\n")
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        asset = load_mesh_asset(tmp_path / "m.obj")
    assert asset.meta["missing_files"] == ["textures/lost.png"]
    assert "textures/lost.png not found" in caplog.text and "m.obj" in caplog.text
    assert np.all(np.abs(asset.texture.astype(int) - 188) <= 1)  # its flat colour, Kd 0.5 (sRGB 188)


def test_a_draco_compressed_gltf_reads_as_its_plain_twin(tmp_path):
    """Draco-compressed geometry (KHR_draco_mesh_compression, decoded by DracoPy: the `meshes` extra) gives
    the mesh the plain file gives."""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    ball = trimesh.creation.icosphere(subdivisions=2)
    ball.visual.face_colors = np.random.default_rng(0).integers(0, 256, (len(ball.faces), 4))
    plain, packed = tmp_path / "plain.glb", tmp_path / "packed.glb"
    plain.write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(ball)))
    packed.write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(ball), extension_draco=True))
    assert b"KHR_draco_mesh_compression" in packed.read_bytes()[:4096]
    want, got = load_mesh_asset(plain), load_mesh_asset(packed)
    # Draco quantizes positions (to 1e-4 of this unit ball), keeping every triangle and its colour
    np.testing.assert_allclose(got.vertices[got.faces], want.vertices[want.faces], atol=2e-3)
    assert np.array_equal(got.texture, want.texture) and np.allclose(got.uv, want.uv)


def test_a_gltf_requiring_what_cannot_be_decoded_is_refused_by_name(tmp_path, monkeypatch):
    """trimesh reads a required extension it lacks as if it were absent (Draco-compressed geometry without
    DracoPy came out as 'mesh has zero size'): such a file is refused, naming the extension and the way out."""
    import importlib.util

    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    ball = trimesh.creation.icosphere(subdivisions=1)
    (tmp_path / "packed.glb").write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(ball), extension_draco=True))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "DracoPy" else find_spec(name, *a))
    with pytest.raises(ValueError, match=r"packed.glb: requires the glTF extension KHR_draco_mesh_compression, decoded "
                                         r"by DracoPy, which is not installed: pip install 'lrmzero\[meshes\]'"):
        load_mesh_asset(tmp_path / "packed.glb")
    tree = json.loads(trimesh.exchange.gltf.export_gltf(trimesh.Scene(ball))["model.gltf"])
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["EXT_meshopt_compression", "KHR_mesh_quantization"]
    (tmp_path / "m.gltf").write_text(json.dumps(tree))
    with pytest.raises(ValueError, match="m.gltf: requires the glTF extension\\(s\\) EXT_meshopt_compression, "
                                         "KHR_mesh_quantization, which the mesh reader cannot decode; allowed: "):
        load_mesh_asset(tmp_path / "m.gltf")


def test_the_spec_example_of_a_texture_transform_reads_the_lower_left_quadrant_turned():
    """KHR_texture_transform's own example: offset (0, 1), rotation 90 degrees, scale 0.5 'utilizes only the
    lower left quadrant of the source image, rotated clockwise 90 degrees' (glTF's UV frame: v down)."""
    from lrmzero.plugins.generation.real_meshes.texture_transform import UVTransform

    transform = UVTransform(offset=(0.0, 1.0), rotation=np.pi / 2, scale=(0.5, 0.5))
    corners = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])  # v up: glTF's (0, 0), (1, 0), ...
    moved = transform.apply(corners)
    gltf = np.column_stack([moved[:, 0], 1.0 - moved[:, 1]])
    assert (gltf[:, 0] >= -1e-12).all() and (gltf[:, 0] <= 0.5 + 1e-12).all()  # the left half
    assert (gltf[:, 1] >= 0.5 - 1e-12).all() and (gltf[:, 1] <= 1.0 + 1e-12).all()  # the lower half
    # turned clockwise: the image's top-left corner (glTF uv (0, 0)) now reads the quadrant's bottom-left
    np.testing.assert_allclose(gltf[0], [0.0, 1.0], atol=1e-12)


def test_a_gltf_texture_transform_places_its_texture_as_the_spec_says(tmp_path, caplog):
    """A quad whose base colour carries KHR_texture_transform (tiled 3 x 2, offset, turned) renders from the
    atlas the texels the spec's transform reads from the texture repeated; a second material of the same name
    with another transform is said and left untransformed."""
    import logging

    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    quad = trimesh.Trimesh([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    uv = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    quad.visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.PBRMaterial(
        name="tiled", baseColorTexture=Image.fromarray(image)))
    files = trimesh.Scene(quad).export(file_type="gltf")
    tree = json.loads(files["model.gltf"])
    fields = {"offset": [0.25, 0.5], "rotation": 0.3, "scale": [3.0, 2.0]}
    tree["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["extensions"] = {"KHR_texture_transform": fields}
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["KHR_texture_transform"]  # read, so not refused
    files["model.gltf"] = json.dumps(tree).encode()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    asset = load_mesh_asset(tmp_path / "model.gltf")
    # points on the quad: the atlas's texel there, against the texture's at the spec's transformed UV, repeated
    bary = rng.dirichlet(np.ones(3), 400)
    face = rng.integers(0, 2, 400)
    got_uv = np.einsum("ni,nij->nj", bary, asset.uv[asset.faces[face]])
    h, w = asset.texture.shape[:2]
    got = asset.texture[((1 - got_uv[:, 1]) * h).astype(int).clip(0, h - 1),
                        (got_uv[:, 0] * w).astype(int).clip(0, w - 1)]
    src = np.einsum("ni,nij->nj", bary, uv[quad.faces[face]])
    x, y = src[:, 0] * 3.0, (1 - src[:, 1]) * 2.0  # glTF's frame: v down
    c, s = np.cos(0.3), np.sin(0.3)
    u, v = (c * x + s * y + 0.25) % 1.0, (-s * x + c * y + 0.5) % 1.0
    want = image[(v * 8).astype(int).clip(0, 7), (u * 8).astype(int).clip(0, 7)]
    assert np.mean((got == want).all(axis=1)) > 0.95  # all but points on a texel's edge
    # untransformed, the same points would read other texels
    plain = image[((1 - src[:, 1]) * 8).astype(int).clip(0, 7), (src[:, 0] * 8).astype(int).clip(0, 7)]
    assert np.mean((got == plain).all(axis=1)) < 0.2
    # two materials of one name, transformed differently: said, and left as the UVs place them
    tree["materials"].append({**tree["materials"][0], "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}})
    (tmp_path / "model.gltf").write_text(json.dumps(tree))
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        again = load_mesh_asset(tmp_path / "model.gltf")
    assert "two materials named 'tiled' with different KHR_texture_transforms" in caplog.text
    assert np.allclose(np.sort(again.uv, axis=0)[[0, -1]], [[0, 0], [1, 1]], atol=0.05)


def test_junk_uvs_neither_exhaust_memory_nor_lose_the_colour(tmp_path):
    """UVs reaching 300,000 (exporters leave such on untextured materials, or a texture repeats finer than a
    texel): a flat colour ignores them; a texture shows its mean, as a renderer's mipmaps would. (Tiling the
    repeats asked for 251 GiB.)"""
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    junk = [[0, 0], [3e5, 0], [3e5, 3e5], [0, 3e5]]
    stripes = np.zeros((4, 4, 3), np.uint8)
    stripes[:, :2] = 200
    materials = {"flat": trimesh.visual.material.PBRMaterial(baseColorFactor=[0.5, 0.2, 0.1, 1.0]),
                 "textured": trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(stripes))}
    for name, material in materials.items():
        quad = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
        quad.visual = trimesh.visual.TextureVisuals(uv=junk, material=material)
        quad.export(tmp_path / f"{name}.glb")
    flat = load_mesh_asset(tmp_path / "flat.glb")
    from lrmzero.tone import to_srgb

    assert flat.texture.size <= 12  # one flat texel's worth, not tiled
    want = to_srgb(np.array([0.5, 0.2, 0.1])) * 255  # within a level: trimesh keeps the factor as uint8
    assert np.abs(flat.texture[0, 0] - want).max() <= 1
    textured = load_mesh_asset(tmp_path / "textured.glb")
    assert textured.texture.shape == (1, 1, 3) and np.all(textured.texture == 100)

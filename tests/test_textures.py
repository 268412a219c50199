"""Texture sources paint deterministic, non-trivial tiles; the atlas maps UVs into their tiles."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lrmzero import ConfigError, get_registries
from lrmzero.plugins.composition.zeroverse.config import MaterialsConfig
from lrmzero.plugins.composition.zeroverse.materials import bake_uvs, paint_atlas

PROCEDURAL = ["fbm", "cellular", "stripes", "checker", "gradient", "blend"]


@pytest.mark.parametrize("name", PROCEDURAL)
def test_procedural_tiles(name):
    textures = get_registries().textures
    src = textures.build(name)
    src.use_components({"textures": {n: textures.build(n) for n in PROCEDURAL if n != "blend"}})
    a = src.paint(64, np.random.default_rng(7))
    b = src.paint(64, np.random.default_rng(7))
    c = src.paint(64, np.random.default_rng(8))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b), "same generator state must give the same tile"
    assert not np.array_equal(a, c)
    assert a.std() > 2.0, "tile is (nearly) constant"


def test_blend_mixes_the_runs_configured_sources():
    from lrmzero.plugins.generation.config import load_config
    from lrmzero.plugins.generation.runner import make_composer

    def blend_tile(overrides):
        run = load_config("demo", ["materials.sources=[blend]", "textures.blend.sources=[checker]", *overrides])
        blend = make_composer(run, get_registries()).textures["blend"]
        assert blend._sources[0] is not None and blend._sources[0].cfg == run.components["textures"]["checker"]
        return blend.paint(64, np.random.default_rng(3))

    coarse = blend_tile(["textures.checker.min_checks=2", "textures.checker.max_checks=2"])
    fine = blend_tile(["textures.checker.min_checks=16", "textures.checker.max_checks=16"])
    assert not np.array_equal(coarse, fine)  # the user's checker settings reach the blended tile
    with pytest.raises(Exception, match="other texture sources than blend"):
        load_config("demo", ["materials.sources=[blend]", "textures.blend.sources=[blend,fbm]"])


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(tmp_path / f"m{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    src = get_registries().textures.build("image_folder", {"path": str(tmp_path)})
    assert len(src.files) == 3
    tile = src.paint(32, np.random.default_rng(1))
    assert tile.shape == (32, 32, 3) and tile.dtype == np.uint8
    assert np.array_equal(tile, src.paint(32, np.random.default_rng(1)))


def test_image_folder_without_path_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="textures.image_folder.path"):
        get_registries().textures.build("image_folder", {"path": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="holds no images"):
        get_registries().textures.build("image_folder", {"path": str(tmp_path)})


@pytest.mark.parametrize("sampling,tiles", [("per_surface", 5), ("per_object", 1)])
def test_atlas_layout_and_uv_remap(sampling, tiles):
    reg = get_registries().textures
    cfg = MaterialsConfig(sources=["checker", "fbm"], sampling=sampling, tile_size=32, gutter=2)
    sources = {n: reg.build(n) for n in cfg.sources}
    atlas = paint_atlas(5, cfg, sources, np.random.default_rng(0))
    assert len(atlas.sources) == tiles
    assert atlas.image.shape[0] % 32 == 0 and atlas.image.shape[1] % 32 == 0
    # two triangles sharing vertices but with different materials: the shared ones are split
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    uv = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    material = np.array([0, 4])
    v2, f2, uv2 = bake_uvs(vertices, faces, uv, material, atlas)
    np.testing.assert_array_equal(v2[f2], vertices[faces])
    assert len(v2) == (4 if tiles == 1 else 6)
    h, w = atlas.image.shape[:2]
    for face, slot in zip(f2, material):
        tile = atlas.slot_tile[slot]
        col, row = tile % atlas.columns, tile // atlas.columns
        px = uv2[face, 0] * w
        py = (1 - uv2[face, 1]) * h  # image rows from the top
        assert np.all(px >= col * 32 + 2 - 1e-9) and np.all(px <= (col + 1) * 32 - 2 + 1e-9)
        assert np.all(py >= row * 32 + 2 - 1e-9) and np.all(py <= (row + 1) * 32 - 2 + 1e-9)


# --- PBR materials -------------------------------------------------------------------------

def test_pbr_families_paint_full_material_sets_with_natural_palettes():
    from lrmzero.plugins.textures.pbr import FAMILIES

    textures = get_registries().textures
    saturation = []
    for i, family in enumerate(FAMILIES):
        src = textures.build("pbr", {"families": [family]})
        a = src.paint_material(128, np.random.default_rng(i))
        b = src.paint_material(128, np.random.default_rng(i))
        assert np.array_equal(a.base_color, b.base_color) and np.array_equal(a.normal, b.normal)
        for name, shape in (("base_color", (128, 128, 3)), ("roughness", (128, 128)), ("metallic", (128, 128)),
                            ("normal", (128, 128, 3))):
            value = getattr(a, name)
            assert value.shape == shape and value.dtype == np.uint8, (family, name)
        assert a.base_color.std() > 1.0, family  # never a flat colour
        n = a.normal / 127.5 - 1.0
        assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=0.02) and n[..., 2].min() > 0.2, family
        if family == "brushed_metal":
            assert a.metallic.min() == 255
        elif "metal" not in family:
            assert a.metallic.max() == 0
    for seed in range(40):
        base = textures.build("pbr").paint_material(32, np.random.default_rng(seed)).base_color / 255.0
        hi, lo = base.max(-1), base.min(-1)
        saturation.append(np.median((hi - lo) / np.maximum(hi, 1e-6)))
    # mostly low to medium saturation, with a few vivid materials
    assert np.median(saturation) < 0.45 and np.mean(np.array(saturation) > 0.6) < 0.3


def test_relief_normals_follow_the_height_field():
    """A height ramp rising along +u tilts the normals towards -u; rotating the height map and
    rotating the normal map (texels and vectors) agree."""
    from lrmzero.plugins.textures.image_folder import rotate_normals
    from lrmzero.plugins.textures.pbr import height_to_normal

    x = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))  # grows to the right: +u
    n = height_to_normal(x, 0.01)
    slope = 0.01 * 64 / 63  # height 0.01 tile sides over 63/64 of a tile
    assert np.allclose(n[..., 0], -slope / np.sqrt(1 + slope ** 2), atol=1e-6)
    assert np.allclose(n[..., 1], 0, atol=1e-6)
    bumps = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    from scipy.ndimage import gaussian_filter

    bumps = gaussian_filter(bumps, 3)
    as_uint8 = lambda v: np.clip(np.round((v * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)  # noqa: E731
    for turns in range(4):
        direct = as_uint8(height_to_normal(np.rot90(bumps, turns).copy(), 0.05))
        turned = rotate_normals(as_uint8(height_to_normal(bumps, 0.05)), turns)
        assert np.abs(direct.astype(int) - turned)[2:-2, 2:-2].max() <= 2, turns


def test_image_folder_reads_matsynth_style_material_folders(tmp_path):
    """One folder per material (basecolor, roughness, metallic, normal): every map is cropped
    alike; plain images beside them stay base colours."""
    mat = tmp_path / "materials" / "Wood_042"
    mat.mkdir(parents=True)
    yy, xx = np.mgrid[0:64, 0:64]
    base = np.stack([xx * 4, yy * 4, np.full_like(xx, 90)], -1).astype(np.uint8)
    Image.fromarray(base).save(mat / "basecolor.png")
    Image.fromarray((xx * 4).astype(np.uint8)).save(mat / "roughness.png")
    Image.fromarray((yy * 4).astype(np.uint8)).save(mat / "metallic.png")
    Image.fromarray(np.full((64, 64, 3), (200, 128, 200), np.uint8)).save(mat / "normal.png")
    for other in ("height.png", "displacement.png", "diffuse.png"):  # MatSynth's other maps: not colours
        Image.fromarray(np.full((64, 64, 3), 250, np.uint8)).save(mat / other)
    Image.fromarray(np.full((16, 16, 3), 30, np.uint8)).save(tmp_path / "materials" / "plain.jpg")
    Image.fromarray(np.full((16, 16, 3), 99, np.uint8)).save(tmp_path / "materials" / "stray_normal.png")
    src = get_registries().textures.build("image_folder", {"path": str(tmp_path / "materials"), "min_crop": 1.0})
    assert sorted(sorted(e) for e in src.entries) == [["base_color"], ["base_color", "metallic", "normal", "roughness"]]
    assert sorted(e["base_color"].name for e in src.entries) == ["basecolor.png", "plain.jpg"]
    seen = set()
    for seed in range(12):
        m = src.paint_material(32, np.random.default_rng(seed))
        if m.roughness is None:
            assert m.base_color.max() <= 31 and m.metallic is None and m.normal is None
            seen.add("plain")
            continue
        seen.add("material")
        # the same crop and turn in every map: roughness follows base red, metallic base green
        assert np.abs(m.roughness.astype(int) - m.base_color[..., 0]).max() <= 2
        assert np.abs(m.metallic.astype(int) - m.base_color[..., 1]).max() <= 2
        # the normal's tangent vector turns with the texels: +u (x) turned by k quarter turns
        gx, gy = np.gradient(m.base_color[..., 0].astype(float))[::-1]  # where +u (red) grows now
        along = np.array([gx.mean(), -gy.mean()])  # image x right, v up
        nxy = m.normal[..., :2].reshape(-1, 2).mean(0) - 128
        assert np.dot(along / np.linalg.norm(along), nxy / np.linalg.norm(nxy)) > 0.99
    assert seen == {"plain", "material"}


def test_atlas_carries_every_pbr_map_and_mesh_glb_has_them(tmp_path):
    import json
    import struct

    import trimesh

    from lrmzero.asset import encode_glb
    from lrmzero.plugins.generation.config import load_config
    from lrmzero.plugins.generation.runner import make_composer

    run = load_config("demo", ["materials.sources=[pbr]", "materials.tile_size=32"])
    asset = make_composer(run, get_registries()).build(0, 4)
    assert set(asset.maps) == {"metallic_roughness", "normal"}
    for image in asset.maps.values():
        assert image.shape == asset.texture.shape
    data = encode_glb(asset, "png", 1)
    length = struct.unpack("<I", data[12:16])[0]
    gltf = json.loads(data[20:20 + length])
    material = gltf["materials"][0]
    pbr = material["pbrMetallicRoughness"]
    assert {"baseColorTexture", "metallicRoughnessTexture"} <= set(pbr) and "normalTexture" in material
    loaded = trimesh.load(trimesh.util.wrap_as_stream(data), file_type="glb", force="mesh")
    got = np.asarray(loaded.visual.material.metallicRoughnessTexture.convert("RGB"))
    assert np.array_equal(got, asset.maps["metallic_roughness"])
    normal = np.asarray(loaded.visual.material.normalTexture.convert("RGB"))
    assert np.array_equal(normal, asset.maps["normal"])
    # `lrmzero render` of such a file keeps the maps
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    (tmp_path / "object.glb").write_bytes(data)
    again = load_mesh_asset(tmp_path / "object.glb")
    assert np.array_equal(again.maps["metallic_roughness"], asset.maps["metallic_roughness"])
    assert np.array_equal(again.maps["normal"], asset.maps["normal"])


def test_pbr_library_entries_are_painted_once_and_read_back_identically(tmp_path):
    textures = get_registries().textures
    cold = textures.build("pbr", {"library": 16, "cache_dir": str(tmp_path)})
    drawn = [cold.paint_material(32, np.random.default_rng(seed)) for seed in range(6)]
    folder, = tmp_path.iterdir()
    stored = sorted(p.name for p in folder.iterdir())
    assert stored and all(name.endswith(".npz") for name in stored) and len(stored) <= 6

    # a new process (a new source) reads the same materials back; an entry is its own seed's painting
    warm = textures.build("pbr", {"library": 16, "cache_dir": str(tmp_path)})
    fresh = textures.build("pbr", {"library": 0})
    for seed, a in enumerate(drawn):
        rng = np.random.default_rng(seed)
        b = warm.paint_material(32, rng)
        k = int(np.random.default_rng(seed).integers(16))
        c = fresh.paint_material(32, np.random.default_rng([0, k]))
        for field in ("base_color", "roughness", "metallic", "normal"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
            assert np.array_equal(getattr(a, field), getattr(c, field)), field
    assert sorted(p.name for p in folder.iterdir()) == stored  # nothing painted again

    # a damaged entry is painted again and replaced; other settings use another folder
    victim = folder / stored[0]
    victim.write_bytes(b"not a zip")
    k = int(stored[0].split(".")[0])
    source = textures.build("pbr", {"library": 16, "cache_dir": str(tmp_path)})
    source.paint_material(32, np.random.default_rng(0))  # makes the library
    repainted = source.libraries[32].get(k)
    assert np.array_equal(repainted.base_color, fresh.paint_material(32, np.random.default_rng([0, k])).base_color)
    assert np.load(victim)["base_color"].shape == (32, 32, 3)
    textures.build("pbr", {"library": 16, "cache_dir": str(tmp_path), "bump": 0.01}).paint_material(
        32, np.random.default_rng(0))
    assert len(list(tmp_path.iterdir())) == 2

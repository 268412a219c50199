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

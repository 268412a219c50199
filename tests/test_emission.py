"""Emission (glTF's emissive colour, `lrmzero.asset.EMISSIVE_MAP`): a real mesh's emissiveFactor x
emissiveTexture, baked as the spec defines it, adds its light in `gl`, `raycast` and Cycles alike, and
`mesh.glb` keeps it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from PIL import Image

from lrmzero import get_registries
from lrmzero.asset import EMISSIVE_MAP, Asset, encode_glb
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.components import RendererUnavailable
from lrmzero.tone import to_linear, to_srgb
from lrmzero.views import ShadingSettings
from tests.conftest import run_cli

GLOW = np.array([0.6, 0.3, 0.0])  # linear


def _renderer(name: str):
    """gl, raycast, or cycles (16 samples; skipped where no Python with bpy is found: LRMZERO_BPY_PYTHON)."""
    try:
        return get_registries().renderers.build(name, {"samples": 16} if name == "cycles" else None)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("renderer", ["gl", "raycast", "cycles"])
def test_emission_adds_its_light_to_what_the_surface_reflects(renderer):
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.6)
    cams = Cameras(look_at(np.array([[2.5, 0.3, 0.4]])), intrinsics_from_fov(32, 32, 40.0)[None], 32, 32)
    glow = np.full((2, 2, 3), np.round(to_srgb(GLOW) * 255), np.uint8)
    seen = []
    for maps in ({}, {EMISSIVE_MAP: glow}):
        asset = Asset(ball.vertices, ball.faces, np.full((len(ball.vertices), 2), 0.5),
                      np.full((2, 2, 3), 60, np.uint8), maps=maps)
        views = _renderer(renderer).render(asset, cams, ShadingSettings(shading="ao", levels=False))
        seen.append(to_linear(views.rgba[0, 12:20, 12:20, :3] / 255.0).mean((0, 1)))
    # the same ball plus the glow (the tone chain's gamma 1/2.2 and 8 bits: within 0.02); measured 0.582,
    # 0.288, 0.0 in all three renderers
    np.testing.assert_allclose(seen[1] - seen[0], to_linear(np.round(to_srgb(GLOW) * 255) / 255), atol=0.02)


def _emissive_quad(path, factor, texture: np.ndarray | None, flat_base: bool = False):
    """A quad with an emission; its base colour a texture, or with ``flat_base`` a flat colour."""
    # in glTF's frame (Y up) the plane x = 0: facing the official GSO cameras' first azimuths, +-X
    quad = trimesh.Trimesh([[0, -1, 1], [0, -1, -1], [0, 1, -1], [0, 1, 1]], [[0, 1, 2], [0, 2, 3]], process=False)
    base = {"baseColorFactor": [0.1, 0.1, 0.1, 1.0]} if flat_base else {
        "baseColorTexture": Image.fromarray(np.full((4, 4, 3), 90, np.uint8))}
    material = trimesh.visual.material.PBRMaterial(
        **base, emissiveFactor=factor, emissiveTexture=None if texture is None else Image.fromarray(texture))
    quad.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    quad.export(path)


def test_gltf_emission_is_its_factor_times_its_texture(tmp_path):
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    texture = np.zeros((4, 4, 3), np.uint8)
    texture[:, :2] = (200, 200, 200)
    cases = {"both": ([1.0, 0.5, 0.0], texture), "factor": ([1.0, 0.5, 0.0], None), "texture": (None, texture)}
    for name, (factor, image) in cases.items():
        _emissive_quad(tmp_path / f"{name}.glb", factor, image)
    both = load_mesh_asset(tmp_path / "both.glb").maps[EMISSIVE_MAP]
    want = np.round(to_srgb(to_linear(200 / 255) * np.array([1.0, 0.5, 0.0])) * 255)
    assert np.array_equal(both[:, :2].reshape(-1, 3), np.tile(want, (8, 1)))
    assert not both[:, 2:].any()
    factor = load_mesh_asset(tmp_path / "factor.glb")
    flat_glow = np.round(to_srgb(np.array([1.0, 0.5, 0.0])) * 255)
    assert np.array_equal(factor.maps[EMISSIVE_MAP].reshape(-1, 3)[0], flat_glow)
    assert factor.meta["emission"]
    # beside a flat base colour, the emission keeps its texture's layout: the quad's UVs are kept
    _emissive_quad(tmp_path / "flat.glb", [1.0, 1.0, 1.0], texture, flat_base=True)
    flat = load_mesh_asset(tmp_path / "flat.glb")
    h, w = flat.maps[EMISSIVE_MAP].shape[:2]
    texel = flat.maps[EMISSIVE_MAP][((1 - flat.uv[:, 1]) * h).clip(0, h - 1).astype(int),
                                    (flat.uv[:, 0] * w).clip(0, w - 1).astype(int)]
    assert sorted(texel[:, 0].tolist()) == [0, 0, 200, 200]  # two corners lit, two dark
    # the spec's factor left out is 0: a texture alone gives off nothing
    plain = load_mesh_asset(tmp_path / "texture.glb")
    assert EMISSIVE_MAP not in plain.maps and "emission" not in plain.meta


def test_mesh_glb_keeps_the_emission(tmp_path):
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    glow = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    ball = trimesh.creation.icosphere(subdivisions=1)
    asset = Asset(ball.vertices, ball.faces, np.random.default_rng(1).uniform(0, 1, (len(ball.vertices), 2)),
                  np.full((8, 8, 3), 100, np.uint8), maps={EMISSIVE_MAP: glow})
    (tmp_path / "m.glb").write_bytes(encode_glb(asset, "png", 1))
    again = load_mesh_asset(tmp_path / "m.glb", up="z")
    assert np.array_equal(again.maps[EMISSIVE_MAP], glow)


def test_render_shows_a_glowing_part_brighter(tmp_path):
    (tmp_path / "in").mkdir()
    _emissive_quad(tmp_path / "in" / "lamp.glb", [1.0, 1.0, 1.0], np.full((4, 4, 3), 255, np.uint8))
    _emissive_quad(tmp_path / "in" / "plain.glb", None, None)
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "in"), "--out", str(out), "--quiet", "--config", "gso-eval",
                  "render.views=2", "render.resolution=32")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "lamp" / "meta.json").read_text())["emission"]
    rgb = {name: np.stack([np.asarray(Image.open(p)) for p in sorted((out / name / "rgba").glob("*.png"))])
           for name in ("lamp", "plain")}
    shown = rgb["lamp"][..., 3] == 255
    assert shown.any() and np.array_equal(shown, rgb["plain"][..., 3] == 255)
    assert (rgb["lamp"][..., :3][shown] == 255).all()  # white light on top of the reflected: saturated
    assert rgb["plain"][..., :3][shown].mean() < 200

"""Cut-outs (glTF alpha as holes, `lrmzero.asset.CUTOUT_MAP`): a real mesh's alphaMode MASK (and BLEND, at
one half) leaves holes that `gl` and `raycast` show alike, that light passes through when it is baked, and
that `mesh.glb` keeps."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image

from lrmzero import get_registries
from lrmzero.asset import CUTOUT_MAP, Asset, encode_glb
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.components import RendererUnavailable
from lrmzero.views import ShadingSettings
from tests.conftest import run_cli

SIZE = 64


def _renderer(name: str):
    """gl, raycast, or cycles (8 samples; skipped where no Python with bpy is found: LRMZERO_BPY_PYTHON)."""
    try:
        return get_registries().renderers.build(name, {"samples": 8} if name == "cycles" else None)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))


def _disc_alpha(size: int = 64, radius: float = 0.35) -> np.ndarray:
    """``[size, size]`` uint8 alpha: 255 inside a disc of ``radius`` (in UV units) about the centre, 0 outside,
    a ramp across the edge (as a painted texture has)."""
    c = (np.arange(size) + 0.5) / size - 0.5
    r = np.hypot(*np.meshgrid(c, c))
    return np.clip((radius - r) * size * 127 + 128, 0, 255).astype(np.uint8)


def _head_on_camera() -> Cameras:
    """Looking down -x at the unit square x = 0, |y|, |z| <= 0.5, which fills the middle half of the view."""
    K = intrinsics_from_fov(SIZE, SIZE, 2 * np.degrees(np.arctan(1.0 / 2.0)))[None]  # 1 unit across at 2
    return Cameras(look_at(np.array([[2.0, 0.0, 0.0]])), K, SIZE, SIZE)


def _square(maps: dict) -> Asset:
    vertices = np.array([[0.0, -0.5, -0.5], [0.0, 0.5, -0.5], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]])
    uv = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # seen from +x, +y is to the left
    return Asset(vertices, np.array([[0, 1, 2], [0, 2, 3]]), uv, np.full((4, 4, 3), 200, np.uint8), maps=maps,
                 double_sided=True)


@pytest.mark.parametrize("renderer", ["gl", "raycast", "cycles"])
def test_a_cut_out_disc_covers_what_its_alpha_covers(renderer):
    alpha = _disc_alpha()
    views = _renderer(renderer).render(_square({CUTOUT_MAP: np.repeat(alpha[..., None], 3, -1)}), _head_on_camera(),
                                       ShadingSettings(shading="ao"))
    covered = views.rgba[0, ..., 3] / 255.0
    # the disc's area, pi r^2 of the unit square, which is 32 x 32 of the view's pixels
    assert abs(covered.sum() - np.pi * 0.35 ** 2 * 32 * 32) < 8.0
    centre, corner = covered[28:36, 28:36], covered[17:20, 17:20]
    assert centre.min() == 1.0 and corner.max() == 0.0  # a hole where the alpha is 0


def test_gl_and_raycast_agree_on_cut_outs_and_light_through_them():
    """Leaves over a floor: an opaque roof darkens the floor; the same roof cut away (alpha 0 everywhere but a
    rim) lets the sky in again, in both renderers alike."""
    floor = trimesh.creation.box((2.0, 2.0, 0.1))
    roof = trimesh.creation.box((1.6, 1.6, 0.02))
    roof.apply_translation((0, 0, 0.3))
    mesh = trimesh.util.concatenate([floor, roof])
    uv = np.full((len(mesh.vertices), 2), 0.1)  # the floor's texel: solid
    uv[len(floor.vertices):] = 0.6  # the roof's: a hole, or not
    cams = get_registries().camera_samplers.build("orbit", {"radius": 3.0, "elevations_deg": [40.0]}).sample(
        3, SIZE, SIZE, np.random.default_rng(0))
    settings = ShadingSettings(shading="ao", ao_rays=32, ao_distance=1.0)
    opacity = np.full((4, 4, 3), 255, np.uint8)
    shown = {}
    for cut in (False, True):
        opacity[:2, 2:] = 0 if cut else 255  # the texel at uv (0.6, 0.6)
        asset = Asset(mesh.vertices, mesh.faces, uv, np.full((4, 4, 3), 200, np.uint8),
                      maps={CUTOUT_MAP: opacity.copy()})
        shown[cut] = {name: _renderer(name).render(asset, cams, settings) for name in ("gl", "raycast")}
        a, b = shown[cut]["gl"], shown[cut]["raycast"]
        assert (a.mask == b.mask).mean() > 0.99
        both = (a.rgba[..., 3] == 255) & (b.rgba[..., 3] == 255)
        assert np.abs(a.rgba[..., :3].astype(float) - b.rgba[..., :3])[both].mean() < 4.0
    # the floor's middle, seen from above: under the roof when it is whole, in the open when it is cut away
    from lrmzero.plugins.renderers.occlusion import ambient_occlusion, split_for_baking

    settings = ShadingSettings(shading="ao", ao_rays=64, ao_distance=1.0, ao_smoothing=0, ao_max_edge=0.1)
    for cut, (low, high) in ((False, (0.0, 0.5)), (True, (0.95, 1.01))):
        opacity[:2, 2:] = 0 if cut else 255
        asset = split_for_baking(Asset(mesh.vertices, mesh.faces, uv, np.full((4, 4, 3), 200, np.uint8),
                                       maps={CUTOUT_MAP: opacity}), settings)  # vertices inside the floor too
        baked = ambient_occlusion(asset, settings)
        up = (baked.mesh.normals[:, 2] > 0.99) & (np.abs(asset.vertices[baked.mesh.source][:, 2] - 0.05) < 1e-9)
        middle = up & (np.abs(asset.vertices[baked.mesh.source][:, :2]).max(1) < 0.5)
        assert middle.any() and low <= baked.visibility[middle].mean() <= high, (cut, baked.visibility[middle].mean())


def _glb_tree(data: bytes) -> dict:
    length = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20:20 + length])


def test_mesh_glb_keeps_cut_outs_in_its_base_colours_alpha(tmp_path):
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    alpha = _disc_alpha(32)
    asset = _square({CUTOUT_MAP: np.repeat(alpha[..., None], 3, -1)})
    data = encode_glb(asset)  # the default JPEG cannot hold alpha: the base colour goes as PNG
    material = _glb_tree(data)["materials"][0]
    assert material["alphaMode"] == "MASK" and material.get("alphaCutoff", 0.5) == 0.5
    (tmp_path / "m.glb").write_bytes(data)
    again = load_mesh_asset(tmp_path / "m.glb", up="z")
    # read back as cut-outs: 0 or 255, where the alpha was at least one half
    assert again.meta["cut_outs"] and again.double_sided
    np.testing.assert_array_equal(again.maps[CUTOUT_MAP][..., 0], np.where(alpha >= 128, 255, 0))


def _quad_glb(path, alpha: np.ndarray, mode: str | None, cutoff: float | None = None, factor_alpha: float = 1.0):
    # in glTF's frame (Y up) the plane x = 0: facing the official GSO cameras' first azimuths, +-X
    quad = trimesh.Trimesh([[0, -1, 1], [0, -1, -1], [0, 1, -1], [0, 1, 1]], [[0, 1, 2], [0, 2, 3]], process=False)
    rgba = np.dstack([np.full(alpha.shape + (3,), 180, np.uint8), alpha])
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(rgba, "RGBA"), alphaMode=mode,
                                                   alphaCutoff=cutoff, baseColorFactor=[1.0, 1.0, 1.0, factor_alpha])
    quad.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    quad.export(path)


@pytest.mark.parametrize("mode, cutoff, factor_alpha, kept", [
    ("MASK", None, 1.0, [False, True, True]),  # the spec's cutoff, 0.5
    ("MASK", 0.8, 1.0, [False, False, True]),
    ("MASK", None, 0.7, [False, False, True]),  # the factor's alpha times the texture's
    ("BLEND", None, 1.0, [False, True, True]),  # drawn where at least half opaque
    ("OPAQUE", None, 1.0, [True, True, True]),  # alpha ignored
    (None, None, 1.0, [True, True, True]),
])
def test_gltf_alpha_modes_become_cut_outs_as_the_spec_reads_them(tmp_path, mode, cutoff, factor_alpha, kept):
    from lrmzero.plugins.generation.real_meshes.load import load_mesh_asset

    alpha = np.repeat(np.array([[40, 160, 250]], np.uint8), 3, axis=0)  # three columns of alpha
    _quad_glb(tmp_path / "q.glb", alpha, mode, cutoff, factor_alpha)
    asset = load_mesh_asset(tmp_path / "q.glb")
    if all(kept):
        assert CUTOUT_MAP not in asset.maps and "cut_outs" not in asset.meta
        return
    assert np.array_equal(asset.maps[CUTOUT_MAP][0, :, 0] == 255, kept)


def test_render_cuts_a_leaf_out_of_its_quad(tmp_path):
    """`lrmzero render` of a glTF quad whose texture's alpha is a disc (alphaMode MASK): the rendered alpha is
    the disc's, seen from the front and from behind."""
    (tmp_path / "in").mkdir()
    _quad_glb(tmp_path / "in" / "leaf.glb", _disc_alpha(), "MASK")
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "in"), "--out", str(out), "--quiet", "--config", "gso-eval",
                  "render.views=8", "render.resolution=48")  # cameras 2.7 away: the disc is in every view
    assert res.returncode == 0, res.stderr
    meta = json.loads((out / "leaf" / "meta.json").read_text())
    assert meta["cut_outs"] and meta["double_sided"]
    cams = json.loads((out / "leaf" / "opencv_cameras.json").read_text())["frames"]
    quad = np.array([[0.0, -0.9, -0.9], [0.0, 0.9, -0.9], [0.0, 0.9, 0.9], [0.0, -0.9, 0.9]])  # stood up: Z up
    checked = 0
    for frame in cams:
        alpha = np.asarray(Image.open(out / "leaf" / frame["file_path"]))[..., 3] / 255.0
        w2c, K = np.array(frame["w2c"]), np.array([[frame["fx"], 0, frame["cx"]], [0, frame["fy"], frame["cy"]],
                                                      [0, 0, 1]])
        cam = quad @ w2c[:3, :3].T + w2c[:3, 3]
        pix = cam @ K.T
        pix = pix[:, :2] / pix[:, 2:]
        x, y = pix[:, 0], pix[:, 1]
        area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))  # the quad's area in pixels
        # the disc's share of the quad (a projected disc keeps its share of the projected square, near enough
        # for a quad 1.8 across seen from ~2 units away), where the quad is more than a sliver
        if area > 200:
            assert abs(alpha.sum() / area - np.pi * 0.35 ** 2) < 0.06, frame["file_path"]
            checked += 1
    assert checked >= 4

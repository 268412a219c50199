"""Rendering: cameras vs OpenCV's projection, gl vs raycast, an analytic sphere, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio

from lrmzero import get_registries
from lrmzero.asset import Asset
from lrmzero.components import RendererUnavailable
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.generation.runner import make_composer
from lrmzero.views import ShadingSettings
from tests.conftest import run_cli

cv2 = pytest.importorskip("cv2")


def gl_renderer():
    try:
        return get_registries().renderers.build("gl")
    except RendererUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("rendered")
    # no wireframe: struts thinner than a pixel may cover no pixel centre at all
    run = load_config("demo", ["render.resolution=160", "render.views=6", "render.renderer=gl",
                               "augment.apply=[height_field,boolean_difference]"])
    try:
        summary = generate_dataset(run, root, 2, seed=11, progress=False)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    assert summary.done == 2, summary.failures
    return root


def load_object(folder: Path):
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    frames = json.loads((folder / "opencv_cameras.json").read_text())["frames"]
    meta = json.loads((folder / "meta.json").read_text())
    return mesh, frames, meta


def test_layout(dataset):
    folder = dataset / "00000000"
    _, frames, meta = load_object(folder)
    assert len(frames) == 6
    for i, fr in enumerate(frames):
        assert fr["file_path"] == f"rgba/{i:03d}.png" and fr["w"] == fr["h"] == 160
        assert Image.open(folder / fr["file_path"]).mode == "RGBA"
        assert Image.open(folder / "depth" / f"{i:03d}.png").mode == "I;16"
        assert Image.open(folder / "normal" / f"{i:03d}.png").size == (160, 160)
    assert meta["render"]["renderer"] == "gl" and meta["render"]["depth"]["scale"] == 1e-4


def test_vertices_project_into_mask_and_match_depth(dataset):
    for folder in sorted(p for p in dataset.iterdir() if p.is_dir()):
        mesh, frames, meta = load_object(folder)
        scale = meta["render"]["depth"]["scale"]
        verts = np.asarray(mesh.vertices, np.float64)
        for fr in frames:
            w2c = np.asarray(fr["w2c"])
            K = np.array([[fr["fx"], 0, fr["cx"]], [0, fr["fy"], fr["cy"]], [0, 0, 1.0]])
            rvec, _ = cv2.Rodrigues(w2c[:3, :3])
            pix, _ = cv2.projectPoints(verts, rvec, w2c[:3, 3], K, None)
            pix = pix.reshape(-1, 2)
            z = verts @ w2c[2, :3] + w2c[2, 3]
            alpha = np.asarray(Image.open(folder / fr["file_path"]))[..., 3]
            depth = np.asarray(Image.open(folder / fr["file_path"].replace("rgba", "depth")), np.float64) * scale
            # pixel (u, v) covers [u, u+1): the centre convention is +0.5
            col, row = np.floor(pix[:, 0]).astype(int), np.floor(pix[:, 1]).astype(int)
            inside = (col >= 1) & (col < fr["w"] - 1) & (row >= 1) & (row < fr["h"] - 1) & (z > 0)
            col, row, z = col[inside], row[inside], z[inside]
            # every vertex lands on a pixel the object covers (its filtered coverage reaches it)
            assert np.all(alpha[row, col] > 0)
            # pixels from the nearest half-covered pixel (views.mask): a vertex on the silhouette, or at
            # the tip of a cone or a strut narrower than a pixel (which the 3 px pixel filter spreads
            # below half coverage), may land a pixel or two off
            off = ndimage.distance_transform_edt(~(alpha >= 128))[row, col]
            assert np.all(off <= 2.5) and np.mean(off == 0) > 0.8
            d = depth[row, col]
            tol = 2.0 * z / fr["fx"] + 2 * scale  # about a pixel's worth of surface, either side
            # Within a pixel of every vertex its own surface is drawn, so the nearest depth there is
            # never farther than the vertex (it is nearer only where something occludes it).
            nearest = ndimage.minimum_filter(np.where(depth > 0, depth, np.inf), size=3)[row, col]
            assert np.mean(nearest > z + np.maximum(tol, 0.01)) < 0.005  # sub-pixel cone tips
            # and many vertices are seen exactly at their depth
            assert np.mean(np.abs(d - z) < np.maximum(tol, 0.01)) > 0.1


def test_gl_and_raycast_agree():
    run = load_config("demo")
    asset = make_composer(run, get_registries()).build(3, 1)
    cams = get_registries().camera_samplers.build("zeroverse").sample(6, 128, 128, np.random.default_rng(0))
    settings = ShadingSettings(shading="lambert")
    a = gl_renderer().render(asset, cams, settings)
    b = get_registries().renderers.build("raycast").render(asset, cams, settings)
    assert (a.mask == b.mask).mean() >= 0.99
    both = a.mask & b.mask & (a.depth > 0) & (b.depth > 0)
    assert np.median(np.abs(a.depth - b.depth)[both]) < 1e-4
    assert np.percentile(np.abs(a.depth - b.depth)[both], 95) < 1e-2
    cos = np.sum(a.normal * b.normal, axis=-1)[both]
    assert np.median(cos) > 0.9999 and np.percentile(cos, 5) > 0.95
    rgb = np.abs(a.rgba[..., :3].astype(float) - b.rgba[..., :3])[both]
    assert rgb.mean() < 8.0
    # antialiased alike (2 x 2 samples, the same pixel filter): whole images and alpha agree closely
    # (measured 53.5 dB, 0.003 levels); one ray per pixel does not (28.7 dB, 1.9 levels)
    for views, close in ((b, True), (get_registries().renderers.build(
            "raycast", {"supersample": 1, "pixel_filter": 0}).render(asset, cams, settings), False)):
        image_psnr = peak_signal_noise_ratio(a.rgba[..., :3], views.rgba[..., :3], data_range=255)
        alpha_error = np.abs(a.rgba[..., 3].astype(float) - views.rgba[..., 3]).mean()
        assert (image_psnr > 45 and alpha_error < 0.05) == close, (image_psnr, alpha_error)


def sphere_asset(radius=1.0):
    part = get_registries().primitives.build("sphere", {"segments": 400, "rings": 200}).build(
        np.full(3, radius), np.random.default_rng(0))
    texture = np.full((8, 8, 3), 200, np.uint8)
    return Asset(part.vertices, part.faces, part.uv, texture, {})


@pytest.mark.parametrize("renderer", ["gl", "raycast"])
def test_analytic_sphere_depth_and_normals(renderer):
    r = gl_renderer() if renderer == "gl" else get_registries().renderers.build("raycast")
    cams = get_registries().camera_samplers.build("orbit", {"radius": 3.0, "elevations_deg": [10.0, -35.0]}).sample(
        4, 129, 129, np.random.default_rng(0))
    views = r.render(sphere_asset(), cams, ShadingSettings(shading="unlit"))
    centre = 64  # 129 px: the principal point 64.5 is the centre of pixel 64
    np.testing.assert_allclose(views.depth[:, centre, centre], 3.0 - 1.0, atol=1e-3)
    m = views.mask
    n = views.normal[m]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    for v in range(len(cams)):
        # each normal points to the camera's side of its surface point; at fully covered pixels
        # (silhouette pixels are partly covered: no surface point lies on their centre ray)
        ys, xs = np.nonzero(views.rgba[v, ..., 3] == 255)
        d = views.depth[v, ys, xs]
        pix = np.stack([xs + 0.5, ys + 0.5, np.ones_like(xs, dtype=float)], -1)
        cam_pts = (pix @ np.linalg.inv(cams.K[v]).T) * d[:, None]
        world = cam_pts @ cams.c2w[v, :3, :3].T + cams.c2w[v, :3, 3]
        np.testing.assert_allclose(np.linalg.norm(world, axis=1), 1.0, atol=2e-3)
        to_cam = cams.c2w[v, :3, 3] - world
        assert np.all(np.sum(views.normal[v, ys, xs] * to_cam, axis=1) > 0)


@pytest.mark.parametrize("value", ["0", "-5", "100000"])
def test_unsupported_resolution_fails_before_work(tmp_path, value):
    res = run_cli("generate", "--out", str(tmp_path / "x"), "--num-objects", "2", "--seed", "0",
                  "--config", "demo", f"render.resolution={value}")
    assert res.returncode == 2
    assert "render.resolution" in res.stderr and "allowed" in res.stderr
    assert not (tmp_path / "x").exists()


def test_broken_texture_file_fails_that_object_only(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(images / "good.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    out = tmp_path / "ds"
    res = run_cli("generate", "--out", str(out), "--num-objects", "8", "--seed", "1", "--quiet",
                  "--config", "demo", "materials.sources=[image_folder]", "materials.sampling=per_object",
                  f"textures.image_folder.path={images}", "render.enabled=false")
    manifest = [json.loads(l) for l in (out / "manifest.jsonl").read_text().splitlines()]
    failed = [r for r in manifest if r["status"] == "failed"]
    done = [r for r in manifest if r["status"] == "done"]
    assert failed and done, "both images are drawn across eight objects"
    assert res.returncode == 1
    for r in failed:
        assert "broken.png" in r["error"]
        assert f"object {r['object_id']} failed" in res.stderr
    assert "failed" in res.stderr.splitlines()[-1]


def test_render_existing_meshes_and_skip_bad_ones(tmp_path):
    src = tmp_path / "meshes"
    src.mkdir()
    box = trimesh.creation.box((2.0, 1.0, 0.5))
    box.apply_translation([5, 5, 5])
    box.export(src / "box.obj")
    (src / "empty.obj").write_text("# no faces\nv 0 0 0\n")
    out = tmp_path / "ds"
    res = run_cli("render", str(src), "--out", str(out), "--quiet", "--config", "demo",
                  "render.renderer=raycast", "render.views=3", "render.resolution=48")
    assert res.returncode == 1
    assert "empty" in res.stderr and "no faces" in res.stderr
    mesh, frames, meta = load_object(out / "box")
    ext = mesh.bounds[1] - mesh.bounds[0]
    np.testing.assert_allclose(ext, [1.8, 0.45, 0.9], atol=1e-5)  # an OBJ is Y up (compose.mesh_up=auto)
    np.testing.assert_allclose(mesh.bounds.mean(0), 0.0, atol=1e-6)
    assert len(frames) == 3 and meta["render"]["renderer"] == "raycast"


def test_render_keeps_a_real_meshs_colours_unless_levels_are_asked_for(tmp_path):
    """`lrmzero render` leaves out Zeroverse's per-object levels by default: a uniformly grey sphere
    stays grey (levels would stretch its slight shading to black at the centre); render.levels=true
    brings them back."""
    src = tmp_path / "meshes"
    src.mkdir()
    sphere = trimesh.creation.icosphere(subdivisions=3)
    sphere.visual.vertex_colors = [150, 150, 150, 255]
    sphere.export(src / "sphere.ply")
    opaque = {}
    for levels in ("default", "true"):
        out = tmp_path / levels
        extra = [] if levels == "default" else ["render.levels=true"]
        res = run_cli("render", str(src), "--out", str(out), "--quiet", "--config", "demo",
                      "render.renderer=raycast", "render.views=2", "render.resolution=48", *extra)
        assert res.returncode == 0, res.stderr
        assert json.loads((out / "sphere" / "meta.json").read_text())["render"]["levels"] is (levels == "true")
        rgba = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "sphere" / "rgba").glob("*.png"))])
        opaque[levels] = rgba[..., :3][rgba[..., 3] == 255].astype(float)
    # grey 150 lit by a white sky, gamma 1/2.2 over sRGB 150: ~0.30 linear -> ~148 encoded, nowhere black
    assert opaque["default"].min() > 100 and np.percentile(opaque["default"], 99) < 200
    assert opaque["true"].min() < 30  # the 1st percentile goes to black


def test_gallery(tmp_path, dataset):
    res = run_cli("gallery", str(dataset), "--out", str(tmp_path / "g"))
    assert res.returncode == 0, res.stderr
    img = Image.open(tmp_path / "g" / "gallery.png")
    assert img.size[0] == 128 * 4 * 3 and img.size[1] >= 2 * 128
    page = (tmp_path / "g" / "index.html").read_text()
    assert "00000001" in page and "rgba/000.png" in page
    res = run_cli("gallery", str(dataset), "--out", str(tmp_path / "g" / "index.html"))
    assert res.returncode == 2 and "index.html' is a file; allowed: a folder" in res.stderr
    # another tool's layout (views where its cameras say, no meta.json): the same RGB row per object
    foreign = tmp_path / "foreign"
    for obj in sorted(p for p in dataset.iterdir() if (p / "meta.json").is_file())[:2]:
        cams = json.loads((obj / "opencv_cameras.json").read_text())
        (foreign / obj.name / "renderings").mkdir(parents=True)
        for i, frame in enumerate(cams["frames"]):
            shutil.copy(obj / frame["file_path"], foreign / obj.name / f"renderings/{i:08d}_rgba.png")
            frame["file_path"] = f"renderings/{i:08d}_rgba.png"
        (foreign / obj.name / "opencv_cameras.json").write_text(json.dumps(cams))
    res = run_cli("gallery", str(foreign), "--out", str(tmp_path / "f"))
    assert res.returncode == 0, res.stderr
    theirs = np.asarray(Image.open(tmp_path / "f" / "gallery.png"))
    ours = np.asarray(img)
    assert theirs.shape[1] == 128 * 4 and np.array_equal(theirs[20:126, :128 * 4], ours[20:126, :128 * 4])
    assert "renderings/00000000_rgba.png" in (tmp_path / "f" / "index.html").read_text()


@pytest.mark.parametrize("srgb", [False, True])
def test_cpu_mipmaps_are_box_means_like_gl_generate_mipmap(srgb):
    """Level k of the renderer's CPU mip chain is the mean of the 2^k x 2^k block of level 0 (in
    linear light for sRGB: a 1-px black/white checker fades to sRGB 188, not 128), to 2 code values;
    sRGB levels also equal GL's own glGenerateMipmap to one code value."""
    from lrmzero.plugins.renderers.mipmaps import level_sizes, mip_chain

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (256, 512, 3), dtype=np.uint8)
    image[:64, :64] = (np.indices((64, 64)).sum(0) % 2 * 255)[..., None]
    levels = mip_chain(image, srgb=srgb)
    assert [lv.shape[1::-1] for lv in levels] == level_sizes(512, 256) == [
        (256, 128), (128, 64), (64, 32), (32, 16), (16, 8), (8, 4), (4, 2), (2, 1), (1, 1)]
    decode = (lambda v: np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)) if srgb else (lambda v: v)
    encode = (lambda x: np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)) if srgb else (lambda x: x)
    for k, level in enumerate(levels[:7], start=1):
        f = 2**k
        block_mean = decode(image / 255.0).reshape(256 // f, f, 512 // f, f, 3).mean((1, 3))
        assert np.abs(255 * encode(block_mean) - level).max() <= 2, k
    assert levels[0][:32, :32].mean() == pytest.approx(188 if srgb else 127.5, abs=1)
    if srgb:
        renderer = gl_renderer()
        reference = renderer.ctx.texture((512, 256), 3, image.tobytes(), internal_format=0x8C41)
        reference.build_mipmaps()
        for k, level in enumerate(levels[:7], start=1):
            expected = np.frombuffer(reference.read(level=k), np.uint8).reshape(level.shape)
            assert np.abs(expected.astype(int) - level).max() <= 1, k
        reference.release()


def test_gl_samples_the_cpu_mipmaps_of_a_minified_texture():
    """A 1-px black/white checker seen from far away is drawn from the CPU-made mip levels:
    mid grey in linear light (sRGB ~186 after the gamma 1/2.2 chain), not black (levels missing)
    nor 128 (levels averaged in sRGB values)."""
    asset = sphere_asset(0.3)
    asset.texture = np.repeat((np.indices((512, 512)).sum(0) % 2 * 255).astype(np.uint8)[..., None], 3, -1)
    cams = get_registries().camera_samplers.build("orbit", {"radius": 3.0, "elevations_deg": [10.0]}).sample(
        2, 48, 48, np.random.default_rng(0))
    views = gl_renderer().render(asset, cams, ShadingSettings(shading="unlit", levels=False))
    inner = views.rgba[..., 3] == 255
    assert inner.sum() > 50
    assert np.median(views.rgba[..., :3][inner]) == pytest.approx(255 * 0.5 ** (1 / 2.2), abs=6)

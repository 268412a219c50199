"""`lrmzero view`: the scene it shows (frusta posed like the cameras, Gaussians read from any 3DGS
.ply, shards like folders) and, in a real headless Chromium, that the page draws it."""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import trimesh
from plyfile import PlyData, PlyElement

from lrmzero.cameras import read_opencv_cameras
from lrmzero.plugins.tools.view_scene import (dataset_objects, folder_scene, object_scene, path_kind,
                                              splats_from_ply)
from lrmzero.shards import pack_dataset
from tests.conftest import run_cli, small_dataset

VIEWS = 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("view_ds"), 2, 5, f"render.views={VIEWS}", "render.resolution=48")


def write_ply_by_hand(path, means, quats_wxyz, log_scales, logit_opacity, f_dc, text=False, order=None):
    """A 3DGS-layout .ply written with plyfile alone, properties in ``order``."""
    columns = {"x": means[:, 0], "y": means[:, 1], "z": means[:, 2], "opacity": logit_opacity}
    columns.update({f"f_dc_{i}": f_dc[:, i] for i in range(3)})
    columns.update({f"scale_{i}": log_scales[:, i] for i in range(3)})
    columns.update({f"rot_{i}": quats_wxyz[:, i] for i in range(4)})
    names = order or list(columns)
    vertex = np.empty(len(means), dtype=[(n, "<f4") for n in names])
    for n in names:
        vertex[n] = columns[n]
    PlyData([PlyElement.describe(vertex, "vertex")], text=text).write(str(path))


@pytest.mark.parametrize("text", [False, True])
def test_gaussians_from_any_3dgs_ply_match_independent_covariances(tmp_path, text):
    rng = np.random.default_rng(0)
    n = 50
    means, quats = rng.normal(size=(n, 3)), rng.normal(size=(n, 4)) * 3  # not unit: readers normalize
    log_scales, logits, f_dc = rng.normal(-3, 0.5, (n, 3)), rng.normal(size=n), rng.normal(size=(n, 3))
    order = ["rot_2", "x", "scale_1", "f_dc_2", "opacity", "y", "rot_0", "scale_0", "f_dc_0", "z", "rot_3",
             "f_dc_1", "scale_2", "rot_1"]
    write_ply_by_hand(tmp_path / "g.ply", means, quats, log_scales, logits, f_dc, text=text, order=order)
    splats = splats_from_ply(tmp_path / "g.ply")
    tol = 1e-5 if not text else 1e-4
    assert np.allclose(splats.centers, means, atol=tol)
    for i in range(n):
        R = trimesh.transformations.quaternion_matrix(quats[i])[:3, :3]  # (w, x, y, z), normalized inside
        expected = R @ np.diag(np.exp(2 * log_scales[i])) @ R.T
        assert np.allclose(splats.covariances[i], expected, rtol=1e-3, atol=1e-8)
    assert np.allclose(splats.opacities[:, 0], 1 / (1 + np.exp(-logits)), atol=tol)
    assert np.allclose(splats.rgbs, np.clip(0.5 + 0.28209479177387814 * f_dc, 0, 1), atol=tol)


def test_a_ply_without_gaussians_is_named(tmp_path):
    trimesh.creation.box().export(tmp_path / "box.ply")
    with pytest.raises(ValueError, match=r"box\.ply: not a 3D Gaussian \.ply: no f_dc_0"):
        splats_from_ply(tmp_path / "box.ply")


def test_frusta_are_posed_like_the_cameras_and_look_at_the_object(dataset):
    folder = dataset_objects(dataset)[0]
    cameras, paths = read_opencv_cameras(folder / "opencv_cameras.json")
    scene = object_scene(folder)
    assert len(scene.frusta) == VIEWS and len(scene.meshes["mesh"].faces) > 0
    for i, f in enumerate(scene.frusta):
        R = trimesh.transformations.quaternion_matrix(f.wxyz)[:3, :3]
        assert np.allclose(R, cameras.c2w[i, :3, :3], atol=1e-9)
        assert np.allclose(f.position, cameras.centers[i])
        assert np.isclose(np.tan(f.fov / 2), cameras.height / 2 / cameras.K[i, 1, 1]) and f.aspect == 1.0
        to_object = -f.position / np.linalg.norm(f.position)  # objects are centred at the origin
        assert R[:, 2] @ to_object > 0.9  # OpenCV +z (viser's frustum axis) points at the object
        assert f.image.shape == (48, 48, 3) and f.image.dtype == np.uint8
    # where the view is empty the image shows the white background
    from PIL import Image

    alpha = np.asarray(Image.open(folder / paths[0]))[..., 3]
    assert np.all(scene.frusta[0].image[alpha == 0] == 255) and (alpha > 0).any()
    depth = object_scene(folder, "depth").frusta[0].image
    assert np.all(depth[..., 0] == depth[..., 2]) and np.all(depth[alpha == 0] == 0) and depth[alpha == 255].min() > 0
    with pytest.raises(ValueError, match="layer: got 'albedo'; allowed: rgba, depth, normal"):
        object_scene(folder, "albedo")


def test_a_shard_object_shows_what_its_folder_shows(dataset, tmp_path):
    pack_dataset(dataset, tmp_path / "s", objects_per_shard=8)
    assert path_kind(tmp_path / "s") == "dataset"
    shard_objects, folders = dataset_objects(tmp_path / "s"), dataset_objects(dataset)
    assert [o.name for o in shard_objects] == [f.name for f in folders]
    a, b = object_scene(shard_objects[1], "normal"), object_scene(folders[1], "normal")
    assert all(np.array_equal(x.image, y.image) and np.allclose(x.wxyz, y.wxyz) for x, y in zip(a.frusta, b.frusta))
    assert np.allclose(a.meshes["mesh"].vertices, b.meshes["mesh"].vertices)


def test_what_each_path_is(dataset, tmp_path):
    folder = dataset_objects(dataset)[0]
    assert path_kind(dataset) == "dataset" and path_kind(folder) == "object"
    from lrmzero.plugins.tools.viewer import build_scene

    assert len(build_scene(folder, "object", max_views=2).frusta) == 2
    assert path_kind(folder / "mesh.glb") == "mesh"
    (tmp_path / "rec").mkdir()
    write_ply_by_hand(tmp_path / "rec" / "gaussians.ply", *[np.zeros((3, k)) for k in (3, 4, 3)], np.zeros(3), np.zeros((3, 3)))
    shutil.copytree(folder, tmp_path / "rec" / "inputs", ignore=shutil.ignore_patterns("depth", "normal", "*.glb", "meta.json"))
    assert path_kind(tmp_path / "rec") == "folder" and path_kind(tmp_path / "rec" / "gaussians.ply") == "ply"
    scene = folder_scene(tmp_path / "rec")
    assert len(scene.splats["gaussians"].centers) == 3 and [f.name for f in scene.frusta][:2] == ["inputs/000", "inputs/001"]
    shutil.copytree(tmp_path / "rec" / "inputs", tmp_path / "rec" / "turntable")
    colors = {f.name.split("/")[0]: f.color for f in folder_scene(tmp_path / "rec").frusta}
    assert colors["inputs"] != colors["turntable"]  # each camera set in its own colour
    # object folders another tool wrote (cameras and views, no meta.json): a dataset to pick objects from
    foreign = tmp_path / "foreign"
    for obj in dataset_objects(dataset)[:2]:
        shutil.copytree(obj, foreign / obj.name, ignore=shutil.ignore_patterns("depth", "normal", "*.glb", "meta.json"))
    assert path_kind(foreign) == "dataset" and len(dataset_objects(foreign)) == 2
    a, b = object_scene(dataset_objects(foreign)[1]), object_scene(dataset_objects(dataset)[1])
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a.frusta, b.frusta)) and len(a.frusta) == len(b.frusta)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt': allowed files are \.ply"):
        path_kind(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="does not exist"):
        path_kind(tmp_path / "nope")


@pytest.mark.parametrize("args, expect", [
    (["{tmp}/nope"], "PATH: '{tmp}/nope' does not exist"),
    (["{tmp}", "--port", "70000"], "--port: got 70000; allowed: 1 to 65535"),
    (["{tmp}", "--max-views", "0"], "--max-views: got 0; allowed: an integer >= 1"),
])
def test_view_refuses_bad_input_in_one_line(tmp_path, args, expect):
    pytest.importorskip("viser", reason="viser is not installed (pip install -e '.[view]')")
    res = run_cli("view", *[a.format(tmp=tmp_path) for a in args], timeout=60)
    assert res.returncode == 2 and expect.format(tmp=tmp_path) in res.stderr and "Traceback" not in res.stderr


# --- the page in a real browser ---------------------------------------------------------------

def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"))
                 if p), None)


@pytest.mark.parametrize("count", [3, 1200])
def test_object_picker_picks_each_object_once_by_name_or_position(count):
    viser = pytest.importorskip("viser", reason="viser is not installed (pip install -e '.[view]')")
    from lrmzero.plugins.tools.viewer import DROPDOWN_OBJECTS, object_picker

    names = [f"{i:08d}" for i in range(count)]
    server = viser.ViserServer(host="127.0.0.1", port=free_port(), verbose=False)
    try:
        picked: list[int] = []
        controls = object_picker(server, names, picked.append)
        if count <= DROPDOWN_OBJECTS:
            (pick,) = controls
            assert tuple(pick.options) == tuple(names)
            pick.value = names[2]
            assert picked == [2]
            return
        position, typed = controls  # 1200 names: no dropdown of them all
        assert not hasattr(position, "options") and position.max == count - 1
        position.value = 700
        assert picked == [700] and typed.value == "00000700"  # the box follows the slider
        typed.value = "00001042 "
        assert picked == [700, 1042] and position.value == 1042  # and the slider the box
        typed.value = "0000"  # half typed: nothing happens
        assert picked == [700, 1042] and position.value == 1042
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot_of_viewer(path, tmp_path, drawn, *extra: str) -> np.ndarray:
    """Start ``lrmzero view PATH``, load the page in headless Chromium and return the screenshot
    ``[600, 800, 3]`` uint8 once ``drawn(screenshot)`` holds (up to three loads, each given more
    time: software WebGL on a busy CI machine can be slow to draw a textured mesh); the viewer is
    stopped with Ctrl-C afterwards and must exit cleanly."""
    pytest.importorskip("viser", reason="viser is not installed (pip install -e '.[view]')")
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium to load the page in (Debian: apt-get install chromium)")
    viewer = subprocess.Popen([sys.executable, "-m", "lrmzero.cli", "view", str(path), "--port", str(free_port()), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in viewer.stdout], daemon=True).start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=90)
            if line.startswith("lrmzero view: "):
                url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")  # this machine only, unless --host says otherwise
        from PIL import Image

        for attempt, budget in enumerate((10_000, 20_000, 40_000)):
            shot = tmp_path / f"shot{attempt}.png"
            subprocess.run([browser, "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
                            "--enable-unsafe-swiftshader", f"--user-data-dir={tmp_path / f'profile{attempt}'}",
                            "--window-size=800,600", f"--virtual-time-budget={budget}", f"--screenshot={shot}", url],
                           capture_output=True, timeout=180, check=True)
            image = np.asarray(Image.open(shot).convert("RGB"))
            if drawn(image):
                break
        return image
    finally:
        viewer.send_signal(signal.SIGINT)
        try:
            assert viewer.wait(timeout=20) == 0, "Ctrl-C must stop the viewer cleanly"
        except subprocess.TimeoutExpired:
            viewer.kill()
            raise AssertionError("the viewer did not stop on Ctrl-C") from None


def scene_area(shot: np.ndarray) -> np.ndarray:
    """The middle of the page, clear of the notices (top left), the panel (top right) and the axes
    widget (bottom left): ``[N, 3]`` int pixels."""
    return shot[170:560, 60:740].reshape(-1, 3).astype(int)


@pytest.mark.slow
def test_the_viewer_page_draws_a_dataset_object_in_a_real_browser(dataset, tmp_path):
    def counts(shot):
        px = scene_area(shot)
        frustum_blue = np.abs(px - [40, 90, 200]).max(axis=1) < 50
        drawn = np.abs(px - 255).max(axis=1) > 40  # anything that is not the white page
        return frustum_blue.sum(), (drawn & ~frustum_blue).sum()

    def drawn(shot):
        blue, other = counts(shot)
        return blue > 100 and other > 500

    blue, other = counts(screenshot_of_viewer(dataset, tmp_path, drawn))
    assert blue > 100, "no camera frusta drawn"
    assert other > 500, f"no mesh or view images drawn ({other} pixels)"


@pytest.mark.slow
def test_the_viewer_page_draws_gaussians_in_a_real_browser(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    means = rng.normal(size=(n, 3)) * 0.25
    quats = np.tile([1.0, 0, 0, 0], (n, 1))
    red = np.tile([(0.9 - 0.5) / 0.28209479177387814, (0.05 - 0.5) / 0.28209479177387814,
                   (0.05 - 0.5) / 0.28209479177387814], (n, 1))
    write_ply_by_hand(tmp_path / "red.ply", means, quats, np.full((n, 3), np.log(0.04)), np.full(n, 4.0), red)
    def red(shot):
        px = scene_area(shot)
        return int(((px[:, 0] > 150) & (px[:, 1] < 100) & (px[:, 2] < 100)).sum())

    count = red(screenshot_of_viewer(tmp_path / "red.ply", tmp_path, lambda s: red(s) > 2000))
    assert count > 2000, f"only {count} red pixels: the Gaussians were not drawn"

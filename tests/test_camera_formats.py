"""Camera files of the field: round trips at 1e-9 through every format, a COLMAP model read back
equal to the original, the axis conventions checked against projection, and the mesh-vs-alpha
reprojection check failing on perturbed cameras."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at, read_opencv_cameras
from lrmzero.plugins.tools.camera_formats import (nerfstudio_dict, read_cameras, read_colmap, reprojection_report,
                                                  write_cameras)
from tests.conftest import run_cli, small_dataset


def cameras(n=5, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    eyes = d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(1.5, 3.0, (n, 1))
    K = np.stack([intrinsics_from_fov(64, 48, fov) for fov in rng.uniform(30, 60, n)])
    K[:, 0, 2] += rng.uniform(-2, 2, n)  # off-centre principal points survive too
    return Cameras(look_at(eyes), K, 64, 48), [f"rgba/{i:03d}.png" for i in range(n)]


def shared_intrinsics(cams: Cameras) -> Cameras:
    return Cameras(cams.c2w, np.repeat(cams.K[:1], len(cams), 0), cams.width, cams.height)


@pytest.mark.parametrize("fmt", ["opencv", "nerfstudio", "colmap", "openlrm", "lgm"])
def test_round_trip_every_format(tmp_path, fmt):
    cams, paths = cameras()
    if fmt == "openlrm":  # one intrinsics.npy for every view
        cams = shared_intrinsics(cams)
    if fmt in ("openlrm", "lgm"):  # views by index in the layout's image folder
        paths = [f"{'rgba' if fmt == 'openlrm' else 'rgb'}/{i:03d}.png" for i in range(len(cams))]
    folder = fmt in ("colmap", "openlrm", "lgm")
    out = write_cameras(tmp_path / ("model" if folder else "cams.json"), fmt, cams, paths)
    back, back_paths = read_cameras(out)
    assert back_paths == paths and (back.width, back.height) == (64, 48)
    np.testing.assert_allclose(back.c2w, cams.c2w, atol=1e-9, rtol=0)
    np.testing.assert_allclose(back.K, cams.K, atol=1e-9, rtol=0)


def test_nerfstudio_axes_look_the_other_way():
    """nerfstudio's camera looks along its -z and has y up: the OpenCV forward axis is -z there."""
    cams, paths = cameras()
    frames = nerfstudio_dict(cams, paths)["frames"]
    for frame, c2w in zip(frames, cams.c2w):
        m = np.asarray(frame["transform_matrix"])
        np.testing.assert_allclose(-m[:3, 2], c2w[:3, 2], atol=1e-12)  # forward
        np.testing.assert_allclose(-m[:3, 1], c2w[:3, 1], atol=1e-12)  # OpenCV y is down
        np.testing.assert_allclose(m[:3, 3], c2w[:3, 3], atol=1e-12)


def test_colmap_model_projects_like_opencv(tmp_path):
    """A point projected with the COLMAP file's own numbers (quaternion, translation, PINHOLE
    parameters, read by hand) lands where lrmzero's cameras project it."""
    from scipy.spatial.transform import Rotation

    cams, paths = cameras()
    write_cameras(tmp_path / "m", "colmap", cams, paths)
    point = np.array([0.1, -0.2, 0.3])
    expected, _ = cams.project(point[None])
    intr = {line.split()[0]: [float(x) for x in line.split()[4:]]
            for line in (tmp_path / "m" / "cameras.txt").read_text().splitlines() if not line.startswith("#")}
    lines = [line for line in (tmp_path / "m" / "images.txt").read_text().splitlines() if line and line[0] != "#"]
    for v, line in enumerate(lines):
        _, qw, qx, qy, qz, tx, ty, tz, cid, name = line.split()
        p = Rotation.from_quat([float(qx), float(qy), float(qz), float(qw)]).apply(point) + [float(tx), float(ty), float(tz)]
        fx, fy, cx, cy = intr[cid]
        np.testing.assert_allclose([fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy], expected[v, 0], atol=1e-9)
        assert name == paths[v]
    assert read_colmap(tmp_path / "m")[1] == paths


def test_openlrm_pose_files_project_like_opencv(tmp_path):
    """OpenLRM's files read by hand: pose/NNN.npy is Blender's camera-to-world (the camera looks
    along its -z with y up) and intrinsics.npy is [[fx, fy], [cx, cy], [w, h]]."""
    cams, _ = cameras()
    cams = shared_intrinsics(cams)
    write_cameras(tmp_path / "obj", "openlrm", cams, [f"rgba/{i:03d}.png" for i in range(len(cams))])
    (fx, fy), (cx, cy), (w, h) = np.load(tmp_path / "obj" / "intrinsics.npy")
    assert (w, h) == (64, 48)
    point = np.array([0.1, -0.2, 0.3])
    expected, _ = cams.project(point[None])
    for v in range(len(cams)):
        pose = np.load(tmp_path / "obj" / "pose" / f"{v:03d}.npy")
        assert pose.shape == (3, 4)
        x, y, z = pose[:, :3].T @ (point - pose[:, 3])
        np.testing.assert_allclose([fx * x / -z + cx, fy * -y / -z + cy], expected[v, 0], atol=1e-9)


def test_lgm_pose_files_and_its_fixed_field_of_view(tmp_path):
    """LGM's pose/NNN.txt holds OpenCV camera-to-world numbers row by row; without lrmzero's
    intrinsics.json the reader takes LGM's 49.1 degree vertical field of view and the image size."""
    from PIL import Image

    cams, _ = cameras(3)
    paths = [f"rgb/{i:03d}.png" for i in range(3)]
    write_cameras(tmp_path / "obj", "lgm", cams, paths)
    for v in range(3):
        numbers = [float(x) for x in (tmp_path / "obj" / "pose" / f"{v:03d}.txt").read_text().split()]
        np.testing.assert_array_equal(np.reshape(numbers, (4, 4)), cams.c2w[v])
    (tmp_path / "obj" / "intrinsics.json").unlink()
    (tmp_path / "obj" / "rgb").mkdir()
    Image.new("RGBA", (64, 48)).save(tmp_path / "obj" / "rgb" / "000.png")
    back, back_paths = read_cameras(tmp_path / "obj")
    assert back_paths == paths and (back.width, back.height) == (64, 48)
    np.testing.assert_allclose(back.K[:, 1, 1], 24 / np.tan(np.radians(49.1) / 2), rtol=1e-12)
    np.testing.assert_allclose(back.c2w, cams.c2w, atol=1e-12)


def test_openlrm_and_lgm_refuse_what_they_cannot_hold(tmp_path):
    from lrmzero.errors import ConfigError

    cams, paths = cameras()  # five different fields of view
    with pytest.raises(ConfigError, match="--to openlrm: the views have different intrinsics"):
        write_cameras(tmp_path / "a", "openlrm", cams, paths)
    with pytest.raises(ConfigError, match="--to lgm: frame 1 is 'views/b.png'; this layout names views 001.png"):
        write_cameras(tmp_path / "b", "lgm", cams, ["views/000.png", "views/b.png", *paths[2:]])
    (tmp_path / "c" / "pose").mkdir(parents=True)
    (tmp_path / "c" / "pose" / "000.txt").write_text("1 0 0")
    with pytest.raises(ConfigError, match=r"cannot be read as lgm cameras \(pose/000.txt holds 3 numbers"):
        read_cameras(tmp_path / "c")


def test_nerf_synthetic_style_transforms_are_read(tmp_path):
    cams, paths = cameras(3)
    data = nerfstudio_dict(cams, paths)
    fx = 0.5 * 64 / np.tan(0.4)
    data = {"camera_angle_x": 0.8, "w": 64, "h": 48,
            "frames": [{"file_path": f["file_path"], "transform_matrix": f["transform_matrix"]} for f in data["frames"]]}
    (tmp_path / "transforms.json").write_text(json.dumps(data))
    back, _ = read_cameras(tmp_path / "transforms.json")
    np.testing.assert_allclose(back.K[:, 0, 0], fx, rtol=1e-12)
    np.testing.assert_allclose(back.K[:, :2, 2], [[32, 24]] * 3)
    np.testing.assert_allclose(back.c2w, cams.c2w, atol=1e-12)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = small_dataset(tmp_path_factory.mktemp("reproj"), 1, 5, "render.views=4", "render.resolution=64",
                         "render.shading=unlit", "output.mesh_texture=png")
    return root / "00000000"


def test_convert_checks_its_out_path_first(rendered, tmp_path, capsys):
    """A folder format into a file, a file format into a folder: one line naming --out, nothing written;
    a file format's missing folder is made."""
    from lrmzero.cli import main

    source = str(rendered / "opencv_cameras.json")
    for fmt, out, said in (("colmap", source, "--out (--to colmap): '%s' is a file; allowed: a folder"),
                           ("nerfstudio", str(tmp_path), "--out (--to nerfstudio): '%s' is a folder; allowed: a file")):
        capsys.readouterr()
        assert main(["cameras", "convert", source, "--to", fmt, "--out", out]) == 2
        assert said % out in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["cameras", "convert", source, "--to", "nerfstudio", "--out", str(tmp_path / "new" / "t.json")]) == 0
    again, _ = read_cameras(tmp_path / "new" / "t.json")
    np.testing.assert_allclose(again.c2w, read_opencv_cameras(source)[0].c2w, atol=1e-9)


def test_reprojection_check_passes_on_generated_cameras_and_fails_on_perturbed_ones(rendered, tmp_path):
    ok, lines = reprojection_report(rendered)
    assert ok, lines
    bad = tmp_path / "bad"
    shutil.copytree(rendered, bad)
    data = json.loads((bad / "opencv_cameras.json").read_text())
    w2c = np.asarray(data["frames"][2]["w2c"])
    w2c[0, 3] += 0.4  # the camera moved sideways: its image no longer fits the mesh
    data["frames"][2]["w2c"] = w2c.tolist()
    (bad / "opencv_cameras.json").write_text(json.dumps(data))
    ok, lines = reprojection_report(bad)
    assert not ok and "wrong" in lines[2] and all("wrong" not in line for i, line in enumerate(lines) if i != 2)


def test_cameras_command(rendered, tmp_path):
    res = run_cli("cameras", "convert", str(rendered / "opencv_cameras.json"), "--to", "colmap",
                  "--out", str(tmp_path / "colmap"))
    assert res.returncode == 0, res.stderr
    res = run_cli("cameras", "convert", str(tmp_path / "colmap"), "--to", "nerfstudio",
                  "--out", str(tmp_path / "transforms.json"))
    assert res.returncode == 0, res.stderr
    original, _ = read_opencv_cameras(rendered / "opencv_cameras.json")
    again, _ = read_cameras(tmp_path / "transforms.json")
    np.testing.assert_allclose(again.c2w, original.c2w, atol=1e-9)
    res = run_cli("cameras", "check", str(rendered))
    assert res.returncode == 0 and "cameras agree with the mesh" in res.stdout, res.stdout + res.stderr
    res = run_cli("cameras", "convert", str(rendered / "opencv_cameras.json"), "--to", "blender-json",
                  "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "--to: got 'blender-json'; allowed: opencv, nerfstudio, colmap" in res.stderr
    res = run_cli("cameras", "check", str(rendered.parent))  # the dataset, not one of its objects
    assert res.returncode == 2 and "has no mesh.glb and no opencv_cameras.json; allowed: an object folder" in res.stderr
    res = run_cli("cameras", "check", str(tmp_path / "nosuch"))
    assert res.returncode == 2 and "nosuch' is not a folder" in res.stderr

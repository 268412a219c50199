"""Camera math: look-at, conventions round trips, opencv_cameras.json, camera samplers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrmzero import get_registries
from lrmzero.cameras import (
    Cameras,
    convert_c2w,
    intrinsics_from_fov,
    look_at,
    read_opencv_cameras,
    write_opencv_cameras,
)


def random_c2w(n=20, seed=0):
    rng = np.random.default_rng(seed)
    eyes = rng.normal(size=(n, 3)) * 2
    return look_at(eyes, rng.normal(size=3) * 0.1)


def test_look_at_is_opencv_z_up():
    c2w = look_at(np.array([[3.0, 0.0, 0.0]]))[0]
    np.testing.assert_allclose(c2w[:3, 2], [-1, 0, 0], atol=1e-12)  # z forward, to the origin
    np.testing.assert_allclose(c2w[:3, 1], [0, 0, -1], atol=1e-12)  # y down = -world Z
    np.testing.assert_allclose(c2w[:3, 0], [0, 1, 0], atol=1e-12)
    R = random_c2w()[:, :3, :3]
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    # straight down: still a valid rotation
    down = look_at(np.array([[0.0, 0.0, 2.0]]))[0]
    np.testing.assert_allclose(np.linalg.det(down[:3, :3]), 1.0, atol=1e-12)


@pytest.mark.parametrize("via", [("opengl",), ("blender",), ("opengl", "blender"), ("blender", "opengl")])
def test_convention_round_trips_are_identity(via):
    c2w = random_c2w()
    m, current = c2w, "opencv"
    for conv in via:
        m = convert_c2w(m, current, conv)
        current = conv
    back = convert_c2w(m, current, "opencv")
    np.testing.assert_allclose(back, c2w, atol=1e-9, rtol=0)


def test_blender_camera_looks_along_minus_z():
    c2w = look_at(np.array([[0.0, -3.0, 1.0]]))
    b = convert_c2w(c2w, "opencv", "blender")[0]
    np.testing.assert_allclose(-b[:3, 2], c2w[0, :3, 2], atol=1e-12)  # same viewing direction
    np.testing.assert_allclose(b[:3, 1], -c2w[0, :3, 1], atol=1e-12)  # y up
    gl = convert_c2w(c2w, "opencv", "opengl")[0]
    # OpenGL world is Y up: the camera centre (0, -3, 1) becomes (0, 1, 3)
    np.testing.assert_allclose(gl[:3, 3], [0, 1, 3], atol=1e-12)


def test_opencv_cameras_json_round_trip(tmp_path):
    K = np.repeat(intrinsics_from_fov(512, 512, 50.0)[None], 20, 0)
    cams = Cameras(random_c2w(), K, 512, 512)
    paths = [f"rgba/{i:03d}.png" for i in range(20)]
    write_opencv_cameras(tmp_path / "c.json", cams, paths)
    frame = json.loads((tmp_path / "c.json").read_text())["frames"][0]
    assert set(frame) == {"w", "h", "fx", "fy", "cx", "cy", "w2c", "file_path"}
    assert frame["fx"] == pytest.approx(548.9937, abs=1e-3) and frame["cx"] == 256.0
    back, back_paths = read_opencv_cameras(tmp_path / "c.json")
    np.testing.assert_allclose(back.c2w, cams.c2w, atol=1e-12)
    np.testing.assert_allclose(back.K, cams.K)
    assert back_paths == paths


def test_inconsistent_cameras_are_reported(tmp_path):
    bad = {"frames": [{"w": 8, "h": 8, "fx": 1, "fy": 1, "cx": 4, "cy": 4, "w2c": np.eye(4).tolist(), "file_path": "a"},
                      {"w": 16, "h": 8, "fx": 1, "fy": 1, "cx": 4, "cy": 4, "w2c": np.eye(4).tolist(), "file_path": "b"}]}
    (tmp_path / "c.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="frame 1 is 16x8"):
        read_opencv_cameras(tmp_path / "c.json")
    bad["frames"] = bad["frames"][:1]
    bad["frames"][0]["w2c"] = (np.eye(4) * 2).tolist()
    (tmp_path / "c.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="rigid transform"):
        read_opencv_cameras(tmp_path / "c.json")


def test_zeroverse_sampler_ranges():
    s = get_registries().camera_samplers.build("zeroverse")
    cams = s.sample(500, 512, 512, np.random.default_rng(0))
    r = np.linalg.norm(cams.centers, axis=1)
    assert r.min() >= 1.5 and r.max() <= 2.8
    z = cams.centers[:, 2]
    assert z.min() > -0.75 and z.max() < 1.6
    np.testing.assert_allclose(cams.K[:, 0, 0], 256 / np.tan(np.radians(25)))
    # every camera looks at the origin: the origin projects to the principal point
    uv, depth = cams.project(np.zeros((1, 3)))
    np.testing.assert_allclose(uv[:, 0], 256.0, atol=1e-9)
    np.testing.assert_allclose(depth[:, 0], r)


def test_orbit_is_evenly_spaced():
    s = get_registries().camera_samplers.build("orbit", {"elevations_deg": [30.0], "radius": 2.0})
    cams = s.sample(8, 64, 64, np.random.default_rng(0))
    az = np.degrees(np.arctan2(cams.centers[:, 1], cams.centers[:, 0])) % 360
    np.testing.assert_allclose(np.diff(az), 45.0, atol=1e-9)
    np.testing.assert_allclose(np.degrees(np.arcsin(cams.centers[:, 2] / 2.0)), 30.0)


def test_select_keeps_the_chosen_cameras_in_order():
    import numpy as np

    from lrmzero.cameras import Cameras

    c2w = np.tile(np.eye(4), (5, 1, 1))
    c2w[:, 0, 3] = np.arange(5)
    K = np.tile(np.eye(3), (5, 1, 1)) * np.arange(1, 6)[:, None, None]
    cams = Cameras(c2w, K, 64, 48)
    picked = cams.select([3, 1])
    assert len(picked) == 2 and picked.c2w[:, 0, 3].tolist() == [3.0, 1.0] and picked.K[:, 0, 0].tolist() == [4.0, 2.0]
    assert (picked.width, picked.height) == (64, 48)
    assert cams.select(slice(1, 5, 2)).c2w[:, 0, 3].tolist() == [1.0, 3.0]

"""Gaussian exports: the 3DGS .ply read by plyfile with the reference property list, and the
32-byte .splat layout, both round-tripping the activated Gaussians."""

from __future__ import annotations

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from lrmzero.plugins.models.gaussians.ply import (gaussians_from_ply, read_gaussians_ply, read_gaussians_splat,
                                                  write_gaussians_ply, write_gaussians_splat)

# The property list of the 3DGS reference implementation's point_cloud.ply (SH degree 3).
REFERENCE = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(45)]
             + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def gaussians(n=50, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    return {"means": rng.uniform(-1, 1, (n, 3)), "quats": q / np.linalg.norm(q, axis=1, keepdims=True),
            "scales": rng.uniform(0.001, 0.2, (n, 3)), "opacities": rng.uniform(0.01, 0.99, n),
            "colors": rng.uniform(0, 1, (n, 3))}


def args(g):
    return g["means"], g["quats"], g["scales"], g["opacities"], g["colors"]


def test_ply_has_the_reference_layout_and_round_trips_through_plyfile(tmp_path):
    g = gaussians()
    path = write_gaussians_ply(tmp_path / "g.ply", *args(g))
    ply = PlyData.read(str(path))  # the independent reader
    assert not ply.text and ply.byte_order == "<"
    vertex = ply["vertex"]
    assert [p.name for p in vertex.properties] == REFERENCE
    assert all(vertex[p.name].dtype == np.float32 for p in vertex.properties)
    assert np.all(vertex["f_rest_44"] == 0) and np.all(vertex["nx"] == 0)
    np.testing.assert_allclose(vertex["x"], g["means"][:, 0], atol=1e-6)
    np.testing.assert_allclose(vertex["scale_1"], np.log(g["scales"][:, 1]), atol=1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-vertex["opacity"])), g["opacities"], atol=1e-6)
    back = gaussians_from_ply(path)
    for key in g:
        np.testing.assert_allclose(back[key], g[key], atol=1e-5, err_msg=key)


def test_ply_reader_takes_ascii_and_any_property_order(tmp_path):
    g = gaussians(5, seed=1)
    binary = read_gaussians_ply(write_gaussians_ply(tmp_path / "g.ply", *args(g)))
    shuffled = list(reversed(REFERENCE))
    vertex = np.empty(5, dtype=[(n, "<f4") for n in shuffled])
    for n in shuffled:
        vertex[n] = binary[n]
    PlyData([PlyElement.describe(vertex, "vertex")], text=True).write(str(tmp_path / "ascii.ply"))
    assert PlyData.read(str(tmp_path / "ascii.ply")).text
    back = gaussians_from_ply(tmp_path / "ascii.ply")
    for key in g:
        np.testing.assert_allclose(back[key], g[key], atol=1e-5, err_msg=key)


def test_splat_is_32_bytes_per_splat_and_round_trips(tmp_path):
    g = gaussians(40, seed=2)
    path = write_gaussians_splat(tmp_path / "g.splat", *args(g))
    raw = path.read_bytes()
    assert len(raw) == 32 * 40
    back = read_gaussians_splat(path)
    # sorted by size x opacity, largest first (the positions below come back in that order)
    order = np.argsort(-(g["scales"].prod(axis=1) * g["opacities"]), kind="stable")
    np.testing.assert_allclose(back["means"], g["means"][order], atol=1e-6)
    np.testing.assert_allclose(back["scales"], g["scales"][order], rtol=1e-6)
    np.testing.assert_allclose(back["colors"], g["colors"][order], atol=0.5 / 255 + 1e-9)
    np.testing.assert_allclose(back["opacities"], g["opacities"][order], atol=0.5 / 255 + 1e-9)
    # 8-bit quaternions: the same rotation up to sign, to about 1/128 per component
    dots = np.abs(np.sum(back["quats"] * g["quats"][order], axis=1))
    assert np.all(dots > 0.999)
    # the first record decoded by hand, as a web viewer does
    x, y, z = np.frombuffer(raw[:12], "<f4")
    np.testing.assert_allclose([x, y, z], g["means"][order[0]], atol=1e-6)
    assert raw[24:28] == bytes(np.clip(np.round(np.append(g["colors"][order[0]], g["opacities"][order[0]]) * 255),
                                       0, 255).astype(np.uint8))


@pytest.mark.parametrize("bad", ["empty", "not a ply"])
def test_reading_a_broken_ply_raises(tmp_path, bad):
    path = tmp_path / "b.ply"
    path.write_bytes(b"" if bad == "empty" else b"solid cube\nfacet normal 0 0 1\n")
    with pytest.raises(Exception):
        read_gaussians_ply(path)

"""Every registered primitive builds a closed, outward, UV-mapped mesh of the right volume."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from lrmzero import get_registries

BUILTIN = ["cube", "sphere", "cylinder", "cone", "torus"]
SIZES = [np.array([0.7, 1.1, 0.5]), np.array([0.25, 2.0, 1.3])]


def build(name: str, size: np.ndarray, seed: int = 0):
    prim = get_registries().primitives.build(name)
    return prim, prim.build(size, np.random.default_rng(seed))


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("size", SIZES, ids=["size-a", "size-b"])
def test_closed_outward_and_volume(name, size):
    prim, mesh = build(name, size)
    v, f = mesh.welded()
    tm = trimesh.Trimesh(v, f, process=False)
    assert tm.is_watertight, f"{name} is not watertight after welding UV seams"
    assert tm.is_winding_consistent
    assert mesh.signed_volume() > 0, "normals point inward"
    expected = prim.analytic_volume(mesh)
    assert expected is not None
    assert abs(mesh.signed_volume() - expected) / expected < 0.01
    # no degenerate faces
    assert (tm.area_faces > 0).all()


@pytest.mark.parametrize("name", ["cube", "sphere", "cylinder", "cone"])
def test_convex_normals_point_away_from_centre(name):
    _, mesh = build(name, SIZES[0])
    tri = mesh.vertices[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (np.einsum("ij,ij->i", normals, tri.mean(axis=1)) > 0).all()


def test_torus_normals_point_away_from_tube_centre():
    _, mesh = build("torus", np.array([1.0, 1.0, 1.0]))
    r = mesh.params["tube_ratio"]
    tri = mesh.vertices[mesh.faces]
    centroid = tri.mean(axis=1)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ring = centroid.copy()
    ring[:, 2] = 0
    ring = ring / np.linalg.norm(ring, axis=1, keepdims=True) * (1 - r)
    assert (np.einsum("ij,ij->i", normals, centroid - ring) > 0).all()


@pytest.mark.parametrize("name", BUILTIN)
def test_uvs_ids_and_bounds(name):
    prim, mesh = build(name, SIZES[1])
    assert mesh.uv.min() >= 0.0 and mesh.uv.max() <= 1.0
    assert np.array_equal(mesh.material, mesh.surface)
    assert sorted(np.unique(mesh.surface)) == list(range(len(prim.surfaces)))
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    assert np.all(hi <= SIZES[1] + 1e-9) and np.all(lo >= -SIZES[1] - 1e-9)
    # the part fills its box (each axis reaches its half-size within 2%)
    assert np.all(hi >= SIZES[1] * 0.98)


def test_cube_surfaces_are_its_six_faces():
    _, mesh = build("cube", np.array([1.0, 2.0, 3.0]))
    tri = mesh.vertices[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    expected = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    np.testing.assert_allclose(normals, expected[mesh.surface], atol=1e-12)


@pytest.mark.parametrize("name,surfaces", [("cylinder", 3), ("cone", 2), ("sphere", 1), ("torus", 1)])
def test_surface_counts(name, surfaces):
    _, mesh = build(name, SIZES[0])
    assert mesh.num_surfaces == surfaces


def test_cylinder_caps_face_up_and_down():
    _, mesh = build("cylinder", SIZES[0])
    tri = mesh.vertices[mesh.faces]
    nz = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]
    assert (nz[mesh.surface == 1] > 0).all() and (nz[mesh.surface == 2] < 0).all()


@pytest.mark.parametrize("name", BUILTIN)
def test_same_seed_same_mesh_and_tessellation_config(name):
    _, a = build(name, SIZES[0], seed=3)
    _, b = build(name, SIZES[0], seed=3)
    assert a.vertices.tobytes() == b.vertices.tobytes() and a.faces.tobytes() == b.faces.tobytes()


def test_default_tessellation_is_zeroverse_like():
    # Zeroverse objects have ~39K vertices median: parts carry thousands to tens of thousands.
    counts = {n: len(build(n, SIZES[0])[1].vertices) for n in BUILTIN}
    assert all(c >= 5000 for c in counts.values()), counts
    assert counts["cube"] == 6 * 51 * 51


def test_tessellation_is_configurable():
    reg = get_registries().primitives
    coarse = reg.build("sphere", {"segments": 8, "rings": 4, "uv_wraps": 1}).build(SIZES[0], np.random.default_rng(0))
    assert len(coarse.vertices) == 9 * 5
    twice = reg.build("sphere", {"segments": 8, "rings": 4}).build(SIZES[0], np.random.default_rng(0))
    assert len(twice.vertices) == 2 * 5 * 5  # two halves of 4 segments, each with its own seam


@pytest.mark.parametrize("name", ["sphere", "cylinder"])
def test_sphere_and_cylinder_textures_wrap_twice_around(name):
    """As Zeroverse's: u runs 0 -> 1 over each half turn, so u = (angle mod pi) / pi on the side."""
    part = get_registries().primitives.build(name).build(np.array([0.7, 0.7, 0.5]), np.random.default_rng(0))
    side = np.unique(part.faces[part.surface == 0])
    v, uv = part.vertices[side], part.uv[side]
    ring = np.hypot(v[:, 0], v[:, 1]) > 1e-6
    angle = np.arctan2(v[ring, 1], v[ring, 0]) % (2 * np.pi)
    u = uv[ring, 0]
    expected = (angle % np.pi) / np.pi
    d = np.abs(u - expected)
    assert np.all((d < 1e-6) | (np.abs(d - 1) < 1e-6))  # the seams carry both 0 and 1
    seams = np.unique(np.round(np.cos(angle[np.isclose(u, 1.0)]), 6))
    assert list(seams) == [-1.0, 1.0]  # u = 1 at half a turn and at the full turn
    from tests.test_augmentations import closed

    assert closed(part)

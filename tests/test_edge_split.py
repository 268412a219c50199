"""Long edges split for per-vertex lighting: the surface unchanged and watertight, and a long face lit
along its length."""

from __future__ import annotations

import numpy as np
import trimesh

from lrmzero.asset import Asset
from lrmzero.plugins.renderers.edge_split import split_long_edges
from lrmzero.plugins.renderers.occlusion import ambient_occlusion, split_for_baking
from lrmzero.views import ShadingSettings


def edge_lengths(vertices, faces):
    return np.linalg.norm(vertices[faces[:, [1, 2, 0]]] - vertices[faces], axis=-1)


def test_a_strut_is_cut_into_short_edges_and_stays_the_same_solid():
    strut = trimesh.creation.box([1.8, 0.02, 0.02])
    uv = strut.vertices[:, :2] * 0.5 + 0.5  # linear in position: interpolation must keep it so
    vertices, faces, attributes = split_long_edges(strut.vertices, strut.faces, 0.3, {"uv": uv})
    assert edge_lengths(vertices, faces).max() <= 0.3
    np.testing.assert_array_equal(vertices[: len(strut.vertices)], strut.vertices)  # inputs first, unchanged
    np.testing.assert_allclose(attributes["uv"], vertices[:, :2] * 0.5 + 0.5, atol=1e-12)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent  # every cut edge cut in both of its faces
    np.testing.assert_allclose(mesh.volume, strut.volume, rtol=1e-12)
    np.testing.assert_allclose(mesh.area, strut.area, rtol=1e-12)
    assert len(faces) < 20 * len(strut.faces)  # a ladder along the strut, not a quadratic fan
    again = split_long_edges(vertices, faces, 0.3)
    assert len(again[1]) == len(faces)  # nothing left to cut


def test_seam_copies_of_an_edge_are_cut_alike():
    """A cube whose faces each have their own vertices (as UV seams make them): after cutting, merging
    equal positions gives a closed surface again, i.e. no T-junction, no crack."""
    cube = trimesh.creation.box([1.0, 1.0, 1.0])
    corners = cube.vertices[cube.faces].reshape(-1, 3)
    vertices, faces, _ = split_long_edges(corners, np.arange(len(corners)).reshape(-1, 3), 0.2)
    welded = trimesh.Trimesh(vertices, faces, process=False)
    welded.merge_vertices()
    assert welded.is_watertight and welded.is_winding_consistent
    np.testing.assert_allclose(welded.volume, 1.0, rtol=1e-12)
    assert edge_lengths(vertices, faces).max() <= 0.2


def test_a_long_face_beside_a_wall_is_lit_along_its_length():
    """A strut 1.8 long with a block beside its middle: the strut's top face is darker there. Baked
    per vertex on the strut's 12 triangles, the middle only interpolates its bright ends."""
    strut = trimesh.creation.box([1.8, 0.05, 0.05])
    wall = trimesh.creation.box([0.2, 0.2, 0.4])
    wall.apply_translation([0.0, 0.126, 0.0])  # touching the strut's +y side, up to z = 0.2
    mesh = trimesh.util.concatenate([strut, wall])
    asset = Asset(mesh.vertices, mesh.faces, np.zeros((len(mesh.vertices), 2)), np.full((4, 4, 3), 128, np.uint8))
    point = np.array([[0.0, 0.02, 0.025]])  # on the strut's top face, beside the wall

    def light_at_point(max_edge: float) -> float:
        settings = ShadingSettings(shading="ao", ao_rays=256, ao_max_edge=max_edge)
        lit = split_for_baking(asset, settings)
        baked = ambient_occlusion(lit, settings)
        tri = lit.vertices[lit.faces]
        top = np.flatnonzero(np.all(np.abs(tri[:, :, 2] - 0.025) < 1e-9, 1) & np.all(np.abs(tri[:, :, 1]) <= 0.025, 1))
        bary = trimesh.triangles.points_to_barycentric(tri[top], np.repeat(point, len(top), 0))
        inside = np.flatnonzero(np.all(bary >= -1e-9, axis=1))[0]
        corners = baked.mesh.faces[top[inside]]  # the face's vertices as baked (split at creases)
        return float(bary[inside] @ baked.visibility[corners])

    unsplit, split = light_at_point(0.0), light_at_point(0.1)
    assert unsplit > 0.9, unsplit  # interpolated from the ends, which see the sky
    assert split < 0.85, split  # the wall takes part of it

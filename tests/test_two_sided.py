"""Open surfaces seen from both sides, as Cycles shows them: a double-sided asset (a real mesh that is not
closed and wound outwards) is drawn by `gl` and traced by `raycast` from behind too, each side lit by what
it sees; a closed generated object keeps its back faces culled."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image

from lrmzero import get_registries
from lrmzero.asset import Asset
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.components import RendererUnavailable
from lrmzero.views import ShadingSettings
from tests.conftest import run_cli


def _renderer(name: str):
    try:
        return get_registries().renderers.build(name)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))


def _sheet(double_sided: bool) -> Asset:
    """A 1 x 1 square in the plane x = 0, wound to face +x, one colour."""
    vertices = np.array([[0.0, -0.5, -0.5], [0.0, 0.5, -0.5], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    return Asset(vertices, faces, np.full((4, 2), 0.5), np.full((4, 4, 3), (180, 60, 40), np.uint8),
                 double_sided=double_sided)


def _front_and_back_cameras(size: int = 32) -> Cameras:
    """One camera on +x (the sheet's front) and its mirror image on -x (its back), both a little above."""
    eyes = np.array([[2.0, 0.3, 0.4], [-2.0, -0.3, 0.4]])
    return Cameras(look_at(eyes), np.repeat(intrinsics_from_fov(size, size, 50.0)[None], 2, 0), size, size)


@pytest.mark.parametrize("renderer", ["gl", "raycast"])
def test_an_open_sheet_shows_both_sides_lit_alike(renderer):
    cams = _front_and_back_cameras()
    settings = ShadingSettings(shading="ao", ao_bounce="traced", ao_bounce_stride=1)
    views = _renderer(renderer).render(_sheet(double_sided=True), cams, settings)
    front, back = views.rgba[0].astype(float), views.rgba[1].astype(float)
    # the back camera is the front one turned half a turn about z, which turns the sheet into itself:
    # the two see the same image
    assert front[..., 3].mean() > 60
    np.testing.assert_allclose(back[..., 3], front[..., 3], atol=2)
    covered = (front[..., 3] == 255) & (back[..., 3] == 255)
    assert np.abs(front[..., :3] - back[..., :3])[covered].mean() < 2.0  # both sides see open sky
    for v in range(2):  # normals face each camera
        to_camera = cams.c2w[v, :3, 3] / np.linalg.norm(cams.c2w[v, :3, 3])
        assert (views.normal[v][views.mask[v]] @ to_camera > 0.5).all()
    # a closed object's back faces are culled: the same sheet, said to be closed, has no back
    culled = _renderer(renderer).render(_sheet(double_sided=False), cams, settings)
    assert np.array_equal(culled.rgba[0, ..., 3], views.rgba[0, ..., 3]) and culled.rgba[1, ..., 3].max() == 0


def test_gl_and_raycast_agree_on_both_sides_of_an_open_cup():
    cup = trimesh.creation.cylinder(radius=0.4, height=1.0, sections=48)
    cup = trimesh.Trimesh(cup.vertices, cup.faces[cup.triangles_center[:, 2] < 0.49], process=False)  # no lid
    asset = Asset(cup.vertices, cup.faces, np.full((len(cup.vertices), 2), 0.5), np.full((4, 4, 3), 200, np.uint8),
                  double_sided=True)
    cams = get_registries().camera_samplers.build("orbit", {"radius": 2.5, "elevations_deg": [50.0, -20.0]}).sample(
        4, 64, 64, np.random.default_rng(0))
    settings = ShadingSettings(shading="ao")
    a, b = _renderer("gl").render(asset, cams, settings), _renderer("raycast").render(asset, cams, settings)
    assert (a.mask == b.mask).mean() > 0.99
    both = (a.rgba[..., 3] == 255) & (b.rgba[..., 3] == 255)
    assert np.abs(a.rgba[..., :3].astype(float) - b.rgba[..., :3])[both].mean() < 3.0
    cos = np.sum(a.normal * b.normal, axis=-1)[both]
    assert np.median(cos) > 0.999


def test_each_side_of_an_open_cup_is_lit_by_what_it_sees():
    """The cup's floor: its outside (facing down, nothing below) sees the whole sky; its inside (the floor's
    back, facing up between the walls) sees only the sky above the rim."""
    from lrmzero.plugins.renderers.occlusion import ambient_occlusion
    from lrmzero.plugins.renderers.two_sided import with_back_faces

    cup = trimesh.creation.cylinder(radius=0.3, height=1.0, sections=48)
    cup = trimesh.Trimesh(cup.vertices, cup.faces[cup.triangles_center[:, 2] < 0.49], process=False)
    asset = Asset(cup.vertices, cup.faces, np.full((len(cup.vertices), 2), 0.5), np.full((4, 4, 3), 200, np.uint8),
                  double_sided=True)
    F = len(cup.faces)
    floor = np.flatnonzero(cup.triangles_center[:, 2] < -0.49)
    for split_creases in (True, False):
        settings = ShadingSettings(shading="ao", ao_rays=256, ao_distance=2.0, ao_smoothing=0,
                                   ao_split_creases=split_creases, ao_bounce="traced", ao_bounce_stride=1)
        baked = ambient_occlusion(with_back_faces(asset), settings)
        assert len(baked.mesh.faces) == 2 * F
        corners = {"outside": baked.mesh.faces[floor].ravel(),  # the inside's in the same order: (a, c, b)
                   "inside": baked.mesh.faces[F + floor][:, [0, 2, 1]].ravel()}
        centre = {side: c[np.linalg.norm(cup.vertices[baked.mesh.source[c]][:, :2], axis=1) < 1e-9][0]
                  for side, c in corners.items()}
        assert baked.visibility[corners["outside"]].min() > 0.99
        # the inside's centre sees the sky through the rim, a cone of half-angle atan(0.3 / 1) about up:
        # a cosine-weighted share of sin^2 = 0.09 / 1.09
        assert abs(baked.visibility[centre["inside"]] - 0.09 / 1.09) < 0.02, split_creases
        assert baked.visibility[corners["inside"]].max() < 0.2
        # the bounce inside is the inner walls' light (they see ~a quarter of the sky), not the outer walls'
        # (all of it), though a ray meets the wall's two copies in one plane
        albedo = (200 / 255) ** 2.2
        assert baked.bounce[corners["inside"]].mean() < 0.4 * albedo  # 0.13 measured; the outer copies: 0.99
        # each side's normals point to its own side (smoothed over the rim where creases are not split)
        normals = {side: baked.mesh.normals[c] for side, c in corners.items()}
        np.testing.assert_allclose(normals["inside"], -normals["outside"], atol=1e-12)
        assert (normals["outside"][:, 2] < -0.1).all()
        np.testing.assert_allclose(baked.mesh.normals[centre["inside"]], [0, 0, 1], atol=1e-9)


def test_a_hit_on_either_copy_of_a_face_becomes_the_copy_facing_the_ray():
    from lrmzero.plugins.renderers.two_sided import facing_copies, with_back_faces

    sphere = trimesh.creation.icosphere(subdivisions=1)
    asset = with_back_faces(Asset(sphere.vertices, sphere.faces, np.zeros((len(sphere.vertices), 2)),
                                  np.zeros((1, 1, 3), np.uint8), double_sided=True))
    F2 = len(asset.faces)
    rng = np.random.default_rng(0)
    tri = rng.integers(0, F2, 200)
    bary = rng.dirichlet(np.ones(3), 200)
    corners = asset.vertices[asset.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    dirs = rng.normal(size=(200, 3))
    away = np.einsum("ij,ij->i", normals[tri], dirs) > 0
    turned, turned_bary = facing_copies(tri, bary, away, F2)
    # the same point, on the copy whose normal faces against the ray
    np.testing.assert_allclose(np.einsum("ni,nij->nj", turned_bary, corners[turned]),
                               np.einsum("ni,nij->nj", bary, corners[tri]), atol=1e-12)
    assert (np.einsum("ij,ij->i", normals[turned], dirs) < 0).all()
    assert np.array_equal(turned[~away], tri[~away]) and (turned[away] % (F2 // 2) == tri[away] % (F2 // 2)).all()


def test_closed_and_outward_tells_which_meshes_can_show_a_back_face():
    from lrmzero.plugins.generation.real_meshes.sides import closed_and_outward

    ball = trimesh.creation.icosphere(subdivisions=2)
    v, f = np.asarray(ball.vertices), np.asarray(ball.faces)
    assert closed_and_outward(v, f)
    assert closed_and_outward(v[f].reshape(-1, 3), np.arange(3 * len(f)).reshape(-1, 3))  # split per face
    two = np.concatenate([v, v + 3.0]), np.concatenate([f, f + len(v)])
    assert closed_and_outward(*two)
    cube = trimesh.creation.box()
    touching = np.concatenate([cube.vertices, cube.vertices + [1.0, 1.0, 0.0]]), np.concatenate([cube.faces,
                                                                                                cube.faces + 8])
    assert closed_and_outward(*touching)  # solids sharing an edge (four faces on it): closed, not manifold
    flipped = f.copy()
    flipped[5] = flipped[5, ::-1]
    inner = np.concatenate([v, 0.5 * v]), np.concatenate([f, f[:, ::-1] + len(v)])  # a hollow ball's wall
    for name, (verts, faces) in {"inside out": (v, f[:, ::-1]), "one face flipped": (v, flipped),
                                 "a face missing": (v, f[1:]), "a shell wound inwards": inner,
                                 "a fin on an edge": (np.concatenate([v, [[3.0, 3.0, 3.0]]]),
                                                      np.concatenate([f, [[*f[0, :2], len(v)]]]))}.items():
        assert not closed_and_outward(verts, faces), name


def _glb_materials(path) -> list[dict]:
    with open(path, "rb") as f:
        f.seek(12)
        length = struct.unpack("<I", f.read(4))[0]
        f.seek(20)
        return json.loads(f.read(length)).get("materials", [])


def test_render_shows_an_open_mesh_from_every_side_and_says_so(tmp_path):
    """A sheet (open) and a box (closed) through `lrmzero render`: the sheet is seen from every camera and its
    mesh.glb's material is double-sided; the box stays single-sided. meta.json records which."""
    (tmp_path / "in").mkdir()
    sheet = trimesh.Trimesh([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    sheet.visual.face_colors = [200, 30, 30, 255]
    sheet.export(tmp_path / "in" / "sheet.glb")
    trimesh.creation.box((1.0, 1.0, 1.0)).export(tmp_path / "in" / "box.glb")
    out = tmp_path / "out"
    res = run_cli("render", str(tmp_path / "in"), "--out", str(out), "--quiet", "--config", "demo",
                  "render.views=8", "render.resolution=32")
    assert res.returncode == 0, res.stderr
    for name, open_mesh in (("sheet", True), ("box", False)):
        assert json.loads((out / name / "meta.json").read_text())["double_sided"] is open_mesh
        assert [m.get("doubleSided", False) for m in _glb_materials(out / name / "mesh.glb")] == [open_mesh]
        alpha = np.stack([np.asarray(Image.open(p))[..., 3] for p in sorted((out / name / "rgba").glob("*.png"))])
        assert (alpha.reshape(len(alpha), -1).max(1) == 255).all(), name  # every view sees it

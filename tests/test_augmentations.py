"""Height fields, boolean difference and wireframes: closed results, bounds, records, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from lrmzero import get_registries
from lrmzero.asset import encode_glb
from lrmzero.components import AugmentContext
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import make_composer
from lrmzero.plugins.augmentations.boolean_difference import cut_part
from lrmzero.plugins.augmentations.height_field import bump_field, sample_field
from lrmzero.plugins.augmentations.solids import to_manifold


def regs():
    return get_registries()


def prim(name: str, size, **params):
    part = regs().primitives.build(name, params).build(np.asarray(size, float), np.random.default_rng(0))
    return part.copy(size=np.asarray(size, float))


def context():
    counter = iter(range(100, 1000))
    reg = regs().primitives
    return AugmentContext({n: reg.build(n) for n in reg.names()}, reg, lambda: next(counter))


def aug(name: str, **params):
    return regs().augmentations.build(name, params)


def closed(part) -> bool:
    """Closed and consistently oriented by position: every directed edge a->b is matched by as many
    b->a (the oriented boundary is empty), and the enclosed volume is positive. This is trimesh's
    watertight + winding-consistent, except that two sheets may touch along an edge (booleans give
    such valid pinches, e.g. an edge shared by four faces)."""
    v, f = part.welded()
    if len(trimesh.Trimesh(v, f, process=False).faces) == 0:
        return False
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = len(v)
    forward = np.bincount(directed[:, 0] * n + directed[:, 1], minlength=n * n) if n < 5000 else None
    if forward is not None:
        return bool(np.array_equal(forward, forward.reshape(n, n).T.reshape(-1))) and part.signed_volume() > 0
    a = directed[:, 0] * n + directed[:, 1]
    b = directed[:, 1] * n + directed[:, 0]
    ua, ca = np.unique(a, return_counts=True)
    ub, cb = np.unique(b, return_counts=True)
    return bool(np.array_equal(ua, ub) and np.array_equal(ca, cb)) and part.signed_volume() > 0


# --- height field -------------------------------------------------------------------------

def test_bump_field_border_is_exactly_zero_and_bounded():
    for seed in range(20):
        field = bump_field(np.random.default_rng(seed), 0.3)
        assert field.shape == (36, 36)
        assert np.all(field[0] == 0) and np.all(field[-1] == 0)
        assert np.all(field[:, 0] == 0) and np.all(field[:, -1] == 0)
        assert np.abs(field).max() > 0
    # bilinear lookup on the UV border returns the border value exactly
    uv = np.array([[0.0, 0.3], [1.0, 0.7], [0.4, 0.0], [0.6, 1.0]])
    assert np.all(sample_field(field, uv) == 0.0)


@pytest.mark.parametrize("name", ["cube", "sphere", "cylinder", "cone", "torus"])
def test_displaced_part_stays_closed_within_amplitude_bound(name):
    part = prim(name, [0.8, 1.0, 0.6])
    hf = aug("height_field", smooth_probability=0.0, max_amplitude=0.2)
    new, record = hf.displace(part, np.random.default_rng(3))
    assert closed(new)
    moved = np.linalg.norm(new.vertices - part.vertices, axis=1)
    bound = 0.2 * 2 * 0.6
    assert moved.max() > 0
    assert moved.max() <= bound + 1e-12
    for r in record:
        assert 0 <= r["amplitude"] <= bound
    assert len(record) == part.num_surfaces


def test_cube_faces_move_along_their_normals():
    part = prim("cube", [1.0, 1.0, 1.0])
    new, _ = aug("height_field", smooth_probability=0.0).displace(part, np.random.default_rng(1))
    d = new.vertices - part.vertices
    plus_x = np.unique(part.faces[part.surface == 0])
    np.testing.assert_allclose(d[plus_x][:, 1:], 0.0, atol=1e-12)


def test_probability_zero_leaves_mesh_byte_identical():
    base = load_config("demo", ["augment.apply=[]"])
    off = load_config("demo", ["augment.apply=[height_field]", "augmentations.height_field.probability=0"])
    smooth = load_config("demo", ["augment.apply=[height_field]", "augmentations.height_field.smooth_probability=1"])
    a = make_composer(base, regs()).build(0, 3)
    for run in (off, smooth):
        b = make_composer(run, regs()).build(0, 3)
        assert a.vertices.tobytes() == b.vertices.tobytes()
        assert a.faces.tobytes() == b.faces.tobytes()


# --- boolean difference ---------------------------------------------------------------------

def test_sphere_minus_box_matches_analytic_cap():
    sphere = prim("sphere", [1.0, 1.0, 1.0], segments=200, rings=100)
    box = prim("cube", [2.0, 2.0, 1.0], segments=2).transformed(
        np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1.5], [0, 0, 0, 1.0]]))
    box = box.copy(surface=np.full(len(box.faces), 1, np.int32), material=np.full(len(box.faces), 9, np.int32))
    out, what = cut_part(sphere, box, thickness=0.0)
    assert what == "cut" and closed(out)
    h = 0.5  # the box removes the cap above z = 0.5
    expected = 4 / 3 * np.pi - np.pi * h * h * (3 - h) / 3
    assert abs(out.signed_volume() - expected) / expected < 0.01
    before = to_manifold(sphere).volume()
    inter = (to_manifold(sphere) ^ to_manifold(box)).volume()
    assert abs(out.signed_volume() - (before - inter)) / before < 1e-3
    # kept faces keep their material, the cut wall carries the cutter's material and UVs
    assert set(np.unique(out.material)) == {0, 9}
    assert np.isfinite(out.uv).all() and out.uv.min() >= 0 and out.uv.max() <= 1
    wall = out.faces[out.material == 9]
    np.testing.assert_allclose(out.vertices[wall][..., 2], 0.5, atol=1e-5)


def test_thin_walls_left_by_thickness():
    sphere = prim("sphere", [1.0, 1.0, 1.0])
    cutter = prim("cube", [0.5, 0.5, 0.5]).transformed(np.array([[1, 0, 0, 1.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    solid, _ = cut_part(sphere, cutter, 0.0)
    shell, what = cut_part(sphere, cutter, 0.02)
    assert what == "cut" and closed(shell)
    assert shell.signed_volume() < 0.2 * solid.signed_volume()  # hollow: only the wall remains


def test_boolean_augmentation_closed_smaller_and_recorded():
    parts = [prim("sphere", [0.9, 0.9, 0.9]), prim("cube", [0.5, 0.4, 0.3])]
    booldiff = aug("boolean_difference", size_min=0.4, size_max=0.5)
    for seed in range(4):
        out, record = booldiff.apply(parts, np.random.default_rng(seed), context())
        assert record["parts"][record["on_part"]] in ("cut", "removed")
        assert len(out) == sum(r != "removed" for r in record["parts"])
        kept = iter(out)
        for original, what in zip(parts, record["parts"]):
            if what == "removed":
                continue
            new = next(kept)
            assert closed(new)
            if what == "cut":
                assert new.signed_volume() < original.signed_volume()
            assert np.isfinite(new.uv).all() and new.uv.min() >= 0 and new.uv.max() <= 1
            assert len(new.uv) == len(new.vertices)


def test_default_cut_is_a_solid_bite_of_the_right_volume():
    """Defaults: the part stays solid and loses exactly its intersection with the cutter (within
    1%), the cutter rebuilt from the record and intersected by manifold3d; cylinder and cone
    cutters are 2 long, so they tunnel through a part of size 1.8."""
    from scipy.spatial.transform import Rotation

    from lrmzero.plugins.augmentations.boolean_difference import cutter_half_axes

    part = prim("cube", [0.9, 0.6, 0.5])
    booldiff = aug("boolean_difference", cutters=["sphere", "cube", "cone", "cylinder"])
    checked = set()
    for seed in range(10):
        out, record = booldiff.apply([part], np.random.default_rng(seed), context())
        if record["parts"] != ["cut"]:
            continue
        ctx = context()
        cutter = ctx.primitives[record["cutter"]].build(
            cutter_half_axes(record["cutter"], record["size"], 2.0), np.random.default_rng(0))
        pose = np.eye(4)
        pose[:3, :3] = Rotation.from_quat(record["rotation_quat_xyzw"]).as_matrix()
        pose[:3, 3] = record["centre"]
        inter = (to_manifold(part) ^ to_manifold(cutter.transformed(pose))).volume()
        expected = part.signed_volume() - inter
        assert closed(out[0])
        assert abs(out[0].signed_volume() - expected) / expected < 0.01
        assert out[0].signed_volume() > 0.4 * part.signed_volume()  # solid, not a shell
        if record["cutter"] in ("cylinder", "cone"):
            assert np.ptp(cutter.vertices[:, 2]) == pytest.approx(2.0)
        checked.add(record["cutter"])
    assert len(checked) >= 3


def test_cutter_that_misses_or_swallows_is_handled():
    small = prim("sphere", [0.1, 0.1, 0.1])
    far = prim("cube", [0.3, 0.3, 0.3]).transformed(np.array([[1, 0, 0, 5.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    assert cut_part(small, far, 0.01) == (small, "missed")
    huge = prim("cube", [1.0, 1.0, 1.0])
    part, what = cut_part(small, huge, 0.01)
    assert part is None and what == "removed"
    # an augmentation whose cutter swallows the only part is skipped, and says so
    booldiff = aug("boolean_difference", size_min=3.0, size_max=3.0, cutters=["cube"])
    out, record = booldiff.apply([small], np.random.default_rng(0), context())
    assert out == [small] and record["skipped"] == "the cutter would remove every part"


# --- wireframe --------------------------------------------------------------------------

BLENDER_MESHES = Path(__file__).with_name("data") / "blender_meshes.npz"  # tests/data/make_blender_meshes.py


@pytest.mark.parametrize("base", ["cube", "cylinder8", "cone6", "sphere8x4", "cube_subdivided"])
def test_mitred_wireframe_is_blenders_wireframe_modifier(base):
    """joints=mitred against Blender's own Wireframe modifier set as the official code sets it
    (tests/data/make_blender_meshes.py ran it in Blender 5.0.1 on these bases: quads, n-gon caps,
    a cone's triangle fan, a UV sphere's poles, a subdivided cube): the same vertices to float32
    precision, one for one, and the same enclosed volume."""
    from scipy.spatial import cKDTree

    from lrmzero.mesh import weld_positions
    from lrmzero.plugins.augmentations.wireframe import wireframe_modifier

    reference = np.load(BLENDER_MESHES)
    corners = reference[f"wireframe/{base}/polygon_corners"]
    polygons = np.split(corners, np.cumsum(reference[f"wireframe/{base}/polygon_sizes"])[:-1])
    vertices, faces, uv, surface = wireframe_modifier(reference[f"wireframe/{base}/points"], polygons,
                                                      float(reference["thickness"]))
    positions, group = weld_positions(vertices)
    blender = reference[f"wireframe/{base}/vertices"]
    assert len(positions) == len(blender)
    assert cKDTree(blender).query(positions)[0].max() < 1e-6  # each of ours is one of Blender's
    assert cKDTree(positions).query(blender)[0].max() < 1e-6  # and each of Blender's one of ours
    mesh = trimesh.Trimesh(positions, group[faces], process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(float(reference[f"wireframe/{base}/volume"]), rel=1e-5)
    assert uv.shape == (len(vertices), 2) and uv.min() >= 0 and uv.max() <= 1


@pytest.mark.parametrize("kind", ["sphere", "cube", "cone", "cylinder", "torus"])
@pytest.mark.parametrize("subdivision", ["none", "simple", "catmull_clark"])
def test_wireframe_bases_are_blenders_default_meshes(kind, subdivision):
    """The bases as Blender 5.0.1 makes them for augment_shape.py (primitive_*_add at the wireframe's size,
    then the Subdivision Surface modifier with the official settings: a cube 3 levels, the rest 1, no
    limit surface): the same vertices to float32 precision, one for one."""
    from scipy.spatial import cKDTree

    from lrmzero.plugins.augmentations import polygon_meshes
    from lrmzero.plugins.augmentations.wireframe import polygon_base

    reference = np.load(BLENDER_MESHES)
    points, polygons = polygon_base(kind, float(reference["size"]), 2.0)
    if subdivision != "none":
        points, polygons = polygon_meshes.subdivide((points, polygons), 3 if kind == "cube" else 1,
                                                    smooth=subdivision == "catmull_clark")
    blender = reference[f"base/{kind}/{subdivision}"]
    assert len(points) == len(blender)
    assert cKDTree(blender).query(points)[0].max() < 1e-6
    assert cKDTree(points).query(blender)[0].max() < 1e-6


def corners_match(positions, uvs, blender_positions, blender_uvs) -> float:
    """The largest distance from one of Blender's face corners (position, UV) to the nearest of ours and
    back, after checking there are as many: two face-corner multisets compared."""
    from scipy.spatial import cKDTree

    ours = np.concatenate([positions, uvs], 1)
    theirs = np.concatenate([blender_positions, blender_uvs], 1).astype(np.float64)
    assert len(ours) == len(theirs)
    return max(cKDTree(ours).query(theirs)[0].max(), cKDTree(theirs).query(ours)[0].max())


@pytest.mark.parametrize("kind,subdivision", [("sphere", "none"), ("cube", "none"), ("cone", "none"),
                                              ("cylinder", "none"), ("torus", "none"), ("cube", "simple"),
                                              ("cone", "simple"), ("cylinder", "simple"), ("cube", "catmull_clark"),
                                              ("cylinder", "catmull_clark"), ("cone", "catmull_clark"),
                                              ("sphere", "catmull_clark"), ("torus", "catmull_clark")])
def test_wireframe_bases_carry_blenders_uv_maps(kind, subdivision):
    """Every face corner's UV as Blender 5.0.1 maps the default mesh and subdivides it: linearly within each
    face for "simple"; for Catmull-Clark smoothed inside the UV islands, seams kept (the cone's apex and the
    sphere's rings next to its poles move by up to 0.019 and 0.003 from the linear UVs)."""
    from lrmzero.plugins.augmentations import polygon_meshes
    from lrmzero.plugins.augmentations.wireframe import polygon_base

    reference = np.load(BLENDER_MESHES)
    points, polygons = polygon_base(kind, float(reference["size"]), 2.0)
    corner_uv = polygon_meshes.default_uvs(kind, points, polygons)
    if subdivision != "none":
        points, polygons, corner_uv = polygon_meshes.subdivide_with_uvs(
            (points, polygons), corner_uv, 3 if kind == "cube" else 1, smooth=subdivision == "catmull_clark")
    positions = np.concatenate([points[p] for p in polygons])
    prefix = f"uv/{kind}/{subdivision}"
    assert corners_match(positions, np.concatenate(corner_uv), reference[f"{prefix}/positions"],
                         reference[f"{prefix}/uvs"]) < 1e-5


@pytest.mark.parametrize("base", ["cube", "cylinder8", "cone6", "sphere8x4", "cube_subdivided"])
def test_mitred_wireframe_beams_take_their_base_corners_uvs_as_blender(base):
    """Blender's modifier copies each base corner's UV to the corners it makes: given the base's UV map,
    every face corner of ours has Blender's position and UV (a beam shows its edge's stretch of the map)."""
    from lrmzero.plugins.augmentations import polygon_meshes
    from lrmzero.plugins.augmentations.wireframe import wireframe_modifier

    reference = np.load(BLENDER_MESHES)
    points = reference[f"wireframe/{base}/points"]
    corners = reference[f"wireframe/{base}/polygon_corners"]
    polygons = np.split(corners, np.cumsum(reference[f"wireframe/{base}/polygon_sizes"])[:-1])
    if base == "cube_subdivided":
        cube_points, cube_polygons = polygon_meshes.cube(0.4)
        corner_uv = polygon_meshes.subdivide_with_uvs(
            (cube_points, cube_polygons), polygon_meshes.default_uvs("cube", cube_points, cube_polygons), 1, False)[2]
    else:
        kind = {"cube": "cube", "cylinder8": "cylinder", "cone6": "cone", "sphere8x4": "sphere"}[base]
        corner_uv = polygon_meshes.default_uvs(kind, points, polygons)
    vertices, faces, uv, _ = wireframe_modifier(points, polygons, float(reference["thickness"]), corner_uv=corner_uv)
    assert corners_match(vertices, uv, reference[f"wireframe/{base}/corner_positions"],
                         reference[f"wireframe/{base}/corner_uvs"]) < 1e-5


def test_mitred_cube_wireframe_is_placed_as_recorded():
    wf = aug("wireframe", kinds=["cube"], thickness_min=0.01, thickness_max=0.03, subdivide_probability=0.0,
             joints="mitred")
    parts = [prim("sphere", [0.9, 0.9, 0.9])]
    for seed in range(3):
        out, record = wf.apply(parts, np.random.default_rng(seed), context())
        wire, s, t = out[-1], record["size"], record["thickness"]
        assert record["struts"] == 12 and wire.num_surfaces == 12 and len(wire.faces) == 12 * 8
        assert closed(wire)
        # the frame's centre; its corners t/2 out along the cube's diagonals, along the rotated axes
        rotation = Rotation.from_quat(record["rotation_quat_xyzw"])
        local = rotation.inv().apply(wire.vertices - record["centre"])
        assert np.allclose(np.abs(local).max(0), s + t / 2 / np.sqrt(3))


@pytest.mark.parametrize("kind,subdivide", [("sphere", 0.0), ("torus", 0.0), ("cylinder", 1.0), ("cone", 0.0),
                                            ("cube", 1.0)])
def test_mitred_wireframes_are_closed_with_one_surface_per_edge(kind, subdivide):
    wf = aug("wireframe", kinds=[kind], subdivide_probability=subdivide, joints="mitred")
    out, record = wf.apply([prim("sphere", [0.9, 0.9, 0.9])], np.random.default_rng(1), context())
    wire = out[-1]
    assert closed(wire) and wire.signed_volume() > 0
    assert wire.num_surfaces == record["struts"] and len(wire.faces) == 8 * record["struts"]
    assert np.all(np.bincount(wire.surface) == 8)  # each edge: 2 quads from each of its two polygons


def test_mitred_insets_stop_inside_polygons_narrower_than_the_beams():
    """A slab 1 x 1 x 0.02 framed with beams 0.05 thick: its sides are 0.02 wide, so Blender's inset of
    half the thickness (0.025) would shoot past the side's far edge. The inset stops at 1.8 x the side's
    half-width (0.018): the rims on each side face cross, as Blender's do, but stay inside the face."""
    from lrmzero.plugins.augmentations.polygon_meshes import cube
    from lrmzero.plugins.augmentations.wireframe import wireframe_modifier

    points, polygons = cube(0.5)
    points = points * [1.0, 1.0, 0.02]

    def rims(vertices):  # the rims of the +-y sides: in their plane, inside their x extent
        on_side = (np.abs(np.abs(vertices[:, 1]) - 0.5) < 1e-12) & (np.abs(vertices[:, 0]) < 0.5)
        assert on_side.any()
        return np.abs(vertices[on_side, 2])

    vertices, faces, _, _ = wireframe_modifier(points, polygons, 0.05)
    assert np.allclose(rims(vertices), 0.008)  # 0.018 from its own edge: 0.008 past the middle
    mesh = trimesh.Trimesh(vertices, faces)  # welded by position
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert np.allclose(rims(wireframe_modifier(points, polygons, 0.05, inset_limit=1e9)[0]), 0.015)  # Blender's


def test_boxes_joints_give_twelve_closed_square_beams_in_range():
    wf = aug("wireframe", kinds=["cube"], thickness_min=0.01, thickness_max=0.03, subdivide_probability=0.0,
             joints="boxes")
    parts = [prim("sphere", [0.9, 0.9, 0.9])]
    for seed in range(3):
        out, record = wf.apply(parts, np.random.default_rng(seed), context())
        wire = out[-1]
        assert record["struts"] == 12 and record["vertices"] == 8 and record["subdivision"] is None
        assert 0.01 <= record["thickness"] <= 0.03 and 0.3 <= record["size"] <= 0.6
        assert wire.num_surfaces == 12
        material_ids = set(np.unique(parts[0].material))
        assert set(np.unique(wire.material)) <= material_ids
        lengths = []
        for s in range(12):
            faces = wire.faces[wire.surface == s]
            piece = wire.copy(faces=faces, surface=wire.surface[wire.surface == s],
                              material=wire.material[wire.surface == s])
            assert closed(piece)
            # a square beam of side `thickness` (volume = side^2 x length) along a cube edge of
            # length 2 x size, extended by (just over) half the side at both ends
            v = np.unique(wire.vertices[np.unique(faces)], axis=0)
            centred = v - v.mean(0)
            axis = np.linalg.svd(centred, full_matrices=False)[2][0]
            lengths.append(np.ptp(centred @ axis))
            t = record["thickness"]
            assert np.isclose(piece.signed_volume(), t * t * lengths[-1], rtol=1e-6)
        np.testing.assert_allclose(lengths, 2 * record["size"] + 1.001 * record["thickness"], rtol=1e-6)


@pytest.mark.parametrize("kind,edges", [("sphere", 992), ("torus", 1152), ("cylinder", 96), ("cone", 64), ("cube", 12)])
def test_every_edge_of_blenders_default_mesh_is_a_strut(kind, edges):
    """Blender's defaults: UV sphere 32 x 16 (992 edges), torus 48 x 12, cylinder and cone of 32
    vertices with n-gon caps (no spokes), cube."""
    wf = aug("wireframe", kinds=[kind], subdivide_probability=0.0)
    out, record = wf.apply([prim("sphere", [0.9, 0.9, 0.9])], np.random.default_rng(0), context())
    assert record["struts"] == edges
    assert out[-1].num_surfaces == edges


def test_subdivision_raises_a_cubes_struts_above_twelve():
    wf = aug("wireframe", kinds=["cube"], subdivide_probability=1.0)
    seen = set()
    for seed in range(6):
        _, record = wf.apply([prim("sphere", [0.9, 0.9, 0.9])], np.random.default_rng(seed), context())
        assert record["struts"] == 768  # 3 levels: 8 x 8 quads per side, 2 edges per quad
        seen.add(record["subdivision"])
    assert seen == {"simple", "catmull_clark"}


def test_catmull_clark_of_a_cube_matches_the_known_first_level():
    """One Catmull-Clark step of the cube [-1, 1]^3: corners move to +-5/9, edge points sit at
    (0, +-3/4, +-3/4), face points at the face centres; simple subdivision keeps the corners."""
    from lrmzero.plugins.augmentations.polygon_meshes import cube, subdivide

    v, quads = subdivide(cube(1.0), 1, smooth=True)
    assert len(quads) == 24
    corners = v[np.all(np.abs(np.abs(v) - 5 / 9) < 1e-12, axis=1)]
    assert len(corners) == 8
    edge_points = v[np.sum(np.isclose(np.abs(v), 0.75), axis=1) == 2]
    assert len(edge_points) == 12 and np.allclose(np.sort(np.abs(edge_points), axis=1)[:, 0], 0)
    face_points = v[np.sum(np.isclose(np.abs(v), 1.0), axis=1) == 1]
    assert len(face_points) == 6
    v_simple, _ = subdivide(cube(1.0), 1, smooth=False)
    assert np.sum(np.all(np.isclose(np.abs(v_simple), 1.0), axis=1)) == 8


# --- whole pipeline -----------------------------------------------------------------------

ALL_ON = [
    "augment.apply=[height_field,boolean_difference,wireframe]",
    "augmentations.boolean_difference.probability=1",
    "augmentations.wireframe.probability=1",
]


def test_pipeline_records_and_determinism():
    run = load_config("demo", ALL_ON)
    a = make_composer(run, regs()).build(7, 2)
    b = make_composer(run, regs()).build(7, 2)
    assert encode_glb(a) == encode_glb(b)
    names = [r["name"] for r in a.meta["augmentations"]]
    assert names == ["height_field", "boolean_difference", "wireframe"]
    assert all(r["applied"] for r in a.meta["augmentations"])


def test_normalized_once_before_the_augmentations():
    """As the official renderer: the object is scaled to a largest side of 1.8 before the
    augmentations and not again after them, so a wireframe does not shrink the object."""
    plain = make_composer(load_config("demo", ["augment.apply=[]"]), regs()).build(7, 2)
    wired = make_composer(load_config("demo", ["augment.apply=[wireframe]", "augmentations.wireframe.probability=1"]),
                          regs()).build(7, 2)
    assert np.isclose(np.ptp(plain.vertices, axis=0).max(), 1.8)
    assert wired.meta["normalization"] == plain.meta["normalization"]
    lo, hi = wired.vertices.min(0), wired.vertices.max(0)
    assert np.all(lo <= plain.vertices.min(0) + 1e-12) and np.all(hi >= plain.vertices.max(0) - 1e-12)
    # the object's own vertices are where they were without the wireframe
    wire_faces = len(wired.faces) - len(plain.faces)
    assert wire_faces > 0
    from scipy.spatial import cKDTree

    assert cKDTree(wired.vertices).query(plain.vertices)[0].max() < 1e-9
    again = make_composer(load_config("demo", ["augment.apply=[wireframe]", "augmentations.wireframe.probability=1",
                                               "shape.renormalize_after_augmentations=true"]), regs()).build(7, 2)
    assert np.isclose(np.ptp(again.vertices, axis=0).max(), 1.8)


def test_default_config_applies_all_three():
    run = load_config()
    assert run.generate.augment.apply == ["height_field", "boolean_difference", "wireframe"]
    code = load_config("zeroverse-code")
    assert code.generate.augment.apply == []


def test_listed_by_plugins():
    from tests.conftest import run_cli

    out = run_cli("plugins").stdout
    for name in ("height_field", "boolean_difference", "wireframe"):
        assert f"  {name}" in out


def test_one_cutter_in_overlapping_parts_leaves_one_wall():
    """Two overlapping boxes cut by one sphere each get the sphere's wall where they overlap: the
    object keeps one copy of every coincident face (same positions, same winding) and loses no
    other, so no surface z-fights in a rasterizer or shades its twin in a path tracer."""
    from lrmzero.mesh import concatenate, drop_coincident_faces

    sphere = prim("sphere", [0.4, 0.4, 0.4])
    a, b = prim("cube", [0.6, 0.6, 0.6]), prim("cube", [0.6, 0.6, 0.6]).transformed(
        np.array([[1, 0, 0, 0.3], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    corner = np.array([[1, 0, 0, 0.45], [0, 1, 0, 0.6], [0, 0, 1, 0.6], [0, 0, 0, 1.0]])
    cut = [cut_part(p, sphere.transformed(corner), 0.0) for p in (a, b)]
    assert [status for _, status in cut] == ["cut", "cut"]
    both = concatenate([part for part, _ in cut])
    repeats = coincident(both.vertices, both.faces)
    assert repeats > 50  # the sphere's wall inside the overlap, twice
    single = drop_coincident_faces(both)
    assert coincident(single.vertices, single.faces) == 0 and len(single.faces) == len(both.faces) - repeats
    assert len(single.surface) == len(single.material) == len(single.faces)
    # faces facing each other are not duplicates: a face and its reverse both stay
    pair = both.copy(faces=np.concatenate([both.faces[:1], both.faces[:1, ::-1]]), surface=both.surface[:2],
                     material=both.material[:2])
    assert len(drop_coincident_faces(pair).faces) == 2


def test_default_objects_have_no_coincident_faces():
    """Seed 0's first object cuts two overlapping parts with one cutter (1,425 faces were doubled)."""
    asset = make_composer(load_config(), regs()).build(0, 0)
    assert asset.meta["augmentations"][1]["parts"].count("cut") >= 2
    assert coincident(asset.vertices, asset.faces) == 0


def coincident(vertices, faces) -> int:
    """Faces that repeat another's three positions in the same winding (np.unique on rows: an
    independent count, not the hashing of core.mesh)."""
    from lrmzero.mesh import weld_positions

    group = weld_positions(vertices)[1][faces]
    start = np.argmin(group, axis=1)
    canonical = np.take_along_axis(group, (np.arange(3)[None] + start[:, None]) % 3, axis=1)
    return len(canonical) - len(np.unique(canonical, axis=0))

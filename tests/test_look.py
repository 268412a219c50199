"""The rendered look: antialiased edges with coverage alpha, thin struts that stay connected, the
official tone chain (per-object levels, gamma 1/2.2), linear-space environment shading."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from lrmzero import get_registries
from lrmzero.asset import Asset
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.components import RendererUnavailable
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import make_composer
from lrmzero.plugins.renderers.occlusion import (ambient_occlusion, bake_ambient_occlusion, split_at_creases,
                                                  split_for_baking)
from lrmzero.plugins.renderers.shading import _cap_overlap, environment_shade, specular_visibility
from lrmzero.tone import levels_range, to_linear, to_srgb, tone_map
from lrmzero.views import ShadingSettings


def gl(**cfg):
    try:
        return get_registries().renderers.build("gl", cfg)
    except RendererUnavailable as exc:
        pytest.skip(str(exc))


def gray_asset(mesh: trimesh.Trimesh, value: int = 150) -> Asset:
    uv = np.full((len(mesh.vertices), 2), 0.5)
    return Asset(np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64), uv,
                 np.full((4, 4, 3), value, np.uint8), {})


def cameras_around(count: int, size: int, radius: float) -> Cameras:
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    eyes = np.stack([radius * np.cos(angles), radius * np.sin(angles), 0.4 * radius * np.ones(count)], -1)
    return Cameras(look_at(eyes), np.repeat(intrinsics_from_fov(size, size, 50.0)[None], count, 0), size, size)


def test_edges_have_fractional_coverage_alpha():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.8)
    views = gl().render(gray_asset(sphere), cameras_around(3, 96, 2.5), ShadingSettings(shading="unlit"))
    alpha = views.rgba[..., 3]
    for a in alpha:
        covered = a > 0
        edge = covered & ~ndimage.binary_erosion(covered)
        assert edge.sum() > 50
        # most silhouette pixels are partly covered; a 1-sample renderer gives 255 on all
        assert np.mean((a[edge] > 0) & (a[edge] < 255)) > 0.5
    one_sample = gl(supersample=1, pixel_filter=0).render(gray_asset(sphere), cameras_around(1, 96, 2.5),
                                                          ShadingSettings(shading="unlit"))
    assert set(np.unique(one_sample.rgba[..., 3])) == {0, 255}
    # coverage is correct: the alpha-weighted area equals the analytic disc's (a sphere of radius
    # 0.8 seen from d subtends a cone of half-angle asin(0.8 / d); near the image centre the
    # ellipse is a circle within a few per cent)
    fx = views.cameras.K[0, 0, 0]
    d = np.linalg.norm(views.cameras.c2w[0, :3, 3])
    r_img = fx * np.tan(np.arcsin(0.8 / d))  # exact for the view's centre, ellipse ~ circle here
    area = alpha[0].sum() / 255.0
    assert abs(area / (np.pi * r_img ** 2) - 1) < 0.04


@pytest.mark.parametrize("supersample,pixel_filter,connected", [(2, 1.5, True), (2, 0.0, True), (1, 0.0, False)])
def test_thin_strut_projects_to_one_connected_silhouette(supersample, pixel_filter, connected):
    """A 0.01-thick strut, 1.6 long, seen from 2.8 (Zeroverse's far camera) at 256 px is about a
    pixel wide: antialiasing keeps it one piece; single-sample rasterization breaks it (the
    second case shows the first can fail)."""
    strut = trimesh.creation.cylinder(radius=0.005, height=1.6, sections=8)
    strut.apply_transform(trimesh.transformations.rotation_matrix(1.1, [1.0, 0.3, 0.2]))
    views = gl(supersample=supersample, pixel_filter=pixel_filter).render(
        gray_asset(strut), cameras_around(6, 256, 2.8), ShadingSettings(shading="unlit"))
    pieces = [ndimage.label(a > 0, structure=np.ones((3, 3)))[1] for a in views.rgba[..., 3]]
    if connected:
        assert pieces == [1] * 6
    else:
        assert max(pieces) > 1


def test_levels_put_the_99th_percentile_of_opaque_luminance_at_one():
    """The official tone chain on a neutral object: after levels and gamma, decoding the 8-bit
    values with gamma 2.2 gives a 99th percentile of opaque linear luminance within 2% of 1, over
    all views together (one range per object)."""
    run = load_config("demo", ["materials.sources=[gradient]"])
    asset = make_composer(run, get_registries()).build(5, 2)
    gray = asset.texture.mean(axis=-1, keepdims=True).astype(np.uint8)
    asset.texture = np.repeat(gray // 2, 3, axis=-1)  # dark: levels must brighten it
    settings = ShadingSettings(shading="ao", ao_rays=8, levels=True)
    views = gl().render(asset, cameras_around(8, 128, 2.4), settings)
    opaque = views.rgba[..., 3] == 255
    weights = np.array([0.2126, 0.7152, 0.0722])
    luminance = ((views.rgba[..., :3][opaque] / 255.0) ** 2.2) @ weights
    assert abs(np.percentile(luminance, 99) - 1.0) < 0.02
    assert np.percentile(luminance, 1) < 0.02  # the 1st percentile goes to black
    plain = gl().render(asset, cameras_around(8, 128, 2.4), ShadingSettings(shading="ao", ao_rays=8))
    plain_lum = ((plain.rgba[..., :3][opaque] / 255.0) ** 2.2) @ weights
    assert np.percentile(plain_lum, 99) < 0.5


def test_tone_map_matches_the_official_chain_by_hand():
    rng = np.random.default_rng(0)
    linear = rng.uniform(0.0, 0.6, (2, 5, 5, 3)).astype(np.float32)
    alpha = np.ones((2, 5, 5), np.float32)
    alpha[0, 0, 0] = 0.0
    alpha[1, 1, 1] = 0.5
    lo, hi = levels_range(linear, alpha)
    assert np.allclose([lo, hi], np.percentile(linear[alpha > 0.95], [1, 99]))
    out = tone_map(linear, alpha, (1.0, 1.0, 1.0), (lo, hi))
    c = np.clip((linear[1, 1, 1] - lo) / (hi - lo), 0, 1)
    expected = (c * 0.5 + 0.5) ** (1 / 2.2) * 255  # composited over white in linear, then gamma
    assert np.allclose(out[1, 1, 1, :3], np.round(expected), atol=1)
    assert out[1, 1, 1, 3] == 128
    assert np.all(out[0, 0, 0] == [255, 255, 255, 0])


def test_environment_shading_is_energy_plausible():
    """Open sky, white rough dielectric: close to 1 (what Cycles gives under a uniform white
    world); fully occluded: only the bounce; a metal reflects its own colour."""
    white = np.ones((1, 3))
    assert np.allclose(environment_shade(white, np.ones(1), 0.3, roughness=1.0), 1.0, atol=0.06)
    assert np.allclose(environment_shade(white * 0.5, np.zeros(1), 0.3, roughness=1.0), 0.3 * 0.5, atol=0.03)
    gold = np.array([[1.0, 0.7, 0.3]])
    metal = environment_shade(gold, np.ones(1), 0.0, roughness=0.2, metallic=1.0)
    assert np.allclose(metal / metal.max(), gold / gold.max(), atol=0.05)
    assert np.allclose(to_linear(np.array([0.5, 0.02])), [((0.5 + 0.055) / 1.055) ** 2.4, 0.02 / 12.92])  # sRGB curve
    codes = np.linspace(0.0, 1.0, 1001)
    assert np.allclose(to_srgb(to_linear(codes)), codes, atol=1e-9)  # and back
    assert np.isclose(to_srgb(0.2), 1.055 * 0.2 ** (1 / 2.4) - 0.055) and np.isclose(to_srgb(0.001), 0.01292)


def test_creases_split_a_box_into_flat_sides_and_leave_smooth_surfaces_whole():
    """A box's 8 shared corners become 24 vertices, each with its face's normal (as Blender's auto
    smooth); the faces still cover the same triangles. A smooth sphere is not split."""
    box = trimesh.creation.box((1.0, 0.5, 0.3))
    creased = split_at_creases(np.asarray(box.vertices), np.asarray(box.faces))
    assert len(creased.source) == 24 and len(np.unique(creased.faces)) == 24
    vertices = np.asarray(box.vertices)
    assert np.array_equal(vertices[creased.source][creased.faces], vertices[box.faces])
    face_normals = np.asarray(box.face_normals)
    corner_normals = creased.normals[creased.faces]  # [F, 3, 3]
    assert np.allclose(corner_normals, face_normals[:, None, :], atol=1e-9)
    assert len(np.unique(creased.points)) == 24  # one bake point per (corner position, side)

    sphere = trimesh.creation.uv_sphere(radius=1.0, count=[32, 64])  # has copies along its seam
    creased = split_at_creases(np.asarray(sphere.vertices), np.asarray(sphere.faces))
    assert np.array_equal(creased.faces, sphere.faces)
    assert np.array_equal(creased.source, np.arange(len(sphere.vertices)))
    radial = np.asarray(sphere.vertices) / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    assert np.min(np.sum(creased.normals * radial, 1)) > 0.999
    assert creased.num_points == len(np.unique(np.round(sphere.vertices, 9), axis=0))  # seam copies share a point


def test_occlusion_is_baked_per_side_of_a_hard_edge():
    """Two plates 0.05 apart: the corner of the lower plate's top face (facing the other plate)
    is far more occluded than the same position on its outer side face; one vertex per position
    (the old smooth bake) would give both the same value."""
    lower = trimesh.creation.box((1.0, 1.0, 0.1))
    upper = lower.copy()
    upper.apply_translation((0.0, 0.0, 0.15))
    plates = trimesh.util.concatenate([lower, upper])
    vertices, faces = np.asarray(plates.vertices), np.asarray(plates.faces)
    baked = bake_ambient_occlusion(vertices, faces, rays=256, distance=1.0, crease_degrees=40.0)
    creased, visibility = baked.mesh, baked.visibility
    corner = np.array([0.5, 0.5, 0.05])  # top corner of the lower plate
    at_corner = np.flatnonzero(np.linalg.norm(vertices[creased.source] - corner, axis=1) < 1e-9)
    up = at_corner[creased.normals[at_corner, 2] > 0.99]
    side = at_corner[creased.normals[at_corner, 0] > 0.99]
    assert len(up) == 1 and len(side) == 1
    # +z at the plate's corner: the upper plate covers about a quarter of the cosine-weighted sky
    # directly overhead; +x: open except for rays grazing the plates.
    assert visibility[up[0]] < 0.85 and visibility[side[0]] > 0.9
    assert visibility[up[0]] < visibility[side[0]] - 0.1


@pytest.mark.parametrize("stride", [1, 4])
def test_bounce_light_takes_the_colour_and_light_of_the_surface_it_comes_from(stride):
    """A white floor beside a red wall: where the floor's directions are occluded they see the wall,
    so its bounce is red, the wall's linear albedo (1) times the wall's own partial visibility, also
    when only every 4th ray is traced; an open point (nothing traced hits) keeps the uniform grey, and
    an untextured bake takes mid grey."""
    floor = trimesh.creation.box((2.0, 2.0, 0.1))
    floor.apply_translation((0.0, 0.0, -0.05))
    for _ in range(4):
        floor = floor.subdivide()  # grid points on the floor's top, 0.125 apart
    wall = trimesh.creation.box((0.1, 2.0, 1.0))
    wall.apply_translation((0.5, 0.0, 0.5))  # x in [0.45, 0.55]
    vertices = np.concatenate([floor.vertices, wall.vertices])
    faces = np.concatenate([floor.faces, wall.faces + len(floor.vertices)])
    texture = np.zeros((2, 2, 3), np.uint8)
    texture[:, 0] = (255, 255, 255)  # u < 0.5: white
    texture[:, 1] = (255, 0, 0)      # u > 0.5: red
    uv = np.full((len(vertices), 2), 0.25)
    uv[len(floor.vertices):] = 0.75
    baked = bake_ambient_occlusion(vertices, faces, rays=512, distance=0.5, uv=uv, texture=texture,
                                   traced_bounce=True, bounce_stride=stride)
    positions = vertices[baked.mesh.source]
    near = np.flatnonzero((np.abs(positions[:, 0] - 0.375) < 1e-9) & (np.abs(positions[:, 1]) < 0.5)
                          & (np.abs(positions[:, 2]) < 1e-9))  # floor top, 0.075 from the wall
    far = np.flatnonzero((np.abs(positions[:, 0] + 0.5) < 1e-9) & (np.abs(positions[:, 1]) < 0.5)
                         & (np.abs(positions[:, 2]) < 1e-9))  # floor top, 1 away: open sky
    assert len(near) and len(far)
    assert np.all(baked.visibility[near] < 0.7) and np.all(baked.visibility[far] == 1.0)
    red, green, blue = baked.bounce[near].T
    assert np.all((red > 0.15) & (red < 0.9)) and np.all(green < 0.02) and np.all(blue < 0.02)
    mean_albedo = (1.0 + 0.5 + 0.5) / 3  # linear: white and red halves, over the three channels
    assert np.allclose(baked.bounce[far], mean_albedo * baked.visibility.mean())
    uniform = bake_ambient_occlusion(vertices, faces, rays=64, distance=0.5, uv=uv, texture=texture)
    assert np.allclose(uniform.bounce, mean_albedo * uniform.visibility.mean())  # one grey value
    grey = bake_ambient_occlusion(vertices, faces, rays=64, distance=0.5, traced_bounce=True)
    occluded = grey.visibility < 1.0
    assert np.allclose(grey.bounce[occluded], grey.bounce[occluded][:, :1])  # grey
    assert np.all((grey.bounce[occluded] > 0.0) & (grey.bounce[occluded] <= 0.5))


def test_metallic_mixes_a_dielectric_and_a_metal_lobe():
    """Half metallic is the mean of the dielectric and the metal result, as Blender's Principled BSDF
    and glTF mix the two lobes (one lobe of mixed F0 is 9% darker than Cycles on a rough half-metal:
    the multiple-scattering term is not linear in F0)."""
    base = np.array([[0.6, 0.2, 0.05]])
    for roughness in (0.2, 0.5, 0.9):
        for n_dot_v in (1.0, 0.3):
            shade = [environment_shade(base, np.ones(1), 0.0, roughness, m, np.array([n_dot_v]))
                     for m in (0.0, 0.5, 1.0)]
            assert np.allclose(shade[1], (shade[0] + shade[2]) / 2, atol=1e-12)


def test_dielectric_fresnel_and_its_albedo_table():
    """The exact dielectric Fresnel equals the mean of the s and p reflectances from Snell's law
    (0.04 head-on, 1 at grazing, p vanishing at Brewster's angle), and the table's dielectric albedo at
    near-mirror roughness is that Fresnel at the texel's n . v (Schlick's fit would be 0.02 low there)."""
    from lrmzero.plugins.renderers.shading import dfg_table, dielectric_brdf, dielectric_fresnel

    n = 1.5
    cos_i = np.linspace(0.01, 1.0, 50)
    cos_t = np.sqrt(1 - (1 - cos_i ** 2) / n ** 2)
    rs = ((cos_i - n * cos_t) / (cos_i + n * cos_t)) ** 2
    rp = ((n * cos_i - cos_t) / (n * cos_i + cos_t)) ** 2
    assert np.allclose(dielectric_fresnel(cos_i), (rs + rp) / 2, atol=1e-12)
    assert np.isclose(dielectric_fresnel(1.0), 0.04) and np.isclose(dielectric_fresnel(0.0), 1.0)
    table = dfg_table()
    centres = (np.arange(table.shape[0]) + 0.5) / table.shape[0]
    near_mirror = table[:, 0, 2]  # roughness texel 0: alpha ~ 2e-4
    assert np.allclose(near_mirror[centres > 0.2], dielectric_fresnel(centres[centres > 0.2]), atol=2e-3)
    schlick = 0.04 + 0.96 * (1 - 0.5) ** 5
    assert dielectric_brdf(np.array(0.01), np.array(0.5)) > schlick + 0.015
    # rough surfaces lose energy to masking; multiple scattering returns it: albedo rises with it
    assert dielectric_brdf(np.array(1.0), np.array(0.5)) > table[15, 31, 2]


def test_gl_environment_shading_matches_the_numpy_formula():
    """A flat-lit open sphere (no occlusion: visibility 1) rendered by the shader equals
    environment_shade of its base colour at each pixel's n . v (gamma-encoded, no levels)."""
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.8)
    asset = gray_asset(sphere, 180)
    asset.maps = {"metallic_roughness": np.full((4, 4, 3), (0, 100, 0), np.uint8)}
    cams = cameras_around(1, 64, 2.5)
    views = gl(supersample=1).render(asset, cams, ShadingSettings(shading="ao", ao_rays=4, ao_distance=1e-3))
    m = views.rgba[0, ..., 3] == 255
    ys, xs = np.nonzero(m)
    eye = cams.c2w[0, :3, 3]
    d = views.depth[0, ys, xs]
    pix = np.stack([xs + 0.5, ys + 0.5, np.ones_like(xs, float)], -1)
    world = (pix @ np.linalg.inv(cams.K[0]).T * d[:, None]) @ cams.c2w[0, :3, :3].T + eye
    n_dot_v = np.sum(views.normal[0, ys, xs] * (eye - world), -1) / np.linalg.norm(eye - world, axis=1)
    expected = environment_shade(np.full((len(xs), 3), to_linear(180 / 255.0)), np.ones(len(xs)), 0.0,
                                 roughness=100 / 255.0, n_dot_v=n_dot_v)
    got = (views.rgba[0, ys, xs, :3] / 255.0) ** 2.2
    assert np.abs(got - np.clip(expected, 0, 1)).max() < 0.02


def test_cycles_cameras_and_masks_agree_with_gl():
    """Blender Cycles (skipped where no Python with bpy is found: LRMZERO_BPY_PYTHON) renders the
    same cameras: its alpha masks agree with gl's on >= 99% of pixels, and the tone chain gives
    both images the same range."""
    try:
        cycles = get_registries().renderers.build("cycles", {"samples": 8})
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    run = load_config("demo", ["materials.sources=[pbr]"])
    asset = make_composer(run, get_registries()).build(2, 1)
    cams = get_registries().camera_samplers.build("zeroverse").sample(3, 96, 96, np.random.default_rng(1))
    settings = ShadingSettings(shading="ao", levels=True)
    a = gl().render(asset, cams, settings)
    b = cycles.render(asset, cams, settings)
    covered = (a.rgba[..., 3] > 0) | (b.rgba[..., 3] > 0)
    assert np.mean(a.mask[covered] == b.mask[covered]) >= 0.99
    both = (a.rgba[..., 3] == 255) & (b.rgba[..., 3] == 255)
    assert np.abs(a.rgba[..., :3][both].astype(float) - b.rgba[..., :3][both]).mean() < 25
    # depth (ray cast at pixel centres for cycles) agrees but at depth edges inside a pixel
    assert np.mean(np.abs(a.depth[both] - b.depth[both]) <= 0.02 * b.depth[both]) > 0.97


def test_specular_visibility_is_the_lobes_share_of_the_visible_cone():
    """Open sky: 1 whatever the lobe; no sky: 0; a mirror's ray inside the visible cone sees the sky,
    outside it does not; caps that hold one another or are apart overlap exactly (Oat and Sander)."""
    up = np.array([0.0, 0.0, 1.0])

    def direction(degrees):
        return np.array([np.sin(np.radians(degrees)), 0.0, np.cos(np.radians(degrees))])

    for roughness in (0.05, 0.5, 1.0):
        for angle in (0.0, 40.0, 80.0):
            assert specular_visibility(up, 1.0, up, direction(angle), roughness) == pytest.approx(1.0)
            assert specular_visibility(up, 0.0, up, direction(angle), roughness) == pytest.approx(0.0)
    # visibility 0.5: the visible cone's half-angle is 45 degrees (sin^2 = 0.5)
    assert specular_visibility(up, 0.5, up, direction(20.0), 0.0) == pytest.approx(1.0)
    assert specular_visibility(up, 0.5, up, direction(70.0), 0.0) == pytest.approx(0.0)
    shares = [float(specular_visibility(up, 0.5, up, direction(a), 0.4)) for a in (0, 20, 40, 60, 80)]
    assert all(a >= b for a, b in zip(shares, shares[1:])) and shares[0] > shares[-1]
    # exact cases of the cap overlap: nested (the smaller cap) and apart (nothing)
    assert _cap_overlap(np.cos(0.3), np.cos(1.0), np.cos(0.5)) == pytest.approx(1 - np.cos(0.3))
    assert _cap_overlap(np.cos(0.3), np.cos(0.4), np.cos(0.8)) == 0.0


def test_a_smooth_metal_floor_reflects_the_wall_beside_it():
    """Bent normals lean away from a wall; a mirror-like floor is dark where its mirror rays meet the
    wall and bright where they meet the sky; gl's shader and the numpy formula (raycast) agree."""
    floor = trimesh.creation.box([2.0, 2.0, 0.02])
    floor.apply_translation([0.0, 0.0, -0.01])
    wall = trimesh.creation.box([0.1, 2.0, 1.0])
    wall.apply_translation([0.35, 0.0, 0.5])
    mesh = trimesh.util.concatenate([floor, wall])
    asset = gray_asset(mesh, 230)
    asset.maps = {"metallic_roughness": np.full((4, 4, 3), (0, 13, 255), np.uint8)}  # metal, roughness 0.05
    settings = ShadingSettings(shading="ao", ao_rays=64, ao_max_edge=0.05)
    lit = split_for_baking(asset, settings)
    baked = ambient_occlusion(lit, settings)
    positions = lit.vertices[baked.mesh.source]
    near = (np.abs(positions[:, 2]) < 1e-9) & (np.abs(positions[:, 0] - 0.2) < 0.03) & (np.abs(positions[:, 1]) < 0.5)
    assert near.any() and np.all(baked.bent[near, 0] < -0.2)  # the open sky is away from the wall
    towards, away = np.array([0.6, 0.0, 0.8]), np.array([-0.6, 0.0, 0.8])
    up = baked.mesh.normals[near]
    seen_towards = specular_visibility(baked.bent[near], baked.visibility[near], up, towards, 0.05)
    seen_away = specular_visibility(baked.bent[near], baked.visibility[near], up, away, 0.05)
    assert np.all(seen_towards < 0.3) and np.all(seen_away > 0.9)
    # rendered from the far side of the floor, looking at the wall: the floor before the wall
    # mirrors the wall, the floor far from it mirrors the sky
    c2w = look_at(np.array([[-1.6, 0.0, 0.9]]), target=np.array([0.1, 0.0, 0.0]))
    cams = Cameras(c2w, intrinsics_from_fov(96, 96, 50.0)[None], 96, 96)
    flat = ShadingSettings(shading="ao", ao_rays=64, ao_max_edge=0.05, levels=False)
    a = gl(supersample=1).render(asset, cams, flat)
    b = get_registries().renderers.build("raycast").render(asset, cams, flat)
    floor_px = (a.depth[0] > 0) & (b.depth[0] > 0) & (np.abs(a.normal[0, ..., 2] - 1) < 1e-3)
    world_x = _pixel_world(a, 0)[..., 0]
    close, far = floor_px & (np.abs(world_x - 0.2) < 0.08), floor_px & (world_x < -0.6)
    for views in (a, b):
        linear = to_linear(views.rgba[0, ..., :3] / 255.0).mean(-1)
        # the wall, lit ~0.6 by the bounce, against the sky's 1 (the cosine-weighted visibility there,
        # ~0.8, would give ~0.9)
        assert linear[close].mean() < 0.8 * linear[far].mean(), (linear[close].mean(), linear[far].mean())
    both = (a.depth[0] > 0) & (b.depth[0] > 0)
    assert np.abs(a.rgba[0, ..., :3].astype(float) - b.rgba[0, ..., :3])[both].mean() < 6.0


def _pixel_world(views, i: int) -> np.ndarray:
    """``[H, W, 3]`` world positions of view ``i``'s pixels from its depth."""
    cams = views.cameras
    H, W = views.depth.shape[1:]
    ys, xs = np.mgrid[0:H, 0:W]
    pix = np.stack([xs + 0.5, ys + 0.5, np.ones((H, W))], -1)
    cam = pix @ np.linalg.inv(cams.K[i]).T * views.depth[i][..., None]
    return cam @ cams.c2w[i, :3, :3].T + cams.c2w[i, :3, 3]

"""Light baked per vertex for the environment shading (:mod:`shading`): ambient occlusion of a
cosine-weighted hemisphere (Embree), one diffuse bounce and the bent normal, on the mesh split at its
creases and with its long edges cut (:mod:`edge_split`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse

from lrmzero.mesh import unique_rows, weld_positions
from lrmzero.plugins.renderers.cutouts import SeeThrough, hole_test
from lrmzero.plugins.renderers.edge_split import split_long_edges
from lrmzero.plugins.renderers.mipmaps import decode_srgb
from lrmzero.plugins.renderers.ray_caster import RayCaster
from lrmzero.plugins.renderers.texels import nearest
from lrmzero.plugins.renderers.two_sided import BACK_CORNERS, facing_copies, has_back_faces


def hemisphere_directions(count: int) -> np.ndarray:
    """``[count, 3]`` fixed, cosine-weighted directions about +z (a Fibonacci spiral)."""
    i = np.arange(count) + 0.5
    r = np.sqrt(i / count)
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1.0 - r * r)], axis=-1)


CREASE_DEGREES = 40.0


@dataclass(frozen=True)
class CreasedMesh:
    """A mesh's corners grouped as a renderer with smooth per-vertex attributes needs them: one
    vertex per (position, side of every crease) instead of one per position, so that a value
    baked per vertex (ambient occlusion) belongs to one flat side of a hard edge.

    ``source``: ``[R]`` the input vertex each output vertex copies (uv and all); ``faces``:
    ``[F, 3]`` into R (each of the R vertices used), the input's faces in the same order;
    ``normals``: ``[R, 3]`` unit normals, area-weighted over the faces around the position that
    bend by less than the crease angle from the corner's own face; ``points``: ``[R]`` id (below
    ``num_points``) of the distinct (position, normal) the vertex shares with its copies across UV
    seams (bake once per point)."""

    source: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    points: np.ndarray
    num_points: int


def split_at_creases(vertices: np.ndarray, faces: np.ndarray,
                     crease_degrees: float | None = CREASE_DEGREES) -> CreasedMesh:
    """Smooth normals with hard edges, as Blender's auto smooth makes them (see :class:`CreasedMesh`).

    ``vertices [V, 3]``, ``faces [F, 3]``. A corner's normal sums the (area-weighted) normals of the
    faces at its position within ``crease_degrees`` of its own face's normal; corners of one vertex
    whose normals differ become separate vertices. A strut's box corner, where three faces meet at
    right angles, becomes three vertices, each with its face's normal. Positions whose faces all lie
    within half the angle of their mean are smooth whatever the pairing, so only the others pay for
    the pairwise test. ``crease_degrees=None``: no creases (one smooth vertex per input vertex)."""
    unique, group = weld_positions(vertices)
    tri = vertices[faces]
    area_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    unit = area_normals / np.maximum(np.linalg.norm(area_normals, axis=1, keepdims=True), 1e-300)
    corner_position = group[faces].ravel()
    corner_face = np.repeat(np.arange(len(faces)), 3)
    smooth = np.stack([np.bincount(corner_position, np.repeat(area_normals[:, k], 3), len(unique))
                       for k in range(3)], 1)
    smooth /= np.maximum(np.linalg.norm(smooth, axis=1, keepdims=True), 1e-300)
    if crease_degrees is None:
        return CreasedMesh(np.arange(len(vertices)), faces, smooth[group], group, len(unique))
    deviation = np.einsum("fcj,fj->fc", smooth[corner_position].reshape(-1, 3, 3), unit).ravel()
    limit = np.cos(np.radians(crease_degrees))
    suspect = np.zeros(len(unique), bool)
    suspect[corner_position[deviation < np.cos(np.radians(crease_degrees) / 2)]] = True
    hard = np.flatnonzero(suspect[corner_position])  # corners at positions that may crease
    corner_vertex = faces.ravel().astype(np.int64)
    source = np.arange(len(vertices))
    vertex_normals = smooth[group]
    points, num_points = group, len(unique)
    out_faces = corner_vertex.copy()
    if len(hard):
        # Pairs of corners at the same position: (A A^T) for A = corner-by-position incidence.
        local = np.unique(corner_position[hard], return_inverse=True)[1].reshape(-1)
        incidence = scipy.sparse.csr_matrix((np.ones(len(hard)), (np.arange(len(hard)), local)),
                                            shape=(len(hard), local.max() + 1))
        pairs = (incidence @ incidence.T).tocoo()
        a, b = pairs.row, pairs.col  # into hard
        keep = np.einsum("ij,ij->i", unit[corner_face[hard[a]]], unit[corner_face[hard[b]]]) > limit
        a, b = a[keep], area_normals[corner_face[hard[b[keep]]]]
        crease = np.stack([np.bincount(a, b[:, k], len(hard)) for k in range(3)], 1)
        crease /= np.maximum(np.linalg.norm(crease, axis=1, keepdims=True), 1e-300)
        # The creased corners get new vertices, one per (vertex, normal); the others keep theirs.
        quantized = np.round(crease * 1e4).astype(np.int64)
        first, inverse = unique_rows(np.column_stack([corner_vertex[hard], quantized]))
        out_faces[hard] = len(vertices) + inverse
        source = np.concatenate([source, corner_vertex[hard][first]])
        vertex_normals = np.concatenate([vertex_normals, crease[first]])
        new_points = unique_rows(np.column_stack([corner_position[hard][first], quantized[first]]))[1]
        points = np.concatenate([points, num_points + new_points])
        num_points += int(new_points.max()) + 1
        # Drop the input vertices whose every corner went to a new one (a strut's box corners).
        used = np.zeros(len(source), bool)
        used[out_faces] = True
        renumber = np.cumsum(used) - 1
        out_faces, source = renumber[out_faces], source[used]
        vertex_normals, points = vertex_normals[used], points[used]
    return CreasedMesh(source, out_faces.reshape(-1, 3), vertex_normals, points, num_points)


def with_back_sides(front: CreasedMesh) -> CreasedMesh:
    """``front`` followed by its back: each of its vertices again with the normal reversed, as a point of
    its own, and each face again wound the other way (``(a, c, b)``, as
    :func:`~lrmzero.plugins.renderers.two_sided.with_back_faces` adds them), so that a sheet's two sides are
    baked apart. (Creasing the doubled mesh at once would sum each position's normals to zero.)"""
    count = len(front.source)
    return CreasedMesh(np.concatenate([front.source, front.source]),
                       np.concatenate([front.faces, front.faces[:, BACK_CORNERS] + count]),
                       np.concatenate([front.normals, -front.normals]),
                       np.concatenate([front.points, front.points + front.num_points]), 2 * front.num_points)


@dataclass(frozen=True)
class BakedOcclusion:
    """What :func:`bake_ambient_occlusion` bakes, per vertex of the creased mesh ``mesh``:
    ``visibility`` ``[R]`` in [0, 1] (1: nothing within the distance), ``bounce`` ``[R, 3]``, the
    linear radiance seen along the occluded directions (one diffuse bounce), and ``bent`` ``[R, 3]``,
    the unit mean direction of the unoccluded rays (the bent normal: where the open sky is). A renderer
    lights the diffuse lobe with ``visibility + (1 - visibility) * bounce`` and the specular lobe the
    same way with the share of it inside the visible cone (:func:`specular_visibility`)."""

    mesh: CreasedMesh
    visibility: np.ndarray
    bounce: np.ndarray
    bent: np.ndarray


def _linear_albedo(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Linear base colour ``[N, 3]`` at ``uv [N, 2]`` (v up, row 0 at v = 1) of a uint8 sRGB texture,
    from a copy decoded to linear and then box-filtered to at most 256 px across (a bounce averages
    light over many texels anyway)."""
    linear = decode_srgb(texture[..., :3])
    step = max(1, max(texture.shape[:2]) // 256)
    if step > 1:
        size = (max(1, texture.shape[1] // step), max(1, texture.shape[0] // step))
        linear = cv2.resize(linear, size, interpolation=cv2.INTER_AREA)
    return nearest(linear.reshape(linear.shape[0], linear.shape[1], 3), uv).astype(np.float64)


def _mean_linear_albedo(texture: np.ndarray) -> float:
    """Mean linear value of a uint8 sRGB texture, over at most 65536 of its texels (evenly strided)."""
    texels = texture.reshape(-1, texture.shape[-1])[..., :3]
    return float(decode_srgb(texels[:: max(1, len(texels) // 65536)]).mean(dtype=np.float64))


def bake_ambient_occlusion(vertices: np.ndarray, faces: np.ndarray, rays: int, distance: float,
                           smoothing: int = 0, crease_degrees: float | None = None,
                           uv: np.ndarray | None = None, texture: np.ndarray | None = None,
                           traced_bounce: bool = False, bounce_stride: int = 1,
                           caster: RayCaster | None = None, back_faces: bool = False,
                           holes: SeeThrough | None = None) -> BakedOcclusion:
    """Per-vertex visibility of a cosine-weighted hemisphere and one diffuse bounce, on the mesh split
    at its creases (:func:`split_at_creases`; ``crease_degrees=None``: not split, one value per
    position). See :class:`BakedOcclusion`.

    Rays start just off the surface along the vertex normal; split at creases, a hard edge's vertex
    has its own side's normal (a strut's inner face sees the inside of the cage, not half the sky).
    Each point turns the fixed directions by its own angle about its normal (a hash of its index:
    deterministic), so that neighbours sample different directions and ``smoothing`` passes of
    neighbour averaging (:func:`smooth_over_mesh`) cut the noise as more rays would, at a fraction
    of their cost. Copies of a point (UV seams) are baked once.

    The bounce (Cycles renders Zeroverse with one diffuse bounce): an occluded ray sees a surface
    lit by the sky, i.e. its linear base colour (``texture`` uint8 ``[H, W, 3]`` at ``uv [V, 2]``;
    mid grey without one) times its own visibility. ``traced_bounce``: per point, the mean over its
    occluded rays of what each one hits (a strut beside a bright part is lit by it, a pocket inside a
    dark one stays dark), tracing every ``bounce_stride``-th ray of the pattern to its closest hit
    (the others take the faster occlusion query; points none of whose traced rays hit keep the
    uniform value); else one grey value for the whole object, the texture's mean albedo times the
    mean visibility.

    ``caster``: a :class:`RayCaster` of this mesh already built (the raycast renderer's), else one
    is built. ``back_faces``: faces ``F ..`` are faces ``.. F`` wound the other way
    (:func:`~lrmzero.plugins.renderers.two_sided.with_back_faces`), baked as the other side of each
    (:func:`with_back_sides`); a traced ray sees the copy that faces it. ``holes``: the mesh's cut-outs,
    which let light through (:func:`~lrmzero.plugins.renderers.cutouts.hole_test`; for the caster built here).
    """
    front = faces[: len(faces) // 2] if back_faces else faces  # the back copies: the same triangles
    creased = split_at_creases(vertices, front, crease_degrees)
    if back_faces:
        creased = with_back_sides(creased)
    representative = np.zeros(creased.num_points, np.int64)
    representative[creased.points] = np.arange(len(creased.points))  # any copy of a point will do
    used = np.zeros(creased.num_points, bool)
    used[creased.points] = True
    baked = np.flatnonzero(used)
    positions = vertices[creased.source[representative[baked]]]
    normals = creased.normals[representative[baked]]
    P = len(positions)
    local = hemisphere_directions(rays)
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    t1 = np.cross(normals, helper)
    t1 /= np.maximum(np.linalg.norm(t1, axis=1, keepdims=True), 1e-12)
    t2 = np.cross(normals, t1)
    turn = (np.arange(P) * 0.6180339887498949 % 1.0)[:, None] * 2 * np.pi
    t1, t2 = np.cos(turn) * t1 + np.sin(turn) * t2, -np.sin(turn) * t1 + np.cos(turn) * t2
    # dirs[r, p] = local[r] @ frame[p] for the frames [t1, t2, n] (rows), as one 2D matmul: [R, 3] @ [3, P*3];
    # ray-major ([rays, P]): ray r of every point is one contiguous block
    frames = np.stack([t1, t2, normals], 0).astype(np.float32).reshape(3, -1)
    dirs = (local.astype(np.float32) @ frames).reshape(rays, P, 3)
    start = (positions + normals * (1e-4 + 1e-3 * distance)).astype(np.float32)
    caster = caster if caster is not None else RayCaster(vertices, front, holes)
    # traced: every bounce_stride-th ray of each point's pattern gets a closest hit (what the bounce
    # sees); the others an occlusion query (faster)
    traced = np.arange(rays) % bounce_stride == 0 if traced_bounce else np.zeros(rays, bool)
    occluded = np.zeros((rays, P), np.float32)
    hit_face = hit_uv = hit_flat = None
    for rows, closest in ((np.flatnonzero(traced), True), (np.flatnonzero(~traced), False)):
        if not len(rows):
            continue
        found, face, uv_hit = caster.cast(np.tile(start, (len(rows), 1)), dirs[rows].reshape(-1, 3), distance, closest)
        flat = rows[found // P] * P + found % P  # into the [rays, P] layout
        occluded.reshape(-1)[flat] = 1.0
        if closest:
            hit_face, hit_uv, hit_flat = face, uv_hit, flat
    visibility = np.ones(creased.num_points)
    visibility[baked] = 1.0 - occluded.sum(0, dtype=np.float64) / rays
    visibility = smooth_over_mesh(visibility, creased.points[creased.faces], smoothing)
    bent = np.zeros((creased.num_points, 3))
    bent[baked] = _bent_normals(dirs, occluded, normals)
    bent = bent[creased.points]
    albedo_mean = _mean_linear_albedo(texture) if texture is not None else 0.5
    bounce = np.full((creased.num_points, 3), albedo_mean * float(visibility[creased.points].mean()))
    if not traced_bounce:
        return BakedOcclusion(creased, visibility[creased.points], bounce[creased.points], bent)
    # One bounce: what each traced occluded ray sees, the hit surface's albedo times its own visibility.
    weights = np.column_stack([1.0 - hit_uv.sum(1), hit_uv])
    if back_faces:
        tri = vertices[faces[hit_face]]
        away = np.einsum("hj,hj->h", np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]),
                         dirs.reshape(-1, 3)[hit_flat]) > 0
        hit_face, weights = facing_copies(hit_face, weights, away, len(faces))
    corners = creased.points[creased.faces[hit_face]]  # [H, 3] bake points of the hit face's corners
    seen_visibility = np.einsum("hc,hc->h", weights, visibility[corners])
    if texture is not None and uv is not None:
        albedo = _linear_albedo(texture, np.einsum("hc,hcj->hj", weights, uv[faces[hit_face]]))
    else:
        albedo = np.full((len(hit_face), 3), 0.5)
    seen = albedo * seen_visibility[:, None]
    hit_point = hit_flat % P
    hits = np.bincount(hit_point, minlength=P).astype(np.float64)
    traced_bounce_light = np.stack([np.bincount(hit_point, seen[:, k], P) for k in range(3)], 1)
    # points whose traced rays all escaped keep the uniform estimate (their occluded rays were not traced)
    bounce[baked] = np.where(hits[:, None] > 0, traced_bounce_light / np.maximum(hits, 1.0)[:, None], bounce[baked])
    return BakedOcclusion(creased, visibility[creased.points], bounce[creased.points], bent)


def _bent_normals(dirs: np.ndarray, occluded: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """``[P, 3]`` unit mean direction of each point's unoccluded rays (``dirs [rays, P, 3]``,
    ``occluded [rays, P]`` 1 where a ray hit), taking the whole pattern's mean as exactly the normal
    (a few rays' mean leans off it: 2.5 degrees for 16), so an open point's bent normal is its normal;
    the normal where every ray is occluded."""
    blocked = np.einsum("rpj,rp->pj", dirs, occluded).astype(np.float64)
    pattern = float(np.linalg.norm(dirs[:, 0].astype(np.float64).sum(0))) if dirs.shape[1] else 0.0
    mean = pattern * normals - blocked
    length = np.linalg.norm(mean, axis=1, keepdims=True)
    return np.where(length > 1e-6 * max(pattern, 1.0), mean / np.maximum(length, 1e-12), normals)


def smooth_over_mesh(values: np.ndarray, faces: np.ndarray, passes: int) -> np.ndarray:
    """``passes`` rounds of replacing each vertex value ``[U]`` by the mean of itself and its edge
    neighbours (``faces [F, 3]`` index the values)."""
    if passes <= 0 or len(faces) == 0:
        return values
    n = len(values)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adjacency = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    adjacency.data[:] = 1.0  # an edge shared by two faces counts once
    degree = np.asarray(adjacency.sum(axis=1)).ravel() + 1.0
    for _ in range(passes):
        values = (values + adjacency @ values) / degree
    return values


def split_for_baking(asset, settings):
    """The asset with its edges longer than ``settings.ao_max_edge`` split (:func:`split_long_edges`,
    UVs interpolated: it looks the same), for ``ao`` shading, whose light is baked per vertex and
    interpolated across faces; else the asset as it is."""
    if settings.shading != "ao" or settings.ao_max_edge <= 0:
        return asset
    vertices, faces, attributes = split_long_edges(asset.vertices, asset.faces, settings.ao_max_edge,
                                                   {"uv": asset.uv})
    if len(faces) == len(asset.faces):
        return asset
    return dataclasses.replace(asset, vertices=vertices, faces=faces, uv=attributes["uv"])


def ambient_occlusion(asset, settings, caster: RayCaster | None = None) -> BakedOcclusion | None:
    """:func:`bake_ambient_occlusion` of an asset (its base colour feeds the bounce) for ``ao``
    shading, else None (``unlit`` / ``lambert`` shade per pixel). A double-sided asset comes with its back
    faces (:func:`~lrmzero.plugins.renderers.two_sided.with_back_faces`): each side is baked on its own."""
    if settings.shading != "ao":
        return None
    if asset.double_sided and not has_back_faces(asset.faces):
        raise ValueError("a double-sided asset is baked with its back faces (two_sided.with_back_faces)")
    return bake_ambient_occlusion(asset.vertices, asset.faces, settings.ao_rays, settings.ao_distance,
                                  settings.ao_smoothing, CREASE_DEGREES if settings.ao_split_creases else None,
                                  asset.uv, asset.texture,
                                  traced_bounce=settings.ao_bounce == "traced", bounce_stride=settings.ao_bounce_stride,
                                  caster=caster, back_faces=asset.double_sided, holes=hole_test(asset))

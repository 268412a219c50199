"""Polygon meshes as Blender's ``primitive_*_add`` operators make them with default settings, their UV
maps and their subdivision: the bases the official Zeroverse code turns into wireframes (checked vertex
for vertex and UV for UV against Blender in ``tests/test_augmentations.py``).

A polygon mesh is ``(vertices [V, 3], polygons)``, ``polygons`` a list of int arrays (quads,
triangles, n-gons), counter-clockwise seen from outside. Written by hand: trimesh triangulates
everything (a quad's diagonal would become a strut) and has no Catmull-Clark for polygon meshes.
"""

from __future__ import annotations

import numpy as np

PolygonMesh = tuple[np.ndarray, list]


def cube(size: float) -> PolygonMesh:
    """``primitive_cube_add(size=2 * size)``: 8 vertices, 6 quads, 12 edges; half-side ``size``."""
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * size
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return v, [np.array(q) for q in quads]


def uv_sphere(radius: float, segments: int = 32, rings: int = 16) -> PolygonMesh:
    """``primitive_uv_sphere_add``: ``segments`` meridians, ``rings`` bands (32 x 16: 482 vertices,
    992 edges), triangles at the poles, quads between."""
    phi = np.linspace(0, np.pi, rings + 1)[1:-1]  # polar angle of the inner rings
    theta = np.arange(segments) * 2 * np.pi / segments
    ring = np.stack([np.sin(phi)[:, None] * np.cos(theta), np.sin(phi)[:, None] * np.sin(theta),
                     np.repeat(np.cos(phi)[:, None], segments, 1)], -1).reshape(-1, 3)
    v = np.concatenate([[[0, 0, 1.0]], ring, [[0, 0, -1.0]]]) * radius
    south = len(v) - 1

    def at(r: int, s: int) -> int:
        return 1 + r * segments + s % segments

    polys = [np.array([0, at(0, s), at(0, s + 1)]) for s in range(segments)]
    for r in range(rings - 2):
        polys += [np.array([at(r, s), at(r + 1, s), at(r + 1, s + 1), at(r, s + 1)]) for s in range(segments)]
    polys += [np.array([south, at(rings - 2, s + 1), at(rings - 2, s)]) for s in range(segments)]
    return v, polys


def cylinder(radius: float, depth: float = 2.0, vertices: int = 32) -> PolygonMesh:
    """``primitive_cylinder_add``: two rings of ``vertices``, quads around, an n-gon cap at each
    end (32: 96 edges). Axis z, ``depth`` long (Blender's default 2)."""
    theta = np.arange(vertices) * 2 * np.pi / vertices
    circle = np.stack([np.cos(theta), np.sin(theta)], -1) * radius
    v = np.concatenate([np.c_[circle, np.full(vertices, depth / 2)], np.c_[circle, np.full(vertices, -depth / 2)]])
    n = vertices
    polys = [np.array([i, n + i, n + (i + 1) % n, (i + 1) % n]) for i in range(n)]
    polys += [np.arange(n), np.arange(2 * n - 1, n - 1, -1)]
    return v, polys


def cone(radius: float, depth: float = 2.0, vertices: int = 32) -> PolygonMesh:
    """``primitive_cone_add``: a base ring of ``vertices`` and an apex, triangles around, an n-gon
    base (32: 64 edges). Axis z, ``depth`` long."""
    theta = np.arange(vertices) * 2 * np.pi / vertices
    base = np.c_[np.cos(theta) * radius, np.sin(theta) * radius, np.full(vertices, -depth / 2)]
    v = np.concatenate([base, [[0, 0, depth / 2]]])
    n = vertices
    polys = [np.array([i, (i + 1) % n, n]) for i in range(n)]
    polys.append(np.arange(n - 1, -1, -1))
    return v, polys


def torus(major_radius: float, minor_radius: float, major_segments: int = 48, minor_segments: int = 12) -> PolygonMesh:
    """``primitive_torus_add``: ``major_segments x minor_segments`` quads (48 x 12: 1,152 edges)."""
    u = np.arange(major_segments) * 2 * np.pi / major_segments
    w = np.arange(minor_segments) * 2 * np.pi / minor_segments
    U, Wn = np.meshgrid(u, w, indexing="ij")
    r = major_radius + minor_radius * np.cos(Wn)
    v = np.stack([r * np.cos(U), r * np.sin(U), minor_radius * np.sin(Wn)], -1).reshape(-1, 3)

    def at(i: int, j: int) -> int:
        return (i % major_segments) * minor_segments + j % minor_segments

    polys = [np.array([at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)])
             for i in range(major_segments) for j in range(minor_segments)]
    return v, polys


def _turns(angle: np.ndarray) -> np.ndarray:
    """An angle in (-pi, pi] as 0.5 + angle / 2 pi: Blender's u or v around a seam at -pi."""
    return 0.5 + angle / (2 * np.pi)


def _unwrap(values: np.ndarray) -> np.ndarray:
    """Polygons' corner values in [0, 1] (``[n, k]``, a row per polygon) across a seam (a row spread over
    more than half a turn): shifted by one turn on the side that keeps the row in [0, 1], as Blender's
    maps have them (the seam's corners are 1 in the polygon before it and 0 in the one after)."""
    across = np.ptp(values, axis=1, keepdims=True) > 0.5
    raised = np.where(across & (values < 0.5), values + 1.0, values)
    lowered = np.where(across & (values > 0.5), values - 1.0, values)
    return np.where(raised.max(axis=1, keepdims=True) <= 1.0 + 1e-9, raised, lowered)


def default_uvs(kind: str, vertices: np.ndarray, polygons: list) -> list:
    """Per polygon, its corners' UVs ``[k, 2]`` as Blender's ``primitive_<kind>_add`` maps them (UV sphere
    and torus: latitude-longitude and the two angles, seams at -x and the tube's inside; cylinder: the side
    as a strip over v 0.5-1, the caps as discs of radius 0.24 about (0.25, 0.25) and (0.75, 0.25); cone: the
    side as the first disc, the base as the second; cube: the six faces in a cross). ``vertices`` and
    ``polygons`` as this module's builders make them (a mesh centred on the origin, axis z); checked against
    Blender's own in the tests."""
    out: list = [None] * len(polygons)
    z_min, z_max = vertices[:, 2].min(), vertices[:, 2].max()
    for index, corners in by_size(polygons):
        p = vertices[corners]  # [n, k, 3]
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        azimuth = np.arctan2(y, x)
        if kind == "sphere":
            u = _unwrap(_turns(azimuth))
            pole = np.hypot(x, y) < 1e-9 * np.abs(z).max()
            if pole.any():  # a pole takes the middle of its triangle's other corners
                others = np.where(pole, 0.0, u).sum(1, keepdims=True) / np.maximum((~pole).sum(1, keepdims=True), 1)
                u = np.where(pole, others, u)
            polar = np.arccos(np.clip(z / np.linalg.norm(p, axis=-1), -1.0, 1.0))
            uv = np.stack([u, 1.0 - polar / np.pi], -1)
        elif kind == "torus":
            centre = np.median(np.hypot(vertices[:, 0], vertices[:, 1]))  # the tube's centre line
            uv = np.stack([_unwrap(_turns(azimuth)), _unwrap(_turns(np.arctan2(z, np.hypot(x, y) - centre)))], -1)
        elif kind == "cube":
            normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
            axis = np.argmax(np.abs(normal), axis=1)
            face = axis * 2 + (normal[np.arange(len(p)), axis] > 0)  # -x, +x, -y, +y, -z, +z
            px, py, pz = (p > 0).transpose(2, 0, 1).astype(float)
            table = [(0.375 + 0.25 * pz, 0.25 * py), (0.375 + 0.25 * pz, 0.75 - 0.25 * py),
                     (0.375 + 0.25 * pz, 1.0 - 0.25 * px), (0.375 + 0.25 * pz, 0.25 + 0.25 * px),
                     (0.125 + 0.25 * px, 0.75 - 0.25 * py), (0.875 - 0.25 * px, 0.75 - 0.25 * py)]
            uv = np.zeros(p.shape[:2] + (2,))
            for f, (u, v) in enumerate(table):
                uv[face == f] = np.stack([u, v], -1)[face == f]
        else:  # cylinder, cone
            disc = np.stack([x, y], -1) / np.maximum(np.hypot(x, y).max(), 1e-12) * 0.24
            flat = (np.ptp(z, axis=1) < 1e-9)[:, None, None]
            top = (z[:, :1] > 0.5 * (z_min + z_max))[:, :, None]
            if kind == "cone":
                side = disc + 0.25  # the apex at the disc's centre
            else:  # a strip, the seam at +y
                u = _unwrap(np.mod(azimuth / (2 * np.pi) - 0.25, 1.0))
                side = np.stack([u, 0.5 + 0.5 * (z - z_min) / (z_max - z_min)], -1)
            caps = np.where(top & (kind == "cylinder"), disc + 0.25, disc + [0.75, 0.25])  # the base: the second disc
            uv = np.where(flat, caps, side)
        for i, corner_uv in zip(index, uv):
            out[i] = corner_uv
    return out


def by_size(polygons: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """Polygons grouped by vertex count, for vectorized work: ``[(index [N], corners [N, k]), ...]``
    (meshes here hold a few sizes: triangles, quads and at most a couple of n-gons)."""
    sizes = np.array([len(p) for p in polygons])
    groups = []
    for k in np.unique(sizes):
        index = np.nonzero(sizes == k)[0]
        groups.append((index, np.array([polygons[i] for i in index], dtype=np.int64).reshape(len(index), k)))
    return groups


def corner_pairs(polygons: list) -> tuple[np.ndarray, np.ndarray]:
    """Every polygon side as ``(pairs [C, 2] (corner, next corner), owner [C] polygon index)``."""
    pairs, owner = [], []
    for index, corners in by_size(polygons):
        pairs.append(np.stack([corners, np.roll(corners, -1, axis=1)], -1).reshape(-1, 2))
        owner.append(np.repeat(index, corners.shape[1]))
    return np.concatenate(pairs), np.concatenate(owner)


def corner_values(polygons: list, per_polygon: list) -> np.ndarray:
    """Per-polygon corner values (``per_polygon``: a ``[k, ...]`` array per polygon, as :func:`default_uvs`)
    as one array ``[C, ...]`` in :func:`corner_pairs`' corner order."""
    return np.concatenate([np.stack([per_polygon[i] for i in index]).reshape(len(index) * corners.shape[1], -1)
                           for index, corners in by_size(polygons)])


def corner_neighbours(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For corners in :func:`corner_pairs`' order (each polygon's corners consecutive, ``owner [C]``): the
    index of each corner's next and previous corner in its polygon, ``(next [C], previous [C])``."""
    start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    size = np.diff(np.r_[start, len(owner)])
    first, size = np.repeat(start, size), np.repeat(size, size)
    position = np.arange(len(owner)) - first
    return first + (position + 1) % size, first + (position - 1) % size


def normals(vertices: np.ndarray, polygons: list) -> np.ndarray:
    """``[F, 3]`` unit normals of polygons (Newell's method: the sum of the sides' cross products,
    right for any vertex count and for slightly non-planar polygons)."""
    pairs, owner = corner_pairs(polygons)
    out = np.zeros((len(polygons), 3))
    np.add.at(out, owner, np.cross(vertices[pairs[:, 0]], vertices[pairs[:, 1]]))
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def edges(polygons: list) -> np.ndarray:
    """``[E, 2]`` unique undirected edges (sorted pairs) of a polygon mesh."""
    pairs, _ = corner_pairs(polygons)
    return np.unique(np.sort(pairs, axis=1), axis=0)


def subdivide(mesh: PolygonMesh, levels: int, smooth: bool) -> PolygonMesh:
    """``levels`` rounds of Catmull-Clark (``smooth``) or Blender's "simple" subdivision (same
    topology, points on the old faces): every n-gon becomes n quads around its centroid.

    Catmull-Clark on a closed mesh: face point = centroid; edge point = mean of the edge's ends and
    its two face points; a vertex of valence n moves to ``(Q + 2 R + (n - 3) P) / n`` with Q the mean
    of its face points and R of its edge midpoints.
    """
    vertices, polygons = mesh
    for _ in range(levels):
        vertices, polygons, _ = _subdivide_once(np.asarray(vertices, float), polygons, smooth)
    return vertices, polygons


def subdivide_with_uvs(mesh: PolygonMesh, corner_uv: list, levels: int, smooth: bool) -> tuple[np.ndarray, list, list]:
    """:func:`subdivide` carrying per-corner UVs (``corner_uv``: per polygon ``[k, 2]``, as
    :func:`default_uvs`) as Blender's Subdivision Surface modifier does with its default UV smoothing
    (:func:`_subdivided_uvs`): "simple" subdivides them linearly within each polygon, Catmull-Clark
    smooths them inside each UV island and keeps seams. Returns ``(vertices, polygons, corner_uv)``."""
    vertices, polygons = mesh
    for _ in range(levels):
        vertices, polygons, corner_uv = _subdivide_once(np.asarray(vertices, float), polygons, smooth, corner_uv)
    return vertices, polygons, corner_uv


def _subdivide_once(v: np.ndarray, polygons: list, smooth: bool, corner_uv: list | None = None):
    pairs, face_of = corner_pairs(polygons)  # [C, 2] sides in polygon order, grouped by size
    corner = pairs[:, 0]
    sizes = np.bincount(face_of, minlength=len(polygons))
    face_points = np.zeros((len(polygons), 3))
    np.add.at(face_points, face_of, v[corner])
    face_points /= sizes[:, None]
    uniq, edge_of = np.unique(np.sort(pairs, axis=1), axis=0, return_inverse=True)
    edge_of = edge_of.reshape(-1)
    midpoints = v[uniq].mean(axis=1)
    if smooth:
        face_sum = np.zeros((len(uniq), 3))
        np.add.at(face_sum, edge_of, face_points[face_of])
        count = np.bincount(edge_of, minlength=len(uniq))[:, None]
        edge_points = np.where(count == 2, (v[uniq].sum(axis=1) + face_sum) / 4, midpoints)
        q = np.zeros_like(v)
        np.add.at(q, corner, face_points[face_of])
        q /= np.maximum(np.bincount(corner, minlength=len(v)), 1)[:, None]
        r = np.zeros_like(v)
        np.add.at(r, uniq[:, 0], midpoints)
        np.add.at(r, uniq[:, 1], midpoints)
        valence = np.bincount(uniq.reshape(-1), minlength=len(v))[:, None]
        r /= np.maximum(valence, 1)
        new_v = (q + 2 * r + (valence - 3) * v) / np.maximum(valence, 1)
    else:
        edge_points, new_v = midpoints, v
    n_v, n_e = len(v), len(uniq)
    out = np.concatenate([new_v, edge_points, face_points])
    # per corner: (corner, edge to the next corner, face point, edge from the previous corner)
    quads = []
    start = 0
    for index, corners in by_size(polygons):
        k = corners.shape[1]
        e_next = (n_v + edge_of[start:start + len(index) * k]).reshape(len(index), k)
        e_prev = np.roll(e_next, 1, axis=1)
        centre = np.repeat((n_v + n_e + index)[:, None], k, axis=1)
        quads.append(np.stack([corners, e_next, centre, e_prev], -1).reshape(-1, 4))
        start += len(index) * k
    if corner_uv is None:
        return out, list(np.concatenate(quads)), None
    uv = corner_values(polygons, corner_uv)
    at_corner, to_next, middle = _subdivided_uvs(uv, corner, face_of, len(polygons), smooth)
    previous = corner_neighbours(face_of)[1]
    new_uv = np.stack([at_corner, to_next, middle, to_next[previous]], 1)  # [C, 4, 2], as the quads
    return out, list(np.concatenate(quads)), list(new_uv)


def _subdivided_uvs(uv: np.ndarray, corner: np.ndarray, face_of: np.ndarray, num_faces: int, smooth: bool):
    """One round's UVs of the new corners, as Blender's Subdivision Surface modifier makes them with its
    default ``uv_smooth="PRESERVE_BOUNDARIES"`` (OpenSubdiv's face-varying interpolation with linear
    boundaries). ``uv [C, 2]`` per corner (in :func:`corner_pairs`' order), ``corner [C]`` its vertex,
    ``face_of [C]`` its polygon. Returns per corner the UV ``[C, 2]`` of its vertex's new point, of the
    point on its side to the next corner, and of its polygon's point.

    "simple": linear within each polygon. Catmull-Clark: inside a UV island the UVs take the rules the
    positions take (an island is the corners joined where neighbouring polygons agree on a vertex's UV and
    on a side's two UVs); a UV seam's sides and every vertex with more than one UV (or on a seam) keep
    their UVs linear, each polygon its own."""
    sizes = np.bincount(face_of, minlength=num_faces)[:, None]
    face_uv = np.zeros((num_faces, 2))
    np.add.at(face_uv, face_of, uv)
    face_uv /= sizes
    nxt = corner_neighbours(face_of)[0]
    midpoint = (uv + uv[nxt]) / 2
    if not smooth:
        return uv, midpoint, face_uv[face_of]
    # A UV vertex: one (vertex, UV) pair; corners round their UVs to 1e-9 to meet (UV seams are far wider).
    _, uv_vertex = np.unique(np.column_stack([corner, np.round(uv * 1e9)]), axis=0, return_inverse=True)
    uv_vertex = uv_vertex.reshape(-1)
    # A UV side: an unordered pair of UV vertices; two polygons share it inside an island, one has it on a seam.
    ends = np.sort(np.stack([uv_vertex, uv_vertex[nxt]], 1), axis=1)
    _, side = np.unique(ends, axis=0, return_inverse=True)
    side = side.reshape(-1)
    shared = np.bincount(side)[side] == 2
    side_sum = np.zeros((side.max() + 1, 2))
    np.add.at(side_sum, side, uv + face_uv[face_of])  # each of the two polygons adds its end and its centre
    to_next = np.where(shared[:, None], side_sum[side] / 4, midpoint)
    # A vertex keeps its UV unless it has one UV vertex and no seam: then (Q + 2 R + (n - 3) P) / n.
    vertices_uvs = np.bincount(np.unique(np.column_stack([corner, uv_vertex]), axis=0)[:, 0])
    seam = np.zeros(len(vertices_uvs), bool)
    seam[corner[~shared]] = seam[corner[nxt][~shared]] = True
    smooth_vertex = (vertices_uvs[corner] == 1) & ~seam[corner]
    n = np.bincount(corner)[corner][:, None].astype(float)  # corners around a closed vertex = its valence
    q = np.zeros((uv_vertex.max() + 1, 2))
    np.add.at(q, uv_vertex, face_uv[face_of])
    r = np.zeros_like(q)
    np.add.at(r, uv_vertex, midpoint)  # each side's midpoint, once from the polygon where it leaves
    moved = (q[uv_vertex] / n + 2 * r[uv_vertex] / n + (n - 3) * uv) / n
    return np.where(smooth_vertex[:, None], moved, uv), to_next, face_uv[face_of]

"""Wireframe: a Blender-like base mesh, optionally subdivided, with every edge a beam (joints mitred
as Blender's Wireframe modifier makes them, or a separate square box per edge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from lrmzero import PartMesh, param
from lrmzero.components import AugmentContext, Augmentation
from lrmzero.plugins.augmentations import polygon_meshes
from lrmzero.plugins.augmentations.boolean_difference import random_surface_point


def feature_edges(vertices: np.ndarray, faces: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges where the surface bends by more than ``angle_deg`` (so no diagonal of a flat quad).

    Returns ``(points [P, 3], edges [E, 2])`` over welded positions.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=True)  # welds seams, drops degenerate faces
    sharp = mesh.face_adjacency_angles > np.radians(angle_deg)
    edges = mesh.face_adjacency_edges[sharp]
    # open boundary edges (a base that is not closed) are features too
    counts = np.bincount(mesh.edges_unique_inverse, minlength=len(mesh.edges_unique))
    edges = np.concatenate([edges, mesh.edges_unique[counts == 1]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    used = np.unique(edges)
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    return np.asarray(mesh.vertices)[used], remap[edges]


def square_struts(points: np.ndarray, edges: np.ndarray, thickness: float, up: np.ndarray):
    """A closed square beam of side ``thickness`` along each edge, each its own box (``joints=boxes``, and
    any base that is not a polygon mesh; boxes overlap where edges meet): ``points [P, 3]``,
    ``edges [E, 2]``, ``up [E, 3]`` the direction one pair of sides faces (the mean normal of the
    edge's faces). Each beam runs ``thickness / 2`` past both ends so that beams meeting at a vertex
    close the joint.

    Returns ``(vertices [8E, 3], faces [12E, 3], uv [8E, 2], surface [12E])``, beam e being
    surface e, faces counter-clockwise seen from outside.
    """
    p0, p1 = points[edges[:, 0]], points[edges[:, 1]]
    axis = p1 - p0
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    u = up - np.sum(up * axis, axis=1, keepdims=True) * axis
    fallback = np.cross(axis, np.where(np.abs(axis[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    u = np.where(np.linalg.norm(u, axis=1, keepdims=True) > 1e-6, u, fallback)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    side = np.cross(axis, u)
    h = thickness / 2
    # 1.001: beams meeting at a right angle would otherwise share corner positions exactly
    ends = np.stack([p0 - axis * h * 1.001, p1 + axis * h * 1.001], 1)  # [E, 2, 3]
    ring = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * h  # (side, up) around the axis
    offsets = ring[None, :, 0:1] * side[:, None] + ring[None, :, 1:2] * u[:, None]  # [E, 4, 3]
    vertices = (ends[:, :, None] + offsets[:, None]).reshape(-1, 3)  # index = end * 4 + corner
    quads = [[0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7], [0, 3, 2, 1], [4, 5, 6, 7]]
    tris = np.array([t for q in quads for t in ([q[0], q[1], q[2]], [q[0], q[2], q[3]])])
    E = len(edges)
    faces = (tris[None] + 8 * np.arange(E)[:, None, None]).reshape(-1, 3)
    # Orientation from geometry (which way the corner ring turns depends on side x up = axis):
    # flip the faces whose normal points into their beam.
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = np.repeat(ends.mean(axis=1), 12, axis=0)
    inward = np.sum(normal * (tri.mean(axis=1) - centre), axis=1) < 0
    faces[inward] = faces[inward][:, ::-1]
    uv = np.tile(np.array([[0, 0], [0.25, 0], [0.5, 0], [0.75, 0], [0, 1], [0.25, 1], [0.5, 1], [0.75, 1]], float), (E, 1))
    return vertices, faces, uv, np.repeat(np.arange(E), 12)


def wireframe_modifier(points: np.ndarray, polygons: list, thickness: float, inset_limit: float = 1.8,
                       corner_uv: list | None = None):
    """Blender's Wireframe modifier as the official code sets it (``use_replace``, ``use_even_offset``,
    offset 0, closed base): one closed mesh of beams along every edge of ``points [P, 3]``,
    ``polygons`` (counter-clockwise seen from outside), joints mitred where the beams meet.

    Every vertex gets a copy ``thickness / 2`` above and below it along its normal (the polygons'
    normals weighted by their corner angles), and every polygon corner a point in the polygon's plane,
    inset along the corner's bisector by ``thickness / 2 / sin(corner angle / 2)`` (even thickness: the
    inset edge runs ``thickness / 2`` inside the border). Per polygon side, one quad from the upper copies
    down to the inset points and one from there to the lower copies, so the beam along an edge is a
    rhombus ``thickness`` across both ways between flat polygons. Checked vertex for vertex against
    Blender 5.0.1's modifier (``tests/data/blender_meshes.npz``). Where a polygon is narrower than
    the thickness, Blender's insets cross one another (the hole closes; the look barely changes) and, on
    slivers such as a UV sphere's pole triangles, shoot past the far side (spikes). ``inset_limit`` stops
    each inset at that multiple of its polygon's centroid's distance to its nearest side: the default 1.8
    (about 90% of a thin polygon's width) lets insets cross as Blender's do and stops only the spikes.
    Written by hand: no library has the modifier's geometry, and a boolean
    union of square beams costs seconds and ten times the faces (a UV sphere's 992 beams: 1.8 s, 118,800
    faces).

    ``corner_uv``: the base's UVs per polygon corner (``[k, 2]`` per polygon, as
    :func:`polygon_meshes.default_uvs`); each of a quad's corners takes the UV of the base corner it
    comes from, as Blender's modifier copies them (a beam shows the texture along its edge's stretch of
    the base's UV map). Without them, u runs along the edge and v around the beam (the whole material
    tile along each beam, as the square beams have it).

    Returns ``(vertices [8C, 3], faces [4C, 3], uv [8C, 2], surface [4C])``: C corners (two per edge),
    each quad with its own four vertices, surface = the edge's index in ``polygon_meshes.edges(polygons)``.
    """
    points = np.asarray(points, np.float64)
    face_normals = polygon_meshes.normals(points, polygons)
    pairs, owner = polygon_meshes.corner_pairs(polygons)
    vertex = pairs[:, 0]
    nxt, prv = polygon_meshes.corner_neighbours(owner)
    C, P = len(vertex), len(points)
    nf = face_normals[owner]
    to_next = points[vertex[nxt]] - points[vertex]
    to_prev = points[vertex[prv]] - points[vertex]
    to_next /= np.linalg.norm(to_next, axis=1, keepdims=True)
    to_prev /= np.linalg.norm(to_prev, axis=1, keepdims=True)
    angle = np.arccos(np.clip(np.sum(to_next * to_prev, axis=1), -1.0, 1.0))  # the corner's angle
    bisector = to_next + to_prev
    bisector -= np.sum(bisector * nf, axis=1, keepdims=True) * nf  # in the polygon's plane
    bisector /= np.maximum(np.linalg.norm(bisector, axis=1, keepdims=True), 1e-12)
    centroid = np.zeros((len(polygons), 3))
    np.add.at(centroid, owner, points[vertex])
    centroid /= np.bincount(owner, minlength=len(polygons))[:, None]
    side = points[vertex[nxt]] - points[vertex]
    to_side = np.linalg.norm(np.cross(centroid[owner] - points[vertex], side), axis=1)
    to_side /= np.maximum(np.linalg.norm(side, axis=1), 1e-12)
    nearest_side = np.full(len(polygons), np.inf)
    np.minimum.at(nearest_side, owner, to_side)
    half = thickness / 2
    width = np.minimum(half, inset_limit * nearest_side[owner])
    inset = points[vertex] + bisector * (width / np.maximum(np.sin(angle / 2), 1e-3))[:, None]
    vertex_normals = np.zeros((P, 3))
    np.add.at(vertex_normals, vertex, nf * angle[:, None])
    vertex_normals /= np.maximum(np.linalg.norm(vertex_normals, axis=1, keepdims=True), 1e-12)
    vertices = np.concatenate([points + vertex_normals * half, points - vertex_normals * half, inset])
    top, bottom, rim = np.arange(P), P + np.arange(P), 2 * P + np.arange(C)
    v0, v1, l0, l1 = vertex, vertex[nxt], np.arange(C), nxt
    quads = np.concatenate([
        np.stack([top[v0], top[v1], rim[l1], rim[l0]], 1),  # from above the edge in to the hole's rim
        np.stack([bottom[v1], bottom[v0], rim[l0], rim[l1]], 1),  # from the rim out to below the edge
    ])
    # Each quad its own corners (UV seams; positions stay shared, so the mesh is closed by position).
    corner_vertices = quads.reshape(-1)
    if corner_uv is not None:  # the base corner's UV: [this corner, next, next, this] out, reversed in
        this = polygon_meshes.corner_values(polygons, corner_uv)
        after = this[nxt]
        uv = np.concatenate([np.stack([this, after, after, this], 1), np.stack([after, this, this, after], 1)])
        uv = uv.reshape(-1, 2)
    else:  # u along the edge (0 at its first vertex, 1 at its second), v around the beam's cross-section
        edge_start, edge_vector = points[np.tile(v0, 2)], points[np.tile(v1, 2)] - points[np.tile(v0, 2)]
        along = np.einsum("qcj,qj->qc", vertices[quads] - edge_start[:, None], edge_vector)
        along /= np.maximum(np.sum(edge_vector * edge_vector, axis=1), 1e-24)[:, None]
        around = np.concatenate([np.tile([0.0, 0.0, 0.25, 0.25], (C, 1)), np.tile([0.5, 0.5, 0.25, 0.25], (C, 1))])
        uv = np.stack([np.clip(along, 0.0, 1.0).reshape(-1), around.reshape(-1)], 1)
    vertices = vertices[corner_vertices]
    quads = np.arange(len(corner_vertices)).reshape(-1, 4)
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    edge_list = polygon_meshes.edges(polygons)
    key = np.sort(np.stack([v0, v1], 1), axis=1)
    edge_of_corner = np.searchsorted(edge_list[:, 0] * P + edge_list[:, 1], key[:, 0] * P + key[:, 1])
    surface = np.tile(edge_of_corner, 4)
    return vertices, faces, uv, surface


def edge_up_vectors(vertices: np.ndarray, polygons: list, edge_list: np.ndarray) -> np.ndarray:
    """``[E, 3]`` mean normal of the polygons around each edge of ``edge_list [E, 2]`` (sorted)."""
    normals = polygon_meshes.normals(vertices, polygons)
    pairs, owner = polygon_meshes.corner_pairs(polygons)
    pairs = np.sort(pairs, axis=1)
    n = len(vertices)
    key = edge_list[:, 0] * n + edge_list[:, 1]
    index = np.searchsorted(key, pairs[:, 0] * n + pairs[:, 1])
    up = np.zeros((len(edge_list), 3))
    np.add.at(up, index, normals[owner])
    return up


def polygon_base(kind: str, size: float, depth: float) -> polygon_meshes.PolygonMesh:
    """The Blender default mesh the official code adds for ``kind`` at scalar ``size``."""
    if kind == "cube":
        return polygon_meshes.cube(size)
    if kind == "sphere":
        return polygon_meshes.uv_sphere(size)
    if kind == "cylinder":
        return polygon_meshes.cylinder(size, depth)
    if kind == "cone":
        return polygon_meshes.cone(size, depth)
    return polygon_meshes.torus(size, 0.3 * size)


POLYGON_BASES = ("cube", "sphere", "cylinder", "cone", "torus")


class Wireframe(Augmentation):
    """Add a wireframe as the official code does: a Blender default mesh (kind from ``kinds``:
    UV sphere 32 x 16, cube, cylinder and cone of 32 vertices and depth 2, torus 48 x 12 with minor
    radius 0.3 x size) of scalar size U(size_min, size_max), with probability
    ``subdivide_probability`` subdivided (simple or Catmull-Clark, equally likely; a cube 3 levels,
    the rest 1), and replaced by its wireframe of thickness U(thickness_min, thickness_max): one mesh
    with mitred joints exactly as Blender's Wireframe modifier makes it (:func:`wireframe_modifier`), or
    a square box per edge (``joints=boxes``). It is centred at a random point of the object's surface,
    randomly rotated, and takes one of the object's materials. Each beam is one surface id (0..E-1).

    A kind that is not one of those five (another primitive plugin) is asked for a coarse version
    (the contract's ``Primitive.coarse``) and boxes follow its feature edges instead.
    """

    name = "wireframe"

    @dataclass
    class Config:
        probability: float = param(0.3, "chance that an object gets a wireframe", ge=0.0, le=1.0)
        kinds: List[str] = param(["cube", "sphere", "cylinder", "cone", "torus"], "base meshes: Blender's default "
                                 "cube, sphere, cylinder, cone, torus, or another primitive plugin",
                                 nonempty=True, names_of="primitives")
        size_min: float = param(0.3, "smallest size (radius, half-side) of the base (object's largest side is 1.8)", gt=0.0)
        size_max: float = param(0.6, "largest size of the base", gt=0.0)
        depth: float = param(2.0, "length of cylinder and cone bases (Blender's default: 2)", gt=0.0)
        thickness_min: float = param(0.01, "thinnest beam side", gt=0.0)
        thickness_max: float = param(0.03, "thickest beam side", gt=0.0)
        subdivide_probability: float = param(0.5, "chance the base is subdivided", ge=0.0, le=1.0)
        segments: int = param(6, "segments around the axis of another primitive plugin's coarse base", ge=3, le=64)
        joints: str = param("mitred", "mitred: one mesh, exactly as the official's Blender Wireframe modifier makes "
                            "it (beams t across, square in section between flat faces); boxes: a square box of "
                            "side t per edge, overlapping where they meet (another plugin's base always gets "
                            "boxes)", choices=["mitred", "boxes"])
        inset_limit: float = param(1.8, "mitred: a polygon's insets stop at this multiple of its centroid's distance "
                                   "to its nearest side (1.8: they may cross, as Blender's do, but not shoot "
                                   "past the far side; large: exactly Blender's)", gt=0.0)
        feature_angle: float = param(10.0, "another plugin's base: edges bending more than this (degrees) "
                                     "become beams", gt=0.0, lt=180.0)

    def base(self, kind: str, size: float, subdivision: str | None, context: AugmentContext, rng):
        """``(points [P, 3], polygons, corner_uv, edges [E, 2], up [E, 3])`` of the base mesh, before
        placement, ``corner_uv`` its Blender UV map per polygon corner; ``polygons`` and ``corner_uv`` None
        for another plugin's base (its feature edges only)."""
        if kind in POLYGON_BASES:
            points, polygons = polygon_base(kind, size, self.cfg.depth)
            corner_uv = polygon_meshes.default_uvs(kind, points, polygons)
            if subdivision is not None:
                levels = 3 if kind == "cube" else 1
                points, polygons, corner_uv = polygon_meshes.subdivide_with_uvs(
                    (points, polygons), corner_uv, levels, smooth=subdivision == "catmull_clark")
            edge_list = polygon_meshes.edges(polygons)
            return points, polygons, corner_uv, edge_list, edge_up_vectors(points, polygons, edge_list)
        part = context.primitives[kind].coarse(self.cfg.segments).build(np.full(3, size), rng)
        points, edge_list = feature_edges(part.vertices, part.faces, self.cfg.feature_angle)
        up = points[edge_list].mean(axis=1) - points.mean(axis=0)
        return points, None, None, edge_list, up

    def apply(self, parts: list[PartMesh], rng: np.random.Generator, context: AugmentContext):
        cfg = self.cfg
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        size = float(rng.uniform(*sorted((cfg.size_min, cfg.size_max))))
        thickness = float(rng.uniform(*sorted((cfg.thickness_min, cfg.thickness_max))))
        subdivision = None
        if rng.random() < cfg.subdivide_probability:
            subdivision = "simple" if rng.random() < 0.5 else "catmull_clark"
        rotation = Rotation.random(random_state=rng)
        _, centre = random_surface_point(parts, rng)
        materials = np.unique(np.concatenate([p.material for p in parts]))
        material = int(materials[int(rng.integers(len(materials)))])

        points, polygons, corner_uv, edge_list, up = self.base(kind, size, subdivision, context, rng)
        if polygons is not None and self.cfg.joints == "mitred":
            v, f, uv, surface = wireframe_modifier(points, polygons, thickness, self.cfg.inset_limit, corner_uv)
            v = rotation.apply(v) + centre
        else:
            v, f, uv, surface = square_struts(rotation.apply(points) + centre, edge_list, thickness, rotation.apply(up))
        wire = PartMesh(
            v, f, uv, surface, np.full(len(f), material, np.int32), kind="wireframe",
            params={"base": kind, "struts": int(len(edge_list))},
            size=np.full(3, thickness / 2),
        )
        record = {
            "base": kind,
            "size": size,
            "subdivision": subdivision,
            "thickness": thickness,
            "struts": int(len(edge_list)),
            "vertices": int(len(points)),
            "centre": centre.tolist(),
            "rotation_quat_xyzw": rotation.as_quat().tolist(),
            "material": material,
        }
        return [*parts, wire], record

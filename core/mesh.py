"""`PartMesh`: one closed, UV-mapped part of an object, and operations on lists of parts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass
class PartMesh:
    """A triangle mesh of one part with per-surface UVs and per-face ids.

    Conventions: faces are counter-clockwise seen from outside (normals point out); UV seams
    duplicate vertices, so the mesh is closed *by position* (see :meth:`welded`).

    Attributes:
        vertices: ``[V, 3]`` float64 positions.
        faces: ``[F, 3]`` int64 vertex indices.
        uv: ``[V, 2]`` float64 texture coordinates in ``[0, 1]``, local to each surface.
        surface: ``[F]`` int32 geometric surface id (documented per primitive: a cuboid's six faces,
            a cylinder's side and caps, ...). Augmentations such as height fields work per surface.
        material: ``[F]`` int32 material slot; a primitive sets it equal to ``surface``; the shape
            sampler renumbers it object-wide and jitters its boundaries.
        kind: the primitive (or augmentation) that made the part.
        params: what was sampled to build it (sizes, tessellation), recorded in meta.json.
        size: ``[3]`` half-extents of the part in its own frame (kept up to date under uniform
            scaling), or None when unknown; augmentations scale their effects by it.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    surface: np.ndarray
    material: np.ndarray
    kind: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    size: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)
        self.uv = np.asarray(self.uv, dtype=np.float64).reshape(-1, 2)
        self.surface = np.asarray(self.surface, dtype=np.int32).reshape(-1)
        self.material = np.asarray(self.material, dtype=np.int32).reshape(-1)
        nv, nf = len(self.vertices), len(self.faces)
        if len(self.uv) != nv:
            raise ValueError(f"PartMesh {self.kind!r}: uv has {len(self.uv)} rows, vertices {nv}")
        if len(self.surface) != nf or len(self.material) != nf:
            raise ValueError(
                f"PartMesh {self.kind!r}: surface/material need one id per face ({nf}), got "
                f"{len(self.surface)}/{len(self.material)}"
            )

    @property
    def num_surfaces(self) -> int:
        return int(self.surface.max()) + 1 if len(self.surface) else 0

    def copy(self, **changes: Any) -> "PartMesh":
        """A deep copy with some attributes replaced."""
        base = replace(
            self,
            vertices=self.vertices.copy(),
            faces=self.faces.copy(),
            uv=self.uv.copy(),
            surface=self.surface.copy(),
            material=self.material.copy(),
            params=dict(self.params),
            size=None if self.size is None else np.array(self.size, float),
        )
        return replace(base, **changes) if changes else base

    def transformed(self, matrix: np.ndarray) -> "PartMesh":
        """The part moved by a ``[4, 4]`` rigid or affine transform (winding kept if det > 0)."""
        m = np.asarray(matrix, dtype=np.float64)
        verts = self.vertices @ m[:3, :3].T + m[:3, 3]
        det = float(np.linalg.det(m[:3, :3]))
        faces = self.faces if det > 0 else self.faces[:, ::-1]
        size = None if self.size is None else np.asarray(self.size) * abs(det) ** (1.0 / 3.0)
        return self.copy(vertices=verts, faces=faces.copy(), size=size)

    def welded(self, decimals: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """Positions merged across UV seams: ``(vertices [U, 3], faces [F, 3])``."""
        unique, inverse = weld_positions(self.vertices, decimals)
        return unique, inverse[self.faces]

    def vertex_normals(self, group: np.ndarray | None = None) -> np.ndarray:
        """``[V, 3]`` unit normals, area-weighted over all faces sharing a *position* (so copies of a
        vertex along a UV seam get the same normal). ``group``: ``weld_positions``' inverse, if known."""
        if group is None:
            _, group = weld_positions(self.vertices)
        tri = self.vertices[self.faces]
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
        acc = np.zeros((int(group.max()) + 1, 3))
        for corner in range(3):
            np.add.at(acc, group[self.faces[:, corner]], fn)
        n = acc[group]
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)

    def signed_volume(self) -> float:
        """Enclosed volume (positive when the normals point outward)."""
        tri = self.vertices[self.faces]
        return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def weld_positions(vertices: np.ndarray, decimals: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Merge equal positions: ``(unique [U, 3], inverse [V])`` with ``unique[inverse] ~ vertices``.

    Rows are first reduced to one 64-bit hash each (``np.unique`` on rows sorts them
    lexicographically, ~10x slower); a hash collision is detected and falls back to exact rows.
    """
    key = np.round(vertices, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    bits = np.ascontiguousarray(key).view(np.uint64)
    h = bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)
    h = (h ^ (h >> np.uint64(29)) ^ bits[:, 1]) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(31)) ^ bits[:, 2]) * np.uint64(0x94D049BB133111EB)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    unique = key[first]
    if not np.array_equal(unique[inverse], key):  # a collision: take the exact, slower path
        unique, inverse = np.unique(key, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


def concatenate(parts: list[PartMesh]) -> PartMesh:
    """All parts in one mesh, without any boolean union (Zeroverse keeps overlaps)."""
    if not parts:
        raise ValueError("concatenate: no parts given")
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return PartMesh(
        vertices=np.concatenate([p.vertices for p in parts]),
        faces=np.concatenate([p.faces + o for p, o in zip(parts, offsets)]),
        uv=np.concatenate([p.uv for p in parts]),
        surface=np.concatenate([p.surface for p in parts]),
        material=np.concatenate([p.material for p in parts]),
        kind="object",
    )


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first [K], inverse [N])`` of the distinct rows of an int64 ``[N, C]`` array (``first``: the
    index of each one's first occurrence), through one hash per row (``np.unique(axis=0)`` sorts
    lexicographically, ~10x slower); exact on a collision."""
    h = np.zeros(len(rows), np.uint64)
    for column in rows.T.astype(np.uint64):
        h = (h ^ column) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(rows[first][inverse], rows):
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
    return first, inverse


def drop_coincident_faces(mesh: PartMesh) -> PartMesh:
    """The mesh without the faces that repeat an earlier face: the same three positions (equal after
    :func:`weld_positions`) in the same winding; the first one stays. Overlapping parts cut by one
    cutter each get its wall where they overlap, and two coincident walls z-fight in a rasterizer and
    shade each other in a path tracer (every ray leaving one starts on the other: Cycles lit such a
    cavity at half its sky visibility). Faces facing each other (opposite windings) are kept.
    Vertices are kept as they are (an unused one costs nothing)."""
    if len(mesh.faces) < 2:
        return mesh
    _, group = weld_positions(mesh.vertices)
    corners = group[mesh.faces].astype(np.int64)
    # rotate each triangle to start at its smallest position id: a rotation keeps the winding
    start = np.argmin(corners, axis=1)
    first = unique_rows(np.take_along_axis(corners, (np.arange(3)[None] + start[:, None]) % 3, axis=1))[0]
    if len(first) == len(mesh.faces):
        return mesh
    keep = np.sort(first)
    return mesh.copy(faces=mesh.faces[keep], surface=mesh.surface[keep], material=mesh.material[keep])


def bounds(parts: list[PartMesh]) -> np.ndarray:
    """``[2, 3]`` axis-aligned bounds of all parts."""
    v = np.concatenate([p.vertices for p in parts])
    return np.stack([v.min(axis=0), v.max(axis=0)])

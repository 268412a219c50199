"""Splitting a mesh's long edges, so that light baked per vertex (ambient occlusion, the bounce) has
samples along long faces: a strut 1.8 long is two triangles per side, lit from its two ends only.

Written here because trimesh's ``remesh.subdivide_to_size`` cuts every face with a long edge into
four (a 1 x 0.01 strut face becomes ~10^4 faces, not ~10^2) and leaves T-junctions where a cut face
meets an uncut one (pinholes in a rasterized silhouette). This splits only the long edges, in every
face that shares them, so the mesh stays watertight.
"""

from __future__ import annotations

import numpy as np


def split_long_edges(vertices: np.ndarray, faces: np.ndarray, max_edge: float,
                     attributes: dict[str, np.ndarray] | None = None, max_rounds: int = 16
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Halve every edge longer than ``max_edge`` until none is (at most ``max_rounds`` rounds).

    Args:
        vertices: ``[V, 3]`` positions. faces: ``[F, 3]`` vertex indices, any winding.
        max_edge: longest edge kept, in the vertices' units (> 0).
        attributes: per-vertex arrays ``[V, ...]`` (e.g. ``uv``), interpolated linearly at the new
            vertices, as a rasterizer interpolates them across the face: textures map unchanged.

    Returns:
        ``(vertices [V', 3], faces [F', 3], attributes)``: the input vertices first, unchanged, then
        the edges' midpoints. Each face keeps its winding; a face with one cut edge becomes two, two
        cut edges three, three cut edges four. An edge is cut wherever it occurs (its length decides):
        in both faces that share it and in every copy of it at a seam (other vertex indices at the
        same positions, e.g. other UVs), at bitwise-equal midpoints: no T-junctions, no cracks.
    """
    attributes = dict(attributes or {})
    vertices, faces = np.asarray(vertices), np.asarray(faces, dtype=np.int64)
    for _ in range(max_rounds):
        corners = faces[:, [[0, 1], [1, 2], [2, 0]]]  # [F, 3, 2]: edge k runs from corner k to k + 1
        lengths = np.linalg.norm(vertices[corners[..., 1]] - vertices[corners[..., 0]], axis=-1)
        split = lengths > max_edge  # [F, 3]; the same for every copy of an edge (same positions)
        if not split.any():
            break
        # one new vertex per distinct cut edge (sorted vertex pair)
        pairs = np.sort(corners[split], axis=1)
        _, first, inverse = np.unique(pairs[:, 0] * len(vertices) + pairs[:, 1], return_index=True,
                                      return_inverse=True)
        a, b = pairs[first, 0], pairs[first, 1]
        midpoint = np.full(faces.shape, -1, np.int64)
        midpoint[split] = len(vertices) + inverse.reshape(-1)
        # (p_a + p_b) / 2 is the same bits whichever copy of a seam edge computes it
        vertices = np.concatenate([vertices, 0.5 * (vertices[a] + vertices[b])])
        for name, values in attributes.items():
            attributes[name] = np.concatenate([values, 0.5 * (values[a] + values[b])])
        faces = _split_faces(faces, midpoint, split, vertices)
    return vertices, faces, attributes


def _split_faces(faces: np.ndarray, midpoint: np.ndarray, split: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """New faces from ``faces [F, 3]`` with ``midpoint [F, 3]`` the vertex on edge k (corner k to
    k + 1) where ``split [F, 3]`` says it is cut. Faces are rotated so that their cut edges come
    first; each count then has one pattern (two cuts leave a quad, split along its shorter
    diagonal: on a thin face the longer one would be cut again in the next round)."""
    count = split.sum(1)
    out = [faces[count == 0]]
    # rotate each face by r: corner k -> k + r, so that edge 0 is cut (one cut) or edge 2 is not (two)
    rotation = np.where(count == 1, np.argmax(split, 1), np.where(count == 2, (np.argmin(split, 1) + 1) % 3, 0))
    order = (np.arange(3)[None] + rotation[:, None]) % 3
    f = np.take_along_axis(faces, order, 1)
    m = np.take_along_axis(midpoint, order, 1)
    one, two, three = count == 1, count == 2, count == 3
    c0, c1, c2 = f[one].T
    out += [np.stack([c0, m[one, 0], c2], 1), np.stack([m[one, 0], c1, c2], 1)]
    c0, c1, c2 = f[two].T
    m0, m1 = m[two, 0], m[two, 1]  # on edges 0 (c0-c1) and 1 (c1-c2); the quad c0 m0 m1 c2 remains
    short = (np.linalg.norm(vertices[c0] - vertices[m1], axis=1)
             <= np.linalg.norm(vertices[m0] - vertices[c2], axis=1))[:, None]
    out += [np.stack([m0, c1, m1], 1),
            np.where(short, np.stack([c0, m0, m1], 1), np.stack([c0, m0, c2], 1)),
            np.where(short, np.stack([c0, m1, c2], 1), np.stack([m0, m1, c2], 1))]
    c0, c1, c2 = f[three].T
    m0, m1, m2 = m[three].T
    out += [np.stack([c0, m0, m2], 1), np.stack([m0, c1, m1], 1), np.stack([m2, m1, c2], 1),
            np.stack([m0, m1, m2], 1)]
    return np.concatenate(out)

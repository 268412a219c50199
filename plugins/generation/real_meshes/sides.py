"""Whether a real mesh's back faces can be seen: they can unless it is closed and wound outwards.

Blender's Cycles (the official renders') shows every face from both sides; a renderer that skips back faces
shows the same only where no back face is ever in view. A file's mesh is often open (a sheet, a leaf, a
cup of one wall, a scan with holes) or wound the wrong way in places (CAD exports, mirrored parts)."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from lrmzero.mesh import weld_positions


def closed_and_outward(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """True when every part of the mesh (``vertices [V, 3]``, ``faces [F, 3]``) is closed, consistently
    wound and encloses a positive volume, so that from outside it only its front faces can be seen.

    Positions are welded first (UV seams and per-face colours split vertices without opening the surface).
    Closed and consistently wound: every edge is crossed as often one way as the other by the faces around
    it (once each way on a manifold surface; as often each way where solids touch along an edge, as the
    pieces of a cut do, which trimesh's watertightness refuses). Each connected part counts on its own: a
    shell wound inwards inside an outward one is not outward."""
    positions, group = weld_positions(vertices)
    f = group[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]  # welded to a line: no area
    if len(f) == 0:
        return False
    n = np.int64(len(positions))
    start, end = f.ravel().astype(np.int64), np.roll(f, -1, axis=1).ravel().astype(np.int64)
    edges, count = np.unique(start * n + end, return_counts=True)
    reverse = (edges % n) * n + edges // n
    at = np.minimum(np.searchsorted(edges, reverse), len(edges) - 1)
    if not ((edges[at] == reverse) & (count[at] == count)).all():
        return False
    # parts: faces joined through the edges they share (a graph of faces and edges)
    _, edge = np.unique(np.minimum(start, end) * n + np.maximum(start, end), return_inverse=True)
    corner_face = np.repeat(np.arange(len(f)), 3)
    size = len(f) + int(edge.max()) + 1
    links = scipy.sparse.coo_matrix((np.ones(len(edge)), (corner_face, len(f) + edge.ravel())), shape=(size, size))
    part = scipy.sparse.csgraph.connected_components(links, directed=False)[1][: len(f)]
    tri = positions[f]
    signed = np.einsum("fj,fj->f", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0  # tetrahedra from the origin
    return bool((np.bincount(part, signed) > 0).all())

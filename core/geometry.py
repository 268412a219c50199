"""Small pure functions that build UV-mapped surface patches, for primitive plugins to reuse.

Every function returns ``(vertices [V, 3], faces [F, 3], uv [V, 2])`` with faces counter-clockwise
seen from the side the documented normal points to. Written by hand rather than taken from
``trimesh.creation`` because those functions weld seams and produce no UVs.
"""

from __future__ import annotations

import numpy as np

Patch = tuple[np.ndarray, np.ndarray, np.ndarray]


def grid_faces(nu: int, nv: int, skip_first_row: bool = False, skip_last_row: bool = False):
    """Triangles of an ``(nu + 1) x (nv + 1)`` vertex grid indexed ``i * (nv + 1) + j``.

    Each cell (i, j)-(i+1, j+1) gives two triangles counter-clockwise in (u, v). When the first
    (or last) row of v collapses to a point (a pole), its degenerate triangle is skipped.
    """
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    a = i * (nv + 1) + j
    b = (i + 1) * (nv + 1) + j
    c = b + 1
    d = a + 1
    lower = np.stack([a, b, c], axis=-1)  # touches row j
    upper = np.stack([a, c, d], axis=-1)  # touches row j + 1
    keep_lower = np.ones_like(a, dtype=bool)
    keep_upper = np.ones_like(a, dtype=bool)
    if skip_first_row:
        keep_lower[:, 0] = False
    if skip_last_row:
        keep_upper[:, -1] = False
    tris = np.concatenate([lower[keep_lower], upper[keep_upper]])
    # Sort cells into a stable, cache-friendly order (by the first vertex).
    return tris[np.argsort(tris[:, 0], kind="stable")]


def plane_patch(origin, du, dv, nu: int, nv: int) -> Patch:
    """A flat ``nu x nv`` grid spanning ``origin + s*du + t*dv``, s, t in [0, 1]; normal du x dv."""
    s = np.linspace(0.0, 1.0, nu + 1)
    t = np.linspace(0.0, 1.0, nv + 1)
    S, T = np.meshgrid(s, t, indexing="ij")
    verts = (
        np.asarray(origin, float)[None]
        + S.reshape(-1, 1) * np.asarray(du, float)[None]
        + T.reshape(-1, 1) * np.asarray(dv, float)[None]
    )
    uv = np.stack([S.reshape(-1), T.reshape(-1)], axis=-1)
    return verts, grid_faces(nu, nv), uv


def unit_circle(segments: int) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin`` of ``segments + 1`` angles from 0 to 2*pi; the last repeats the first exactly."""
    theta = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    cos, sin = np.cos(theta), np.sin(theta)
    cos[-1], sin[-1] = cos[0], sin[0]
    return cos, sin


def revolve(
    radius: np.ndarray, z: np.ndarray, segments: int, scale_xy: tuple[float, float] = (1.0, 1.0), wraps: int = 1
) -> Patch:
    """Revolve a profile ``(radius[j], z[j])`` about the z axis.

    The profile runs so that, at positive radius, its direction turned 90 degrees clockwise in the
    (r, z) plane points out of the solid (e.g. upward along a cylinder's side). A profile point with
    radius exactly 0 is a pole; its degenerate triangles are skipped. ``u`` runs around the axis,
    ``v`` along the profile (by arc length). The seam at u = 0/1 duplicates vertices. With ``wraps``
    > 1 the texture goes that many times around (u runs 0..1 over each 1/wraps of the turn, with a
    seam at each), as Zeroverse's sphere and cylinder UVs do; ``segments`` is rounded up to a
    multiple of ``wraps``.

    Args:
        radius: ``[M + 1]`` profile radii (>= 0).
        z: ``[M + 1]`` profile heights.
        segments: number of segments around the axis.
        scale_xy: ellipse half-axes in x and y that the unit radius maps to.
    """
    radius = np.asarray(radius, float)
    z = np.asarray(z, float)
    if wraps > 1:
        per = -(-segments // wraps)
        cos, sin = unit_circle(per * wraps)
        pieces = []
        for k in range(wraps):
            cols = slice(k * per, (k + 1) * per + 1)
            pieces.append(_revolve_columns(radius, z, cos[cols], sin[cols], scale_xy))
        v, f, uv, _ = merge_patches(pieces, [0] * wraps)
        return v, f, uv
    cos, sin = unit_circle(segments)
    return _revolve_columns(radius, z, cos, sin, scale_xy)


def _revolve_columns(radius: np.ndarray, z: np.ndarray, cos: np.ndarray, sin: np.ndarray, scale_xy) -> Patch:
    """:func:`revolve` over the given column angles (``cos``, ``sin`` ``[C]``), u from 0 to 1."""
    segments = len(cos) - 1
    sx, sy = scale_xy
    verts = np.empty((segments + 1, len(radius), 3))
    verts[..., 0] = sx * (cos[:, None] * radius[None, :])
    verts[..., 1] = sy * (sin[:, None] * radius[None, :])
    verts[..., 2] = z[None, :]
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(radius), np.diff(z)))])
    v = arc / arc[-1] if arc[-1] > 0 else np.linspace(0, 1, len(radius))
    u = np.linspace(0.0, 1.0, segments + 1)
    U, V = np.meshgrid(u, v, indexing="ij")
    uv = np.stack([U.reshape(-1), V.reshape(-1)], axis=-1)
    faces = grid_faces(segments, len(radius) - 1, radius[0] == 0.0, radius[-1] == 0.0)
    return verts.reshape(-1, 3), faces, uv


def disk(
    z: float, segments: int, rings: int, scale_xy: tuple[float, float] = (1.0, 1.0), up: bool = True
) -> Patch:
    """A flat elliptical disk at height ``z``: a centre vertex and ``rings`` concentric rings.

    Its outer ring has exactly the positions of :func:`revolve`'s ring of radius 1 with the same
    ``segments`` and ``scale_xy``, so a cap seals a revolved side. Planar UVs
    ``(0.5 + 0.5 r cos, 0.5 + 0.5 r sin)``. Normal ``+z`` when ``up`` else ``-z``.
    """
    cos, sin = unit_circle(segments)
    cos, sin = cos[:-1], sin[:-1]
    sx, sy = scale_xy
    r = np.arange(1, rings + 1) / rings
    ring_x = sx * (cos[None, :] * r[:, None])
    ring_y = sy * (sin[None, :] * r[:, None])
    verts = np.concatenate(
        [[[0.0, 0.0, z]], np.stack([ring_x, ring_y, np.full_like(ring_x, z)], -1).reshape(-1, 3)]
    )
    uv = np.concatenate(
        [
            [[0.5, 0.5]],
            np.stack(
                [0.5 + 0.5 * cos[None] * r[:, None], 0.5 + 0.5 * sin[None] * r[:, None]], -1
            ).reshape(-1, 2),
        ]
    )
    n = segments
    k = np.arange(n)
    nxt = (k + 1) % n
    tris = [np.stack([np.zeros(n, int), 1 + k, 1 + nxt], -1)]
    for ring in range(rings - 1):
        inner, outer = 1 + ring * n, 1 + (ring + 1) * n
        tris.append(np.stack([inner + k, outer + k, outer + nxt], -1))
        tris.append(np.stack([inner + k, outer + nxt, inner + nxt], -1))
    faces = np.concatenate(tris)
    if not up:
        faces = faces[:, ::-1].copy()
    return verts, faces, uv


def merge_patches(patches: list[Patch], surface_ids: list[int]):
    """Stack patches into one vertex/face/uv set with a surface id per face."""
    verts, faces, uvs, surf = [], [], [], []
    offset = 0
    for (v, f, uv), sid in zip(patches, surface_ids):
        verts.append(v)
        faces.append(f + offset)
        uvs.append(uv)
        surf.append(np.full(len(f), sid, dtype=np.int32))
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(uvs), np.concatenate(surf)

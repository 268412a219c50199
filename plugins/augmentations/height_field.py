"""Height fields: smooth bumps displacing each surface of a part, zero on the surface's border."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from lrmzero import PartMesh, param
from lrmzero.components import AugmentContext, Augmentation
from lrmzero.mesh import weld_positions


def bump_field(rng: np.random.Generator, amplitude: float, grid: int = 5, coarse: int = 30, fine: int = 36) -> np.ndarray:
    """Zeroverse's bump field: ``grid^2`` heights U(-amplitude, amplitude), zero-padded by one,
    cubic-resized to ``coarse^2``, border zeroed, linearly resized to ``fine^2``.

    Resizes map corners to corners, so the final border is exactly zero. Returns ``[fine, fine]``.
    """
    heights = np.pad(rng.uniform(-amplitude, amplitude, (grid, grid)), 1)
    smooth = ndimage.zoom(heights, coarse / heights.shape[0], order=3, grid_mode=False, mode="nearest")
    smooth[0, :] = smooth[-1, :] = smooth[:, 0] = smooth[:, -1] = 0.0
    field = ndimage.zoom(smooth, fine / coarse, order=1, grid_mode=False)
    field[0, :] = field[-1, :] = field[:, 0] = field[:, -1] = 0.0  # exact, whatever the rounding
    return field


def sample_field(field: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``field [N, N]`` at ``uv [K, 2]`` in [0, 1] (corners on corners); u along
    columns, v along rows. A point on the UV square's border gets exactly the border value."""
    n = field.shape[0] - 1
    x = np.clip(uv[:, 0], 0, 1) * n
    y = np.clip(uv[:, 1], 0, 1) * n
    x0 = np.minimum(np.floor(x).astype(int), n - 1)
    y0 = np.minimum(np.floor(y).astype(int), n - 1)
    tx, ty = x - x0, y - y0
    f = field
    return ((1 - tx) * (1 - ty) * f[y0, x0] + tx * (1 - ty) * f[y0, x0 + 1]
            + (1 - tx) * ty * f[y0 + 1, x0] + tx * ty * f[y0 + 1, x0 + 1])


def boundary_falloff(
    part: PartMesh, group: np.ndarray, faces: np.ndarray, verts: np.ndarray, width: float
) -> np.ndarray | None:
    """Weights in [0, 1] for ``verts`` that reach 0 on the open boundary of the surface made of
    ``faces``, or None when that boundary lies on the UV square's border (the field is 0 there).

    This is the caps' rim falloff, found from the geometry so any primitive's disks get it.
    ``group`` is ``weld_positions(part.vertices)``'s inverse.
    """
    g = group[faces].astype(np.int64)
    edges = np.sort(np.concatenate([g[:, [0, 1]], g[:, [1, 2]], g[:, [2, 0]]]), axis=1)
    n = int(group.max()) + 1
    codes, counts = np.unique(edges[:, 0] * n + edges[:, 1], return_counts=True)
    once = codes[counts == 1]
    rim_groups = np.unique(np.concatenate([once // n, once % n]))
    if len(rim_groups) == 0:
        return None
    rim_mask = np.isin(group, rim_groups)
    rim_uv = part.uv[rim_mask]
    on_border = np.minimum(np.minimum(rim_uv[:, 0], 1 - rim_uv[:, 0]), np.minimum(rim_uv[:, 1], 1 - rim_uv[:, 1]))
    if np.all(on_border < 1e-9):
        return None
    rim_points = part.vertices[rim_mask]
    dist, _ = cKDTree(rim_points).query(part.vertices[verts])
    t = np.clip(dist / max(width, 1e-12), 0.0, 1.0)
    return t * t * (3 - 2 * t)  # smoothstep


class HeightField(Augmentation):
    """Displace surfaces along their smooth normal by a bump field looked up at the surface's UVs.

    Per part, each surface is left smooth with ``smooth_probability``; otherwise its amplitude is
    U(0, ``max_amplitude`` x the part's smallest side). The field is zero on the UV border, and rims
    not on that border (caps) fade to zero, so every closed part stays closed.
    """

    name = "height_field"

    @dataclass
    class Config:
        probability: float = param(1.0, "chance that an object gets height fields at all", ge=0.0, le=1.0)
        smooth_probability: float = param(0.5, "chance that a given surface is left smooth", ge=0.0, le=1.0)
        max_amplitude: float = param(0.2, "largest amplitude, as a fraction of the part's smallest side", ge=0.0, le=1.0)
        grid: int = param(5, "random heights per side of the bump grid", ge=1, le=64)
        coarse: int = param(30, "texels per side of the cubic resize", ge=4, le=1024)
        fine: int = param(36, "texels per side of the final field", ge=4, le=1024)
        rim_falloff: float = param(0.3, "width of the fade at rims off the UV border, fraction of the surface size", gt=0.0, le=1.0)

    def apply(self, parts: list[PartMesh], rng: np.random.Generator, context: AugmentContext):
        out, records = [], []
        for index, part in enumerate(parts):
            new, surfaces = self.displace(part, rng)
            out.append(new)
            if surfaces:
                records.append({"part": index, "surfaces": surfaces})
        return out, {"displaced": records}

    def displace(self, part: PartMesh, rng: np.random.Generator) -> tuple[PartMesh, list[dict[str, Any]]]:
        """One part with its surfaces displaced, and what was done to each."""
        cfg = self.cfg
        size = part.size if part.size is not None else np.ptp(part.vertices, axis=0) / 2
        min_side = 2.0 * float(np.min(size))
        _, group = weld_positions(part.vertices)
        normals = part.vertex_normals(group)
        offset = np.zeros(len(part.vertices))
        done: list[dict[str, Any]] = []
        # The surface a vertex belongs to; vertices shared by several surfaces never move.
        owner = np.full(len(part.vertices), -1)
        shared = np.zeros(len(part.vertices), bool)
        for corner in range(3):
            v, s = part.faces[:, corner], part.surface
            shared[v[(owner[v] >= 0) & (owner[v] != s)]] = True
            owner[v] = s
        for surface in range(part.num_surfaces):
            smooth = rng.random() < cfg.smooth_probability
            amplitude = float(rng.uniform(0.0, cfg.max_amplitude * min_side))
            field = bump_field(rng, amplitude, cfg.grid, cfg.coarse, cfg.fine)
            if smooth:
                continue
            faces = part.faces[part.surface == surface]
            verts = np.nonzero((owner == surface) & ~shared)[0]
            if len(verts) == 0:
                continue
            h = sample_field(field, part.uv[verts])
            extent = float(np.ptp(part.vertices[verts], axis=0).max())
            fade = boundary_falloff(part, group, faces, verts, cfg.rim_falloff * extent)
            if fade is not None:
                h = h * fade
            offset[verts] = h
            done.append({"surface": surface, "amplitude": amplitude})
        if not done:
            return part, done
        # Copies of one position (UV seams) must move together; where they disagree, none moves.
        lo = np.full(int(group.max()) + 1, np.inf)
        hi = np.full(int(group.max()) + 1, -np.inf)
        np.minimum.at(lo, group, offset)
        np.maximum.at(hi, group, offset)
        offset[(lo != hi)[group]] = 0.0
        return part.copy(vertices=part.vertices + normals * offset[:, None]), done

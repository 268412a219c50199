"""3D Gaussians as files the field's viewers read: the 3DGS ``.ply`` (through plyfile) and the
32-byte-per-splat ``.splat`` of web viewers.

Conventions of both: positions in object units; colours as SH degree 0 (``f_dc = (rgb - 0.5) / C0``)
in the ``.ply`` and 8-bit RGBA in the ``.splat``; quaternions (w, x, y, z).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

SH_C0 = 0.28209479177387814
REST = 45  # SH degrees 1..3 x 3 colours: the reference layout always has them (here all zero)
# The 3DGS reference property list, in order (what SIBR and other strict readers expect).
FIELDS = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(REST)]
          + ["opacity"] + [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)])


def _activated(means, quats, scales, opacities, colors) -> tuple[np.ndarray, ...]:
    return (np.asarray(means, np.float64), np.asarray(quats, np.float64), np.asarray(scales, np.float64),
            np.asarray(opacities, np.float64), np.asarray(colors, np.float64))


def write_gaussians_ply(path: str | Path, means, quats, scales, opacities, colors) -> Path:
    """Binary little-endian PLY with the 3DGS reference properties (:data:`FIELDS`): positions,
    zero normals, SH degree-0 colour, zero higher-order SH, opacity as a logit, log scales,
    rotation ``rot_0..3`` = (w, x, y, z).

    Args: arrays ``[N, 3]`` means, ``[N, 4]`` wxyz, ``[N, 3]`` scales, ``[N]`` opacities in (0, 1),
    ``[N, 3]`` colours in [0, 1].
    """
    means, quats, scales, opacities, colors = _activated(means, quats, scales, opacities, colors)
    n = len(means)
    op = np.clip(opacities, 1e-6, 1 - 1e-6)
    columns = np.concatenate([
        means, np.zeros((n, 3)), (colors - 0.5) / SH_C0, np.zeros((n, REST)),
        np.log(op / (1 - op))[:, None], np.log(np.maximum(scales, 1e-12)), quats,
    ], axis=1).astype(np.float32)
    vertex = np.empty(n, dtype=[(name, "<f4") for name in FIELDS])
    for i, name in enumerate(FIELDS):
        vertex[name] = columns[:, i]
    path = Path(path)
    PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<").write(str(path))
    return path


def read_gaussians_ply(path: str | Path) -> dict[str, np.ndarray]:
    """The ``vertex`` properties of any 3DGS-style PLY (ASCII or binary, any property order):
    name -> ``[N]`` array."""
    vertex = PlyData.read(str(path))["vertex"]
    return {p.name: np.asarray(vertex[p.name]) for p in vertex.properties}


def gaussians_from_ply(path: str | Path) -> dict[str, np.ndarray]:
    """Activated Gaussians of a 3DGS PLY: means ``[N, 3]``, quats ``[N, 4]`` (unit, wxyz), scales
    ``[N, 3]``, opacities ``[N]``, colors ``[N, 3]`` (from SH degree 0, clipped to [0, 1])."""
    f = read_gaussians_ply(path)
    col = lambda *names: np.stack([f[n] for n in names], -1).astype(np.float64)  # noqa: E731
    quats = col("rot_0", "rot_1", "rot_2", "rot_3")
    return {
        "means": col("x", "y", "z"),
        "quats": quats / np.linalg.norm(quats, axis=1, keepdims=True),
        "scales": np.exp(col("scale_0", "scale_1", "scale_2")),
        "opacities": 1 / (1 + np.exp(-f["opacity"].astype(np.float64))),
        "colors": np.clip(col("f_dc_0", "f_dc_1", "f_dc_2") * SH_C0 + 0.5, 0, 1),
    }


SPLAT_DTYPE = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)])


def write_gaussians_splat(path: str | Path, means, quats, scales, opacities, colors) -> Path:
    """The ``.splat`` layout of web viewers: 32 bytes per splat (position and linear scale as
    float32 x 3, RGBA as uint8 x 4 with alpha = opacity, rotation wxyz as uint8 x 4 mapping [-1, 1]
    to [0, 255] with 128 = 0), sorted by size x opacity, largest first, as those viewers expect."""
    means, quats, scales, opacities, colors = _activated(means, quats, scales, opacities, colors)
    order = np.argsort(-(scales.prod(axis=1) * opacities), kind="stable")
    q = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    out = np.empty(len(means), SPLAT_DTYPE)
    out["position"] = means[order]
    out["scale"] = scales[order]
    rgba = np.concatenate([colors, opacities[:, None]], axis=1)
    out["rgba"] = np.clip(np.round(rgba[order] * 255), 0, 255).astype(np.uint8)
    out["rotation"] = np.clip(np.round(q[order] * 128 + 128), 0, 255).astype(np.uint8)
    path = Path(path)
    path.write_bytes(out.tobytes())
    return path


def read_gaussians_splat(path: str | Path) -> dict[str, np.ndarray]:
    """A ``.splat`` file back as activated Gaussians (see :func:`write_gaussians_splat`; colours and
    opacities to 1/255, rotations to 1/128 before normalizing)."""
    raw = np.frombuffer(Path(path).read_bytes(), SPLAT_DTYPE)
    q = (raw["rotation"].astype(np.float64) - 128) / 128
    rgba = raw["rgba"].astype(np.float64) / 255
    return {"means": raw["position"].astype(np.float64), "scales": raw["scale"].astype(np.float64),
            "quats": q / np.linalg.norm(q, axis=1, keepdims=True), "colors": rgba[:, :3], "opacities": rgba[:, 3]}

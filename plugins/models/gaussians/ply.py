"""Write 3D Gaussians as a standard 3DGS ``.ply`` (the layout splat viewers load)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SH_C0 = 0.28209479177387814
FIELDS = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
          + [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)])


def write_gaussians_ply(path: str | Path, means, quats, scales, opacities, colors) -> Path:
    """Binary little-endian PLY with the 3DGS attributes: positions, SH degree-0 colour
    ``(rgb - 0.5) / C0``, opacity as a logit, log scales, rotation ``rot_0..3`` = (w, x, y, z).

    Args: numpy arrays ``[N, 3]``, ``[N, 4]`` wxyz, ``[N, 3]``, ``[N]`` in (0, 1), ``[N, 3]`` in [0, 1].
    """
    n = len(means)
    op = np.clip(np.asarray(opacities, np.float64), 1e-6, 1 - 1e-6)
    data = np.concatenate([
        np.asarray(means, np.float32), np.zeros((n, 3), np.float32),
        ((np.asarray(colors, np.float64) - 0.5) / SH_C0).astype(np.float32),
        np.log(op / (1 - op)).astype(np.float32)[:, None],
        np.log(np.maximum(np.asarray(scales, np.float64), 1e-12)).astype(np.float32),
        np.asarray(quats, np.float32),
    ], axis=1)
    header = "ply\nformat binary_little_endian 1.0\n" + f"element vertex {n}\n" + "".join(
        f"property float {f}\n" for f in FIELDS) + "end_header\n"
    path = Path(path)
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.ascontiguousarray(data, dtype="<f4").tobytes())
    return path


def read_gaussians_ply(path: str | Path) -> dict[str, np.ndarray]:
    """Read back a PLY written by :func:`write_gaussians_ply` (field name -> ``[N]`` array)."""
    raw = Path(path).read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    header = raw[:end].decode("ascii").splitlines()
    names = [line.split()[-1] for line in header if line.startswith("property")]
    arr = np.frombuffer(raw[end:], dtype="<f4").reshape(-1, len(names))
    return {name: arr[:, i] for i, name in enumerate(names)}

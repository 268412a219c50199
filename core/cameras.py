"""Cameras: OpenCV pinhole cameras, look-at, conversions to OpenGL/Blender, opencv_cameras.json.

Conventions (DESIGN.md): world Z up; OpenCV camera axes x right, y down, z forward; intrinsics in
pixels with pixel centres at +0.5 (a centred principal point is ``W / 2``); ``c2w`` maps camera to
world coordinates, ``w2c`` is its inverse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

# Camera-axis flip between OpenCV (x right, y down, z forward) and OpenGL/Blender (x right, y up,
# z backward): c2w_gl = c2w_cv @ CV_TO_GL_AXES.
CV_TO_GL_AXES = np.diag([1.0, -1.0, -1.0, 1.0])
# World frame change from Z up (Blender, Zeroverse, lrmzero) to Y up (OpenGL/glTF): (x, y, z) -> (x, z, -y).
Z_UP_TO_Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])

Convention = Literal["opencv", "opengl", "blender"]


@dataclass
class Cameras:
    """``V`` pinhole cameras of one image size.

    Attributes:
        c2w: ``[V, 4, 4]`` OpenCV camera-to-world.
        K: ``[V, 3, 3]`` pixel intrinsics.
        width, height: image size in pixels.
    """

    c2w: np.ndarray
    K: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.c2w)

    @property
    def w2c(self) -> np.ndarray:
        """``[V, 4, 4]`` world-to-camera (rigid inverse of c2w)."""
        R = self.c2w[:, :3, :3]
        t = self.c2w[:, :3, 3]
        out = np.tile(np.eye(4), (len(self), 1, 1))
        out[:, :3, :3] = np.transpose(R, (0, 2, 1))
        out[:, :3, 3] = -np.einsum("vji,vj->vi", R, t)
        return out

    @property
    def centers(self) -> np.ndarray:
        """``[V, 3]`` camera positions in world."""
        return self.c2w[:, :3, 3]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``[N, 3]`` -> pixel coordinates ``[V, N, 2]`` and camera depth ``[V, N]``."""
        w2c = self.w2c
        cam = np.einsum("vij,nj->vni", w2c[:, :3, :3], points) + w2c[:, None, :3, 3]
        z = cam[..., 2]
        uv = np.einsum("vij,vnj->vni", self.K, cam)
        return uv[..., :2] / z[..., None], z

    def select(self, indices) -> "Cameras":
        """The cameras at ``indices`` (a list, an index array or a slice), in that order."""
        indices = np.arange(len(self))[indices] if isinstance(indices, slice) else np.asarray(indices, dtype=np.int64)
        return Cameras(self.c2w[indices], self.K[indices], self.width, self.height)

    def resized(self, width: int, height: int) -> "Cameras":
        """The same cameras for images resampled to ``width x height`` (intrinsics scaled)."""
        K = self.K.copy()
        K[:, 0] *= width / self.width
        K[:, 1] *= height / self.height
        return Cameras(self.c2w, K, width, height)


def intrinsics_from_fov(width: int, height: int, fov_x_deg: float) -> np.ndarray:
    """``[3, 3]`` K with horizontal field of view ``fov_x_deg``, square pixels, centred principal point."""
    f = (width / 2.0) / np.tan(np.radians(fov_x_deg) / 2.0)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray | None = None, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV camera-to-world ``[V, 4, 4]`` for eyes ``[V, 3]`` looking at ``target`` (default origin).

    Image "up" follows ``up`` (world Z); a camera looking straight along ``up`` uses world Y instead.
    """
    eye = np.atleast_2d(np.asarray(eye, float))
    target = np.zeros(3) if target is None else np.asarray(target, float)
    forward = target - eye
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    up_vec = np.broadcast_to(np.asarray(up, float), forward.shape).copy()
    parallel = np.abs(np.einsum("ij,ij->i", forward, up_vec)) > 1 - 1e-9
    up_vec[parallel] = (0.0, 1.0, 0.0)
    right = np.cross(forward, up_vec)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(forward, right)
    c2w = np.tile(np.eye(4), (len(eye), 1, 1))
    c2w[:, :3, 0], c2w[:, :3, 1], c2w[:, :3, 2], c2w[:, :3, 3] = right, down, forward, eye
    return c2w


def convert_c2w(c2w: np.ndarray, source: Convention, target: Convention) -> np.ndarray:
    """Convert camera-to-world matrices ``[..., 4, 4]`` between conventions.

    - ``opencv``: Z-up world, camera x right, y down, z forward (lrmzero, Zeroverse).
    - ``blender``: Z-up world, camera x right, y up, looking along -z.
    - ``opengl``: Y-up world (glTF), camera x right, y up, looking along -z.
    """
    def to_cv(m: np.ndarray, conv: str) -> np.ndarray:
        if conv == "opencv":
            return m
        if conv == "blender":
            return m @ CV_TO_GL_AXES
        if conv == "opengl":
            return np.linalg.inv(Z_UP_TO_Y_UP) @ m @ CV_TO_GL_AXES
        raise ValueError(f"convention: got {conv!r}; allowed: opencv, opengl, blender")

    def from_cv(m: np.ndarray, conv: str) -> np.ndarray:
        if conv == "opencv":
            return m
        if conv == "blender":
            return m @ CV_TO_GL_AXES
        if conv == "opengl":
            return Z_UP_TO_Y_UP @ m @ CV_TO_GL_AXES
        raise ValueError(f"convention: got {conv!r}; allowed: opencv, opengl, blender")

    return from_cv(to_cv(np.asarray(c2w, float), source), target)


def write_opencv_cameras(path: str | Path, cameras: Cameras, file_paths: list[str]) -> None:
    """Write ``opencv_cameras.json`` in the Zeroverse format: ``{"frames": [{w, h, fx, fy, cx, cy,
    w2c, file_path}]}``."""
    Path(path).write_text(json.dumps(opencv_cameras_dict(cameras, file_paths), indent=1))


def opencv_cameras_dict(cameras: Cameras, file_paths: list[str]) -> dict:
    frames = []
    for K, w2c, fp in zip(cameras.K, cameras.w2c, file_paths):
        frames.append(
            {
                "w": int(cameras.width),
                "h": int(cameras.height),
                "fx": float(K[0, 0]),
                "fy": float(K[1, 1]),
                "cx": float(K[0, 2]),
                "cy": float(K[1, 2]),
                "w2c": w2c.tolist(),
                "file_path": fp,
            }
        )
    return {"frames": frames}


def read_opencv_cameras(path: str | Path) -> tuple[Cameras, list[str]]:
    """Read ``opencv_cameras.json``: (cameras, file paths relative to its folder).

    Raises:
        ValueError: naming the file and frame when a field is missing or inconsistent.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: not a readable opencv_cameras.json ({exc})") from None
    return parse_opencv_cameras(text, path)


def parse_opencv_cameras(text: str | bytes, path: str | Path) -> tuple[Cameras, list[str]]:
    """:func:`read_opencv_cameras` of the file's contents; ``path`` names it in errors."""
    try:
        data = json.loads(text)
        frames = data["frames"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable opencv_cameras.json ({exc})") from None
    if not isinstance(frames, list) or not all(isinstance(fr, dict) for fr in frames):
        raise ValueError(f"{path}: \"frames\" is {type(frames).__name__}; allowed: a list of frame objects")
    if not frames:
        raise ValueError(f"{path}: no frames")
    c2w, K, paths = [], [], []
    try:
        w, h = _positive_int(frames[0]["w"]), _positive_int(frames[0]["h"])
    except KeyError as exc:
        raise ValueError(f"{path}: frame 0 has no {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: frame 0: {exc}") from None
    for i, fr in enumerate(frames):
        try:
            if (_positive_int(fr["w"]), _positive_int(fr["h"])) != (w, h):
                raise ValueError(f"frame {i} is {fr['w']}x{fr['h']}, frame 0 is {w}x{h}")
            m = np.asarray(fr["w2c"], float)
            if m.shape != (4, 4) or not np.all(np.isfinite(m)):
                raise ValueError(f"frame {i}: w2c must be a finite 4x4 matrix")
            R = m[:3, :3]
            if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or not np.allclose(m[3], [0, 0, 0, 1]):
                raise ValueError(f"frame {i}: w2c must be a rigid transform (orthonormal rotation, last row 0 0 0 1)")
            intr = [fr["fx"], fr["fy"], fr["cx"], fr["cy"]]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in intr) \
                    or intr[0] <= 0 or intr[1] <= 0:
                raise ValueError(f"frame {i}: fx, fy, cx, cy must be finite numbers with fx, fy > 0; got {intr}")
            if not isinstance(fr["file_path"], str) or not fr["file_path"]:
                raise ValueError(f"frame {i}: file_path must be a non-empty string; got {fr['file_path']!r}")
            c2w.append(np.linalg.inv(m))
            K.append([[fr["fx"], 0.0, fr["cx"]], [0.0, fr["fy"], fr["cy"]], [0.0, 0.0, 1.0]])
            paths.append(fr["file_path"])
        except KeyError as exc:
            raise ValueError(f"{path}: frame {i} has no {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
    return Cameras(np.stack(c2w), np.asarray(K, float), w, h), paths


def _positive_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or value != int(value) or value < 1:
        raise ValueError(f"image sizes w, h must be positive integers; got {value!r}")
    return int(value)

"""What ``lrmzero view`` shows, as plain arrays: an object's mesh and camera frusta with their
images, the Gaussians of a 3DGS ``.ply``, a reconstruction folder. Nothing here needs viser, so the
scene is tested without a browser; :mod:`lrmzero.plugins.tools.viewer` hands it to viser.

Conventions: world Z up; frusta in OpenCV camera axes (x right, y down, z forward, the axes viser
uses for its frusta), poses as ``wxyz`` quaternion + position of the camera-to-world transform.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image
from plyfile import PlyData
from scipy.spatial.transform import Rotation

from lrmzero.cameras import Cameras, parse_opencv_cameras
from lrmzero.dataset import DONE_MARKER, is_foreign_dataset, object_folders
from lrmzero.images import convert_8bit
from lrmzero.shards import is_shard_dataset, read_index, read_object_file

LAYERS = ("rgba", "depth", "normal")
SH_C0 = 0.28209479177387814  # 3DGS: colour = f_dc * C0 + 0.5


@dataclass
class Frustum:
    """One camera: ``wxyz`` ``[4]`` and ``position`` ``[3]`` of its OpenCV c2w, vertical ``fov`` in
    radians, ``aspect`` = width / height, ``image`` ``[H, W, 3]`` uint8 (or None), line ``color``."""

    name: str
    wxyz: np.ndarray
    position: np.ndarray
    fov: float
    aspect: float
    image: np.ndarray | None
    color: tuple[int, int, int] = (40, 90, 200)


@dataclass
class Splats:
    """3D Gaussians as viewers take them: ``centers`` ``[N, 3]``, ``covariances`` ``[N, 3, 3]``
    (= R diag(s^2) R^T), ``rgbs`` ``[N, 3]`` in [0, 1], ``opacities`` ``[N, 1]`` in [0, 1]."""

    centers: np.ndarray
    covariances: np.ndarray
    rgbs: np.ndarray
    opacities: np.ndarray


@dataclass
class Scene:
    """Everything one page shows: meshes by name, frusta, Gaussians by name."""

    meshes: dict[str, trimesh.Trimesh] = field(default_factory=dict)
    frusta: list[Frustum] = field(default_factory=list)
    splats: dict[str, Splats] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.meshes or self.frusta or self.splats)


# one line colour per camera set of a reconstruction folder (inputs, turntable, ...)
SET_COLORS = [(40, 90, 200), (230, 120, 30), (40, 160, 70), (170, 60, 170)]


def frusta_from_cameras(cameras: Cameras, images: list[np.ndarray | None], prefix: str = "",
                        color: tuple[int, int, int] = SET_COLORS[0]) -> list[Frustum]:
    """One :class:`Frustum` per camera (``V`` cameras, ``V`` images or None)."""
    out = []
    for i in range(len(cameras)):
        wxyz = trimesh.transformations.quaternion_from_matrix(cameras.c2w[i])  # (w, x, y, z)
        fov = 2.0 * np.arctan(cameras.height / (2.0 * cameras.K[i, 1, 1]))
        out.append(Frustum(f"{prefix}{i:03d}", np.asarray(wxyz, float), cameras.c2w[i, :3, 3].copy(), float(fov),
                           cameras.width / cameras.height, images[i], color))
    return out


def layer_image(data: bytes, layer: str) -> np.ndarray:
    """A view file as ``[H, W, 3]`` uint8 to look at: RGBA over white, normals over grey, 16-bit
    depth as grey levels (near = light, empty = black)."""
    im = Image.open(io.BytesIO(data))
    if layer == "depth":
        d = np.asarray(im, np.float32)
        if d.ndim == 3:
            d = d[..., 0]
        valid = d > 0
        g = np.zeros_like(d)
        if valid.any():
            lo, hi = d[valid].min(), d[valid].max()
            g = np.where(valid, 1.0 - 0.85 * (d - lo) / max(hi - lo, 1e-6), 0.0)
        return np.repeat((g * 255).astype(np.uint8)[..., None], 3, -1)
    rgba = np.asarray(convert_8bit(im, "RGBA"), np.float32) / 255.0
    a = rgba[..., 3:4]
    background = 1.0 if layer == "rgba" else 0.5
    return ((rgba[..., :3] * a + background * (1 - a)) * 255 + 0.5).astype(np.uint8)


def dataset_objects(root: str | Path) -> list[Any]:
    """The finished objects of a dataset: object folders (sorted; in one another tool wrote, every folder
    with cameras: :func:`lrmzero.dataset.object_folders`) or shard objects (index order).

    Raises:
        ValueError: a path that is neither.
    """
    if is_shard_dataset(root):
        return read_index(root)
    path = Path(root)
    if not path.is_dir():
        raise ValueError(f"{str(root)!r} is not a folder")
    return object_folders(path)


def object_scene(obj: Any, layer: str = "rgba", max_views: int | None = None) -> Scene:
    """An object of a dataset (a folder or a shard object): its mesh (if it has ``mesh.glb``) and
    one frustum per view showing the ``layer`` image (``rgba``, ``depth`` or ``normal``; a view
    without that file gets an empty frustum).

    Raises:
        ValueError: an unknown layer; unreadable cameras or mesh (naming the object).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer: got {layer!r}; allowed: {', '.join(LAYERS)}")
    name = getattr(obj, "name", str(obj))
    cameras, paths = parse_opencv_cameras(read_object_file(obj, "opencv_cameras.json"), f"{name}/opencv_cameras.json")
    count = len(paths) if max_views is None else min(len(paths), max_views)
    images = []
    for rel in paths[:count]:
        layer_rel = rel if layer == "rgba" else f"{layer}/{Path(rel).name}"
        try:
            images.append(layer_image(read_object_file(obj, layer_rel), layer))
        except FileNotFoundError:
            images.append(None)
    picked = Cameras(cameras.c2w[:count], cameras.K[:count], cameras.width, cameras.height)
    scene = Scene(frusta=frusta_from_cameras(picked, images))
    try:
        glb = read_object_file(obj, "mesh.glb")
    except FileNotFoundError:
        return scene
    scene.meshes["mesh"] = load_mesh(io.BytesIO(glb), "glb", name)
    return scene


def load_mesh(source: Any, file_type: str, name: str) -> trimesh.Trimesh:
    """A mesh file (any format trimesh reads) as one textured ``Trimesh``.

    Raises:
        ValueError: naming ``name`` when trimesh cannot read it or it holds no faces.
    """
    try:
        mesh = trimesh.load(source, file_type=file_type, force="mesh")
    except Exception as exc:  # trimesh raises many types for a broken file
        raise ValueError(f"{name}: not a readable {file_type} mesh ({exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{name}: the {file_type} file holds no faces")
    return mesh


def splats_from_ply(path: str | Path) -> Splats:
    """The Gaussians of any 3DGS-layout ``.ply`` (ASCII or binary, any property order: ``x y z``,
    ``f_dc_0..2``, ``opacity`` as a logit, ``scale_0..2`` as logs, ``rot_0..3`` = wxyz).

    Written here rather than imported from the Gaussian model plugin: the viewer reads any 3DGS
    file (the official trainer's included), and a plugin does not reach into another's internals.

    Raises:
        ValueError: naming the file and the properties it lacks.
    """
    try:
        vertex = PlyData.read(str(path))["vertex"]
    except Exception as exc:  # plyfile raises several types for a malformed file
        raise ValueError(f"{path}: not a readable .ply ({exc})") from None
    names = {p.name for p in vertex.properties}
    needed = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
              "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise ValueError(f"{path}: not a 3D Gaussian .ply: no {', '.join(missing)}")
    col = lambda *ks: np.stack([np.asarray(vertex[k], np.float64) for k in ks], -1)  # noqa: E731
    quats = col("rot_0", "rot_1", "rot_2", "rot_3")  # w, x, y, z; scipy normalizes
    quats[np.linalg.norm(quats, axis=1) == 0] = (1.0, 0.0, 0.0, 0.0)  # a zero quaternion: no rotation
    R = Rotation.from_quat(quats[:, [1, 2, 3, 0]]).as_matrix()
    scales = np.exp(col("scale_0", "scale_1", "scale_2"))
    covariances = np.einsum("nij,nj,nkj->nik", R, scales**2, R)
    opacities = 1.0 / (1.0 + np.exp(-np.asarray(vertex["opacity"], np.float64)))
    rgbs = np.clip(col("f_dc_0", "f_dc_1", "f_dc_2") * SH_C0 + 0.5, 0.0, 1.0)
    return Splats(col("x", "y", "z"), covariances, rgbs, opacities[:, None])


def folder_scene(folder: str | Path) -> Scene:
    """A reconstruction folder (what ``lrmzero reconstruct`` writes): every ``*.ply`` of Gaussians,
    every mesh (``.glb``, ``.obj``), and the frusta of every ``opencv_cameras.json`` beside or one
    level below (the rendered predictions, the input views) with their images.

    Raises:
        ValueError: a folder with nothing to show, or a file that cannot be read (named).
    """
    root = Path(folder)
    scene = Scene()
    for ply in sorted(root.glob("*.ply")):
        scene.splats[ply.stem] = splats_from_ply(ply)
    for mesh in sorted([*root.glob("*.glb"), *root.glob("*.obj")]):
        scene.meshes[mesh.stem] = load_mesh(str(mesh), mesh.suffix[1:], str(mesh))
    camera_files = sorted([*root.glob("opencv_cameras.json"), *root.glob("*/opencv_cameras.json")])
    for n, cams_file in enumerate(camera_files):
        base = cams_file.parent
        cameras, paths = parse_opencv_cameras(cams_file.read_bytes(), cams_file)
        images = [layer_image(read_object_file(base, p), "rgba") if (base / p).is_file() else None for p in paths]
        prefix = "" if base == root else f"{base.name}/"
        scene.frusta += frusta_from_cameras(cameras, images, prefix, SET_COLORS[n % len(SET_COLORS)])
    if scene.empty:
        raise ValueError(f"{str(root)!r} holds no .ply, .glb, .obj or opencv_cameras.json to show")
    return scene


def path_kind(path: str | Path) -> str:
    """What ``lrmzero view PATH`` was given: ``dataset`` (folders or shards), ``object`` (one
    object folder), ``ply``, ``mesh`` or ``folder`` (a reconstruction).

    Raises:
        ValueError: naming the path when it is none of those.
    """
    p = Path(path)
    if p.is_file():
        if p.suffix == ".ply":
            return "ply"
        if p.suffix in (".glb", ".gltf", ".obj", ".stl", ".off"):
            return "mesh"
        raise ValueError(f"{str(path)!r}: allowed files are .ply (Gaussians) and meshes (.glb, .gltf, .obj, .stl, .off)")
    if is_shard_dataset(path):
        return "dataset"
    if not p.is_dir():
        raise ValueError(f"{str(path)!r} does not exist")
    if (p / "opencv_cameras.json").is_file() and (p / "rgba").is_dir():
        return "object"
    if any(c.is_dir() and (c / DONE_MARKER).is_file() for c in p.iterdir()):
        return "dataset"
    reconstruction = any(p.glob("*.ply")) or any(p.glob("*.glb")) or any(p.glob("*.obj"))
    if not reconstruction and is_foreign_dataset(p):  # object folders another tool wrote
        return "dataset"
    if reconstruction or any(p.glob("*/opencv_cameras.json")):
        return "folder"
    raise ValueError(f"{str(path)!r} is not a dataset (object folders or shards), an object folder, "
                     "a reconstruction folder, a .ply of Gaussians or a mesh")

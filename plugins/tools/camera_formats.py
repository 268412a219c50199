"""Camera files of the field, to and from lrmzero's ``opencv_cameras.json``.

Formats (see docs/cameras.md for the axes):

- ``opencv``: lrmzero / Zeroverse ``opencv_cameras.json``: per frame ``w2c`` (OpenCV: x right,
  y down, z forward), pixel ``fx fy cx cy``, ``w h``, ``file_path``; world Z up.
- ``nerfstudio``: ``transforms.json``: per frame ``transform_matrix`` = camera-to-world with
  OpenGL/Blender camera axes (x right, y up, looking along -z), intrinsics per frame or at the top
  level (``fl_x fl_y cx cy w h``, or ``camera_angle_x`` as the NeRF-synthetic files have it).
- ``colmap``: a text model folder: ``cameras.txt`` (PINHOLE ``fx fy cx cy``; SIMPLE_PINHOLE read
  too), ``images.txt`` (``QW QX QY QZ TX TY TZ`` = world-to-camera rotation as a unit quaternion
  and translation, OpenCV axes), and an empty ``points3D.txt``.
- ``openlrm``: an object folder as OpenLRM's Objaverse loader reads it: ``pose/NNN.npy`` = ``[3, 4]``
  camera-to-world ``[R|t]`` of Blender's camera (x right, y up, looking along -z), Z-up world;
  ``intrinsics.npy`` = ``[[fx, fy], [cx, cy], [w, h]]`` shared by every view; views ``rgba/NNN.png``.
- ``lgm``: an object folder as LGM's Objaverse provider reads it: ``pose/NNN.txt`` = the 16 numbers
  of the ``4x4`` camera-to-world with OpenCV camera axes in the Z-up (Blender) world; views
  ``rgb/NNN.png``. LGM stores no intrinsics (it assumes a 49.1 degree vertical field of view), so
  the writer adds ``intrinsics.json`` (``fx fy cx cy w h`` per view, ignored by LGM) and the reader
  uses it where present, else 49.1 degrees and the size of ``rgb/000.png``.

Every reader returns ``(Cameras, file_paths)``; every writer takes them. Rotations go through
scipy's ``Rotation`` (quaternions) and the axis changes through :func:`lrmzero.cameras.convert_c2w`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from lrmzero.cameras import Cameras, convert_c2w, read_opencv_cameras, write_opencv_cameras
from lrmzero.errors import ConfigError

FORMATS = ("opencv", "nerfstudio", "colmap", "openlrm", "lgm")
LGM_FOVY_DEG = 49.1  # LGM's fixed opt.fovy


def detect_format(path: str | Path) -> str:
    """For a folder: ``colmap`` (``cameras.txt``), ``openlrm`` (``intrinsics.npy`` and ``pose/``),
    ``lgm`` (``pose/*.txt``); for a JSON file, ``nerfstudio`` when its frames have
    ``transform_matrix``, else ``opencv``."""
    path = Path(path)
    if path.is_dir():
        if (path / "cameras.txt").is_file():
            return "colmap"
        if (path / "intrinsics.npy").is_file() and (path / "pose").is_dir():
            return "openlrm"
        if any((path / "pose").glob("*.txt")):
            return "lgm"
        raise ConfigError(f"INPUT: {str(path)!r} is a folder without cameras.txt, intrinsics.npy or pose/*.txt; "
                          "allowed: a COLMAP text model, an OpenLRM or LGM object folder, opencv_cameras.json "
                          "or transforms.json")
    if not path.is_file():
        raise ConfigError(f"INPUT: {str(path)!r} does not exist")
    try:
        frames = json.loads(path.read_text()).get("frames") or [{}]
    except (ValueError, AttributeError):
        raise ConfigError(f"INPUT: {str(path)!r} is not a JSON object with frames") from None
    return "nerfstudio" if "transform_matrix" in frames[0] else "opencv"


def read_cameras(path: str | Path, fmt: str | None = None) -> tuple[Cameras, list[str]]:
    fmt = fmt or detect_format(path)
    readers = {"opencv": read_opencv_cameras, "nerfstudio": read_nerfstudio, "colmap": read_colmap,
               "openlrm": read_openlrm, "lgm": read_lgm}
    try:
        return readers[fmt](path)
    except (KeyError, ValueError, IndexError, TypeError, OSError) as exc:
        raise ConfigError(f"INPUT: {str(path)!r} cannot be read as {fmt} cameras ({exc})") from None


def write_cameras(path: str | Path, fmt: str, cameras: Cameras, file_paths: list[str]) -> Path:
    if fmt not in FORMATS:
        raise ConfigError(f"--to: got {fmt!r}; allowed: {', '.join(FORMATS)}")
    path = Path(path)
    writers = {"opencv": write_opencv_cameras, "nerfstudio": write_nerfstudio, "colmap": write_colmap,
               "openlrm": write_openlrm, "lgm": write_lgm}
    if fmt in ("opencv", "nerfstudio"):  # a file; the folder formats make their folder
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        writers[fmt](path, cameras, file_paths)
    except ValueError as exc:
        raise ConfigError(f"--to {fmt}: {exc}") from None
    return path


# --- nerfstudio ------------------------------------------------------------------------------

def nerfstudio_dict(cameras: Cameras, file_paths: list[str]) -> dict:
    gl = convert_c2w(cameras.c2w, "opencv", "blender")  # OpenGL camera axes, the same Z-up world
    frames = [{"file_path": fp, "transform_matrix": m.tolist(), "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]),
               "cx": float(K[0, 2]), "cy": float(K[1, 2]), "w": int(cameras.width), "h": int(cameras.height)}
              for m, K, fp in zip(gl, cameras.K, file_paths)]
    return {"camera_model": "OPENCV", "frames": frames}


def write_nerfstudio(path: Path, cameras: Cameras, file_paths: list[str]) -> None:
    path.write_text(json.dumps(nerfstudio_dict(cameras, file_paths), indent=1))


def read_nerfstudio(path: str | Path) -> tuple[Cameras, list[str]]:
    data = json.loads(Path(path).read_text())
    c2w, Ks, paths, sizes = [], [], [], set()
    for frame in data["frames"]:
        get = lambda key: frame.get(key, data.get(key))  # noqa: E731 - per-frame values override the top level
        w, h = int(get("w")), int(get("h"))
        if get("fl_x") is not None:
            fx, fy = float(get("fl_x")), float(get("fl_y") if get("fl_y") is not None else get("fl_x"))
        else:  # NeRF-synthetic style: horizontal field of view
            fx = fy = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
        cx = float(get("cx")) if get("cx") is not None else w / 2
        cy = float(get("cy")) if get("cy") is not None else h / 2
        Ks.append([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        c2w.append(np.asarray(frame["transform_matrix"], float))
        paths.append(frame["file_path"])
        sizes.add((w, h))
    if len(sizes) != 1:
        raise ValueError(f"frames of several image sizes {sorted(sizes)}; allowed: one size")
    (w, h), = sizes
    cv = convert_c2w(np.stack(c2w), "blender", "opencv")
    return Cameras(cv, np.asarray(Ks, float), w, h), paths


# --- COLMAP ----------------------------------------------------------------------------------

def write_colmap(folder: Path, cameras: Cameras, file_paths: list[str]) -> None:
    """A COLMAP text model: one PINHOLE camera per distinct intrinsics, one image per frame."""
    folder.mkdir(parents=True, exist_ok=True)
    intrinsics: dict[tuple, int] = {}
    image_lines = []
    for i, (w2c, K, fp) in enumerate(zip(cameras.w2c, cameras.K, file_paths)):
        key = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
        cam_id = intrinsics.setdefault(key, len(intrinsics) + 1)
        qx, qy, qz, qw = Rotation.from_matrix(w2c[:3, :3]).as_quat()
        numbers = " ".join(repr(float(x)) for x in (qw, qx, qy, qz, *w2c[:3, 3]))  # repr: exact round trip
        image_lines.append(f"{i + 1} {numbers} {cam_id} {fp}\n\n")
    cams = [f"{cid} PINHOLE {cameras.width} {cameras.height} {fx!r} {fy!r} {cx!r} {cy!r}\n"
            for (fx, fy, cx, cy), cid in intrinsics.items()]
    (folder / "cameras.txt").write_text("# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n" + "".join(cams))
    (folder / "images.txt").write_text("# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
                                       "# POINTS2D[] as (X, Y, POINT3D_ID): none\n" + "".join(image_lines))
    (folder / "points3D.txt").write_text("# no points\n")


def read_colmap(folder: str | Path) -> tuple[Cameras, list[str]]:
    folder = Path(folder)
    intrinsics, sizes = {}, set()
    for line in _data_lines(folder / "cameras.txt"):
        cid, model, w, h, *params = line.split()
        p = [float(x) for x in params]
        if model == "PINHOLE":
            fx, fy, cx, cy = p
        elif model == "SIMPLE_PINHOLE":
            fx, cx, cy = p
            fy = fx
        else:
            raise ValueError(f"camera {cid} has model {model}; allowed: PINHOLE, SIMPLE_PINHOLE (undistorted)")
        intrinsics[cid] = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        sizes.add((int(w), int(h)))
    if len(sizes) != 1:
        raise ValueError(f"cameras of several image sizes {sorted(sizes)}; allowed: one size")
    lines = _data_lines(folder / "images.txt", keep_blank=True)
    c2w, Ks, names = [], [], []
    for line in lines[0::2]:  # each image line is followed by its (here ignored) 2D points line
        image_id, qw, qx, qy, qz, tx, ty, tz, cid, *name = line.split()
        w2c = np.eye(4)
        w2c[:3, :3] = Rotation.from_quat([float(qx), float(qy), float(qz), float(qw)]).as_matrix()
        w2c[:3, 3] = [float(tx), float(ty), float(tz)]
        c2w.append(np.linalg.inv(w2c))
        Ks.append(intrinsics[cid])
        names.append(" ".join(name))
    (w, h), = sizes
    return Cameras(np.stack(c2w), np.stack(Ks), w, h), names


def _data_lines(path: Path, keep_blank: bool = False) -> list[str]:
    lines = [line.rstrip("\n") for line in path.read_text().splitlines() if not line.startswith("#")]
    return lines if keep_blank else [line for line in lines if line.strip()]


# --- OpenLRM and LGM object folders ----------------------------------------------------------

def _indexed_views(file_paths: list[str]) -> None:
    """Both layouts name views by index (``NNN.png`` in their image folder): refuse cameras whose
    files are named otherwise, since the poses would no longer match the images."""
    for i, fp in enumerate(file_paths):
        if Path(fp).name != f"{i:03d}.png":
            raise ValueError(f"frame {i} is {fp!r}; this layout names views {i:03d}.png by index "
                             "(rename the views, or convert to opencv, nerfstudio or colmap)")


def _numbered(folder: Path, suffix: str) -> list[Path]:
    files = sorted(folder.glob(f"*{suffix}"))
    if not files:
        raise ValueError(f"no {folder.name}/*{suffix} files")
    if [f.stem for f in files] != [f"{i:03d}" for i in range(len(files))]:
        raise ValueError(f"{folder.name}/ holds {[f.name for f in files][:4]}...; allowed: 000{suffix}, 001{suffix}, ... "
                         "without gaps")
    return files


def write_openlrm(folder: Path, cameras: Cameras, file_paths: list[str]) -> None:
    _indexed_views(file_paths)
    if not np.allclose(cameras.K, cameras.K[0], atol=1e-12):
        raise ValueError("the views have different intrinsics; OpenLRM's intrinsics.npy holds one set for all views")
    (folder / "pose").mkdir(parents=True, exist_ok=True)
    blender = convert_c2w(cameras.c2w, "opencv", "blender")
    for i, m in enumerate(blender):
        np.save(folder / "pose" / f"{i:03d}.npy", m[:3])
    K = cameras.K[0]
    np.save(folder / "intrinsics.npy", np.array([[K[0, 0], K[1, 1]], [K[0, 2], K[1, 2]],
                                                 [cameras.width, cameras.height]], float))


def read_openlrm(folder: str | Path) -> tuple[Cameras, list[str]]:
    folder = Path(folder)
    intr = np.load(folder / "intrinsics.npy")
    if intr.shape != (3, 2):
        raise ValueError(f"intrinsics.npy has shape {intr.shape}; allowed: (3, 2) = [[fx, fy], [cx, cy], [w, h]]")
    (fx, fy), (cx, cy), (w, h) = intr.tolist()
    poses = []
    for f in _numbered(folder / "pose", ".npy"):
        m = np.load(f)
        if m.shape not in ((3, 4), (4, 4)):
            raise ValueError(f"pose/{f.name} has shape {m.shape}; allowed: (3, 4) or (4, 4)")
        poses.append(np.vstack([m[:3], [0, 0, 0, 1]]))
    K = np.tile([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]], (len(poses), 1, 1))
    cv = convert_c2w(np.stack(poses), "blender", "opencv")
    return Cameras(cv, K, int(w), int(h)), [f"rgba/{i:03d}.png" for i in range(len(poses))]


def write_lgm(folder: Path, cameras: Cameras, file_paths: list[str]) -> None:
    _indexed_views(file_paths)
    (folder / "pose").mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(cameras.c2w):
        (folder / "pose" / f"{i:03d}.txt").write_text(" ".join(repr(float(x)) for x in m.reshape(-1)) + "\n")
    intrinsics = [{"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
                   "w": int(cameras.width), "h": int(cameras.height)} for K in cameras.K]
    (folder / "intrinsics.json").write_text(json.dumps({"note": "written by lrmzero; LGM itself assumes a "
                                                        f"{LGM_FOVY_DEG} degree vertical field of view",
                                                        "frames": intrinsics}, indent=1))


def read_lgm(folder: str | Path) -> tuple[Cameras, list[str]]:
    folder = Path(folder)
    poses = []
    for f in _numbered(folder / "pose", ".txt"):
        numbers = [float(x) for x in f.read_text().split()]
        if len(numbers) != 16:
            raise ValueError(f"pose/{f.name} holds {len(numbers)} numbers; allowed: 16 (a 4x4 camera-to-world)")
        poses.append(np.reshape(numbers, (4, 4)))
    if (folder / "intrinsics.json").is_file():
        frames = json.loads((folder / "intrinsics.json").read_text())["frames"]
        if len(frames) != len(poses):
            raise ValueError(f"intrinsics.json has {len(frames)} frames for {len(poses)} poses")
        K = np.array([[[f["fx"], 0, f["cx"]], [0, f["fy"], f["cy"]], [0, 0, 1.0]] for f in frames])
        w, h = int(frames[0]["w"]), int(frames[0]["h"])
    else:
        from PIL import Image

        with Image.open(folder / "rgb" / "000.png") as im:
            w, h = im.size
        fy = 0.5 * h / math.tan(math.radians(LGM_FOVY_DEG) / 2)
        K = np.tile([[fy, 0, w / 2], [0, fy, h / 2], [0, 0, 1.0]], (len(poses), 1, 1))
    return Cameras(np.stack(poses), K, w, h), [f"rgb/{i:03d}.png" for i in range(len(poses))]


# --- reprojection check ----------------------------------------------------------------------

def reprojection_report(object_folder: str | Path, min_inside: float = 0.98) -> tuple[bool, list[str]]:
    """Project the object's mesh vertices into every view and look them up in the view's alpha
    mask (dilated by one pixel): every vertex in front of the camera and inside the image, seen or
    hidden, lies inside the silhouette when the cameras are right (objects may reach past the
    frame of a near camera; a view with under a quarter of the vertices in its frame fails too).
    Returns (ok, one line per view)."""
    import trimesh
    from PIL import Image

    folder = Path(object_folder)
    cams, paths = read_opencv_cameras(folder / "opencv_cameras.json")
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    vertices = np.asarray(mesh.vertices)
    uv, z = cams.project(vertices)
    ok, lines = True, []
    for v, fp in enumerate(paths):
        image = (folder / fp).resolve()
        if not image.is_relative_to(folder.resolve()):
            raise ValueError(f"{fp!r} leads outside the object folder")
        with Image.open(image) as im:
            alpha = np.asarray(im.convert("RGBA"))[..., 3] > 0
        grown = alpha.copy()  # one-pixel dilation: silhouette edges are antialiased
        grown[1:] |= alpha[:-1]; grown[:-1] |= alpha[1:]; grown[:, 1:] |= alpha[:, :-1]; grown[:, :-1] |= alpha[:, 1:]  # noqa: E702
        px = np.floor(uv[v]).astype(int)
        on = (z[v] > 0) & (px[:, 0] >= 0) & (px[:, 1] >= 0) & (px[:, 0] < alpha.shape[1]) & (px[:, 1] < alpha.shape[0])
        framed = float(on.mean())
        frac = float(grown[px[on, 1], px[on, 0]].mean()) if on.any() else 0.0
        good = frac >= min_inside and framed >= 0.25
        ok &= good
        lines.append(f"{fp}: {100 * frac:.1f}% of {int(on.sum())} vertices in the frame inside the silhouette"
                     + ("" if good else f"  <- below {100 * min_inside:.0f}% or under 25% in the frame: this camera "
                        "is wrong"))
    return ok, lines

"""Contact sheet and a small static HTML page to browse a dataset written by `lrmzero generate`."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw

from lrmzero.cameras import parse_opencv_cameras
from lrmzero.dataset import DONE_MARKER, object_folders, view_path
from lrmzero.plugins.tools.view_scene import layer_image


def list_objects(dataset: str | Path) -> list[Path]:
    """The dataset's object folders (every one with cameras where another tool wrote it: :func:`object_folders`)."""
    root = Path(dataset)
    if not root.is_dir():
        raise FileNotFoundError(f"DATASET: {str(root)!r} is not a folder")
    return object_folders(root)


def view_files(obj: Path, views: int) -> list[Path]:
    """The first ``views`` PNG views of an object, as its ``opencv_cameras.json`` names them (another
    tool's layout: ``renderings/N_rgba.png``), else its ``rgba/*.png``."""
    cameras = obj / "opencv_cameras.json"
    try:
        paths = parse_opencv_cameras(cameras.read_bytes(), cameras)[1]
        named = [view_path(obj, p) for p in paths if p.endswith(".png")]
    except (OSError, ValueError):  # unreadable cameras, or a path leading outside
        named = []
    files = [p for p in named if p.is_file()]
    return (files or sorted((obj / "rgba").glob("*.png")))[:views]


def _thumb(path: Path, size: int, kind: str) -> np.ndarray:
    """A view file (``kind``: rgba, depth or normal) as a ``size``-pixel RGB thumbnail."""
    return np.asarray(Image.fromarray(layer_image(path.read_bytes(), kind)).resize((size, size), Image.BILINEAR))


def contact_sheet(dataset: str | Path, out_png: str | Path, objects: int = 8, views: int = 4,
                  size: int = 128) -> Path:
    """One row per object: ``views`` RGB views, then their normals, then their depths."""
    rows = []
    for obj in list_objects(dataset)[:objects]:
        files = view_files(obj, views)
        if not files:
            continue
        tiles = [_thumb(f, size, "rgba") for f in files]
        names = [f.name for f in files]
        tiles += [_thumb(obj / "normal" / n, size, "normal") for n in names if (obj / "normal" / n).exists()]
        tiles += [_thumb(obj / "depth" / n, size, "depth") for n in names if (obj / "depth" / n).exists()]
        row = np.concatenate(tiles, axis=1)
        label = Image.fromarray(row)
        ImageDraw.Draw(label).text((4, 2), obj.name, fill=(0, 0, 0))
        rows.append(np.asarray(label))
    if not rows:
        raise ValueError(f"DATASET: {str(dataset)!r} has no rendered objects to show")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out_png)
    return out_png


def write_html(dataset: str | Path, out_dir: str | Path, objects: int = 50, views: int = 8) -> Path:
    """``index.html`` linking each object's views (relative paths into the dataset) and its meta."""
    dataset, out_dir = Path(dataset).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = ["<!doctype html><meta charset=utf-8><title>lrmzero dataset</title>",
             "<style>body{font-family:sans-serif}img{width:128px;margin:1px;background:#fff}"
             "td{vertical-align:top;padding:4px}</style>",
             f"<h1>{html.escape(str(dataset))}</h1><table>"]
    for obj in list_objects(dataset)[:objects]:
        try:
            meta = json.loads((obj / DONE_MARKER).read_text())
            kinds = ", ".join(str(p["kind"]) for p in meta.get("parts", []))
            augs = ", ".join(str(a["name"]) for a in meta.get("augmentations", []) if a.get("applied"))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):  # a damaged meta.json: no details
            meta, kinds, augs = {}, "?", ""
        rel = Path(*([".."] * len(out_dir.relative_to(out_dir.anchor).parts))) / obj.relative_to(obj.anchor)
        imgs = "".join(f'<img src="{html.escape(quote((rel / p.relative_to(obj)).as_posix()))}">'
                       for p in view_files(obj, views))
        parts.append(f"<tr><td><b>{html.escape(obj.name)}</b><br>{html.escape(kinds)}<br>"
                     f"<i>{html.escape(augs)}</i><br>{html.escape(str(meta.get('num_faces', '?')))} faces"
                     f"</td><td>{imgs}</td></tr>")
    parts.append("</table>")
    page = out_dir / "index.html"
    page.write_text("\n".join(parts))
    return page

"""Checking a dataset (folders or shards) against the format: every object's cameras, views, depth maps and
its place in the manifest, with one line per bad object saying why (``lrmzero validate``, and the
trainer's start-up check)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from lrmzero.cameras import parse_opencv_cameras
from lrmzero.dataset import DONE_MARKER, is_foreign_dataset, read_manifest
from lrmzero.shards import (INDEX, ShardObject, has_object_file, is_shard_dataset, is_url, read_index,
                            read_object_file)


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found: objects and views checked, and each bad object's problem."""

    root: str
    objects: int = 0
    views: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # object id -> the first problem found
    foreign: bool = False  # object folders another tool wrote (no meta.json): lrmzero.dataset.is_foreign_dataset
    failed: list[str] = field(default_factory=list)  # ids the manifest records as failed to generate (no folder)

    @property
    def ok(self) -> bool:
        return self.objects > 0 and not self.problems

    def lines(self, limit: int | None = None) -> list[str]:
        bad = [f"{oid}: {why}" for oid, why in sorted(self.problems.items())]
        shown = bad if limit is None else bad[:limit]
        more = [f"... and {len(bad) - len(shown)} more"] if len(shown) < len(bad) else []
        head = f"{self.root}: {self.objects} objects, {self.views} views checked, {len(bad)} bad"
        if self.foreign:
            head += " (object folders another tool wrote: no meta.json, no depth maps)"
        if self.failed:  # not bad objects (there is nothing on disk to read), but a user counting objects asks
            ids = ", ".join(self.failed[:5]) + (" ..." if len(self.failed) > 5 else "")
            head += f"; {len(self.failed)} failed to generate (manifest.jsonl: {ids})"
        return [head, *shown, *more]


def check_object(obj: Path | ShardObject, decode: bool = True, foreign: bool = False) -> tuple[int, str | None]:
    """(views checked, the first problem or None) of one object (a folder or an object inside a
    shard): complete (``meta.json``), readable finite rigid cameras, every view present, of the
    cameras' size and (``decode``) decodable, depth maps likewise with a finite positive depth scale.
    ``foreign``: a folder of a dataset another tool wrote (:func:`lrmzero.dataset.is_foreign_dataset`),
    which has no ``meta.json`` to require."""
    if isinstance(obj, Path) and not foreign and not (obj / DONE_MARKER).is_file():
        return 0, f"incomplete: no {DONE_MARKER}"
    return _check(lambda rel: read_object_file(obj, rel), lambda rel: has_object_file(obj, rel), decode,
                  meta_required=not foreign)


def _check(read, has, decode: bool, meta_required: bool = True) -> tuple[int, str | None]:
    try:
        cams, paths = parse_opencv_cameras(read("opencv_cameras.json"), "opencv_cameras.json")
        meta = json.loads(read(DONE_MARKER)) if meta_required or has(DONE_MARKER) else {}
    except (OSError, ValueError) as exc:
        return 0, str(exc)
    depth = (meta.get("render") or {}).get("depth") or {}
    scale = depth.get("scale")
    if depth and not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        return 0, f"meta.json: render.depth.scale is {scale!r}; allowed: a finite number > 0"
    for i, file_path in enumerate(paths):
        files = [file_path]
        alpha_file = f"alpha/{Path(file_path).stem}.png"
        if file_path.endswith(".jpg") and (meta_required or has(alpha_file)):
            files.append(alpha_file)  # lrmzero's JPEG views keep their alpha beside them
        depth_file = f"depth/{Path(file_path).stem}.png"
        if depth.get("format") == "png16" and has(depth_file):
            files.append(depth_file)
        for rel in files:
            try:
                data = read(rel)
            except (OSError, ValueError) as exc:
                return i, f"frame {i}: {exc}"
            try:
                with Image.open(io.BytesIO(data)) as im:
                    size = im.size
                    if decode:
                        im.load()
            except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
                return i, f"frame {i}: {rel} cannot be decoded ({' '.join(str(exc).split())})"
            if size != (cams.width, cams.height):
                return i, (f"frame {i}: {rel} is {size[0]}x{size[1]}, the cameras say "
                           f"{cams.width}x{cams.height}")
    return len(paths), None


def check_dataset(root: str | Path, decode: bool = True) -> DatasetReport:
    """Check every object folder of ``root`` (see :func:`check_object`) and the manifest: an object
    recorded as done whose folder is gone is a problem too."""
    report = DatasetReport(str(root))
    if not is_url(root) and not Path(root).is_dir():
        report.problems["(dataset)"] = "not a folder"
        return report
    if is_shard_dataset(root):
        try:
            objects = read_index(root)
        except ValueError as exc:
            report.problems["(dataset)"] = str(exc)
            return report
        for obj in objects:  # packed from a dataset another tool wrote: no meta.json to require
            views, problem = check_object(obj, decode, foreign=not has_object_file(obj, DONE_MARKER))
            report.objects += 1
            report.views += views
            if problem:
                report.problems[obj.object_id] = f"{obj.shard_name}: {problem}"
        if not objects:
            report.problems["(dataset)"] = "its index lists no objects"
        return report
    if is_url(root):
        report.problems["(dataset)"] = f"no {INDEX} there: a URL must hold shards (lrmzero pack)"
        return report
    root = Path(root)
    foreign = report.foreign = is_foreign_dataset(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and ((p / "opencv_cameras.json").exists() or (p / DONE_MARKER).exists()))
    for folder in folders:
        views, problem = check_object(folder, decode, foreign)
        report.objects += 1
        report.views += views
        if problem:
            report.problems[folder.name] = problem
    latest = {r["object_id"]: r.get("status") for r in read_manifest(root)
              if isinstance(r, dict) and isinstance(r.get("object_id"), str)}
    for oid, status in latest.items():
        if status == "done" and not (root / oid).is_dir():
            report.problems[oid] = "listed as done in manifest.jsonl, but its folder is missing"
        elif status == "failed" and not (root / oid).is_dir():
            report.failed.append(oid)
    if not folders:
        report.problems["(dataset)"] = "holds no object folders (opencv_cameras.json and meta.json)"
    return report

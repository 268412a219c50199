"""Checking a dataset (folders or shards) against the format: every object's cameras, views, depth maps and
its place in the manifest, with one line per bad object saying why (``lrmzero validate``, and the
trainer's start-up check)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from lrmzero.cache import cache_folder
from lrmzero.cameras import parse_opencv_cameras
from lrmzero.dataset import DONE_MARKER, is_foreign_dataset, read_manifest, why_no_objects, write_atomic
from lrmzero.threads import map_in_threads
from lrmzero.shards import (INDEX, ShardObject, has_object_file, index_bytes, is_shard_dataset, is_url,
                            read_index, read_object_file)


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found: objects and views checked, and each bad object's problem."""

    root: str
    objects: int = 0
    views: int = 0
    min_views: int | None = None  # the fewest views of an object without a problem (None: no such object)
    problems: dict[str, str] = field(default_factory=dict)  # object id -> the first problem found
    foreign: bool = False  # object folders another tool wrote (no meta.json): lrmzero.dataset.is_foreign_dataset
    failed: list[str] = field(default_factory=list)  # ids the manifest records as failed to generate (no folder)
    # objects without a problem but with fewer views than check_dataset's min_views asked: id -> views
    too_few: dict[str, int] = field(default_factory=dict)

    def add(self, views: int, problem: str | None) -> None:
        """Count one checked object (its problem is filed by the caller, under its name)."""
        self.objects += 1
        self.views += views
        if problem is None:
            self.min_views = views if self.min_views is None else min(self.min_views, views)

    @classmethod
    def merge(cls, parts: list["DatasetReport"]) -> "DatasetReport":
        """One report of a dataset from the reports of its parts (:func:`check_dataset`'s ``part``,
        checked by several processes side by side)."""
        merged = cls(parts[0].root, foreign=parts[0].foreign)
        for part in parts:
            merged.objects += part.objects
            merged.views += part.views
            if part.min_views is not None:
                merged.min_views = part.min_views if merged.min_views is None else min(merged.min_views,
                                                                                       part.min_views)
            merged.problems.update(part.problems)
            merged.failed += [oid for oid in part.failed if oid not in merged.failed]
            merged.too_few.update(part.too_few)
        return merged

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
            except UnidentifiedImageError:  # its message names an in-memory buffer, no use to anyone
                return i, f"frame {i}: {rel} cannot be decoded (not an image format Pillow knows)"
            except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
                return i, f"frame {i}: {rel} cannot be decoded ({' '.join(str(exc).split())})"
            if size != (cams.width, cams.height):
                return i, (f"frame {i}: {rel} is {size[0]}x{size[1]}, the cameras say "
                           f"{cams.width}x{cams.height}")
    return len(paths), None


log = logging.getLogger("lrmzero")

RECORD = "validated.json"  # beside the objects (or the shard index): a clean check, and what it checked


def check_workers() -> int:
    """Threads for checking a dataset: this machine's cores, at most 8 (disk-bound beyond)."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def check_dataset(root: str | Path, decode: bool = True, workers: int = 1, progress: bool = False,
                  part: tuple[int, int] = (0, 1), fingerprint: str | None = None, min_views: int = 0
                  ) -> DatasetReport:
    """Check every object folder of ``root`` (see :func:`check_object`) and the manifest: an object
    recorded as done whose folder is gone is a problem too. ``workers`` threads check objects side by
    side (Pillow decodes without the GIL: 1.6x on 2 cores); ``progress`` shows a bar on stderr (a
    paper-size dataset takes hours). ``part=(k, n)``: only objects k, k + n, k + 2n, ... (in sorted
    order) and, in part 0, the manifest, so that n processes check a dataset side by side and
    :meth:`DatasetReport.merge` their reports into the whole one. ``fingerprint`` (the dataset's,
    taken before): the results are journaled as they come (:class:`CheckJournal`), and a check of the
    same objects that was interrupted goes on where it stopped. ``min_views``: sound objects with fewer
    views are listed in the report's ``too_few`` (what a trainer cannot draw a step from)."""
    k, n = part
    report = DatasetReport(str(root))

    def check_all(objects: list, check: Callable[[Any], tuple[int, str | None]]) -> list:
        header = {"fingerprint": fingerprint, "decode": decode, "part": [k, n]}
        journal = CheckJournal.beside(root, header) if fingerprint is not None else None
        return _check_all(objects, check, workers, progress and f"validate {root}", journal)

    if not is_url(root) and not Path(root).is_dir():
        report.problems["(dataset)"] = "not a folder"
        return report
    if is_shard_dataset(root):
        try:
            objects = read_index(root)[k::n]
        except ValueError as exc:
            report.problems["(dataset)"] = str(exc)
            return report

        def check_packed(obj: ShardObject) -> tuple[int, str | None]:  # another tool's objects: no meta.json
            return check_object(obj, decode, foreign=not has_object_file(obj, DONE_MARKER))

        results = check_all(objects, check_packed)
        for obj, (views, problem) in zip(objects, results):
            report.add(views, problem)
            if problem:
                report.problems[obj.object_id] = f"{obj.shard_name}: {problem}"
            elif views < min_views:
                report.too_few[obj.object_id] = views
        if not objects and k == 0:
            report.problems["(dataset)"] = "its index lists no objects"
        return report
    if is_url(root):
        report.problems["(dataset)"] = f"no {INDEX} there: a URL must hold shards (lrmzero pack)"
        return report
    root = Path(root)
    foreign = report.foreign = is_foreign_dataset(root)
    folders = [folder for folder, _ in _object_folders(root)][k::n]
    results = check_all(folders, lambda f: check_object(f, decode, foreign))
    for folder, (views, problem) in zip(folders, results):
        report.add(views, problem)
        if problem:
            report.problems[folder.name] = problem
        elif views < min_views:
            report.too_few[folder.name] = views
    if k > 0:
        return report  # the manifest is part 0's
    latest = {r["object_id"]: r.get("status") for r in read_manifest(root)
              if isinstance(r, dict) and isinstance(r.get("object_id"), str)}
    for oid, status in latest.items():
        if status == "done" and not (root / oid).is_dir():
            report.problems[oid] = "listed as done in manifest.jsonl, but its folder is missing"
        elif status == "failed" and not (root / oid).is_dir():
            report.failed.append(oid)
    if not folders:
        report.problems["(dataset)"] = why_no_objects(root)
    return report


def _check_all(objects: list, check: Callable[[Any], tuple[int, str | None]], workers: int,
               progress: str | bool = False, journal: "CheckJournal | None" = None) -> list:
    """``check`` of every object, in order; ``progress``: a bar with this title; ``journal``: the
    results so far are taken from it, and each chunk's are appended to it (removed at the end)."""
    results = journal.results() if journal is not None else []
    if results:
        log.warning("%s: going on with an interrupted check: %d of %d objects were checked before",
                    journal.header.get("root"), len(results), len(objects))
    with tqdm(total=len(objects), initial=len(results), desc=progress or None, unit="obj", disable=not progress,
              dynamic_ncols=True) as bar:
        for start in range(len(results), len(objects), CHUNK):
            chunk = list(map_in_threads(check, objects[start:start + CHUNK], workers, bar))
            results += chunk
            if journal is not None:
                journal.append(start, chunk)
    if journal is not None:
        journal.remove()
    return results


CHUNK = 1024  # objects checked between two journal entries


class CheckJournal:
    """The results of a check so far, one JSON line per chunk of objects (its first object's place
    and the results) after a header line (the dataset's fingerprint, the check's level and part), so
    that a check interrupted after hours goes on where it stopped: appended, never rewritten; read
    back only as far as the chunks follow one another from the first object (a torn last line, or
    two checks of the same objects writing at once: their chunks repeat or leave gaps). Kept beside
    the record (:func:`record_paths`, a hidden file there), or nowhere where nothing is writable."""

    def __init__(self, path: Path, header: dict) -> None:
        self.path, self.header = path, header

    @classmethod
    def beside(cls, root: str | Path, header: dict) -> "CheckJournal | None":
        k, n = header["part"]
        name = ".validate-journal.jsonl" if n == 1 else f".validate-journal-{k}-of-{n}.jsonl"
        header = {**header, "root": str(root)}
        for record in record_paths(root):
            journal = cls(record.parent / (name if record.name == RECORD else f"{record.stem}{name}"), header)
            if journal._continues() or journal._start():
                return journal
        return None

    def _continues(self) -> bool:
        """Whether the file journals this very check (same header: its first line)."""
        try:
            with open(self.path) as f:
                return f.readline().rstrip("\n") == json.dumps(self.header)
        except (OSError, UnicodeDecodeError):
            return False

    def results(self) -> list[tuple[int, str | None]]:
        """The results journaled for this very check (same header), in order; [] for none."""
        try:
            lines = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        if not lines or lines[0] != json.dumps(self.header):
            return []
        results: list[tuple[int, str | None]] = []
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                start, chunk = int(entry["start"]), [(int(views), problem) for views, problem in entry["results"]]
            except (ValueError, TypeError, KeyError):
                break  # torn by the interruption: checked again
            if start == len(results):
                results += chunk
            elif start > len(results):
                break  # a gap: another check of the same objects started the journal again meanwhile
        return results

    def _start(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.header) + "\n")
        except OSError:
            return False
        return True

    def append(self, start: int, chunk: list[tuple[int, str | None]]) -> None:
        """Journal the results of objects ``start, start + 1, ...``."""
        with open(self.path, "a") as f:
            f.write(json.dumps({"start": start, "results": [list(result) for result in chunk]}) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _object_folders(root: Path) -> list[tuple[Path, os.stat_result]]:
    """The object folders of a folder dataset, sorted, each with the stat of the file that marks it
    (``meta.json``, else ``opencv_cameras.json`` for another tool's objects)."""
    found = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        for marker in (DONE_MARKER, "opencv_cameras.json"):
            try:
                found.append((Path(entry.path), os.stat(os.path.join(entry.path, marker))))
                break
            except OSError:
                continue
    return found


def dataset_fingerprint(root: str | Path) -> str | None:
    """A digest that changes when a dataset's objects do, cheap next to checking them: shards (a
    folder or a URL), the index's bytes and each shard's size (one listing); folders, each object
    folder's name and its marker file's size and modification time (an object written again gets a
    new ``meta.json``), and the manifest's size. None where there is no dataset to describe."""
    digest = hashlib.sha256()
    if is_url(root) or is_shard_dataset(root):
        try:
            index = index_bytes(root)
            digest.update(index)
            for name, size in shard_sizes(root, [shard["file"] for shard in json.loads(index)["shards"]]):
                digest.update(f"{name}\0{size}\n".encode())
        except Exception:  # noqa: BLE001 - any filesystem's error (missing, no credentials), a torn index
            return None
        return "index:" + digest.hexdigest()
    root = Path(root)
    if not root.is_dir():
        return None
    for folder, st in _object_folders(root):
        digest.update(f"{folder.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    manifest = root / "manifest.jsonl"
    digest.update(str(manifest.stat().st_size if manifest.is_file() else -1).encode())
    return "folders:" + digest.hexdigest()


def shard_sizes(root: str | Path, names: list[str]) -> list[tuple[str, int | None]]:
    """(name, size in bytes or None where missing) of the shard files ``names`` of a shard dataset (a
    folder: a stat each; a URL: one listing)."""
    if not is_url(root):
        return [(n, (Path(root) / n).stat().st_size if (Path(root) / n).is_file() else None) for n in names]
    import fsspec

    fs, path = fsspec.core.url_to_fs(str(root))
    listed = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry.get("size") for entry in fs.ls(path, detail=True)}
    return [(n, listed.get(n)) for n in names]


def record_paths(root: str | Path) -> list[Path]:
    """Where a clean check of ``root`` is recorded, in the order tried: beside its objects, then (for
    a dataset on a read-only mount or behind a URL) this user's cache (``$LRMZERO_CACHE``, else
    ``~/.cache/lrmzero``), under a name made from the dataset's absolute path or URL."""
    where = str(root) if is_url(root) else str(Path(root).resolve())
    cache = cache_folder("validated")
    beside = [] if is_url(root) else [Path(root) / RECORD]
    return beside + [cache / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.json"]


def matching_record(root: str | Path, decode: bool, fingerprint: str | None) -> dict | None:
    """The clean-check record of ``root`` (see :func:`record_paths`) if it still describes it (same
    fingerprint) and checked at least as much (decoded views where ``decode`` asks for it); else None."""
    if fingerprint is None:
        return None
    for path in record_paths(root):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("fingerprint") == fingerprint and (record.get("decode")
                                                                                      or not decode):
            return record
    return None


def write_record(root: str | Path, report: DatasetReport, decode: bool, fingerprint: str | None) -> Path | None:
    """Record a clean check of ``root`` (``fingerprint`` taken before it), so that the trainer's
    start-up check and the next ``validate`` can trust it while the dataset stays the same: beside
    the objects, else in the user's cache (:func:`record_paths`). Returns where, or None where nothing
    was written (a problem found, nothing writable)."""
    if not report.ok or fingerprint is None:
        return None
    if not decode:  # a decoding check of the same objects stands: a headers-only one adds nothing
        stronger = matching_record(root, True, fingerprint)
        if stronger is not None:
            return None
    record = {"fingerprint": fingerprint, "decode": decode, "objects": report.objects, "views": report.views,
              "min_views": report.min_views, "failed": len(report.failed), "dataset": str(root),
              "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for path in record_paths(root):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())
        except OSError:
            continue
        return path
    return None


def check_and_record(root: str | Path, decode: bool = True, workers: int = 1, progress: bool = False,
                     record: bool = True, fingerprint: str | None = None) -> tuple[DatasetReport, Path | None]:
    """:func:`check_dataset`, and where it is clean and ``record`` holds, :func:`write_record` of it:
    the report, and where the record went (None: not written). ``fingerprint``: the dataset's, when
    the caller took it already; it is taken before the check otherwise, so that a change during the
    check shows next time."""
    if fingerprint is None:
        fingerprint = dataset_fingerprint(root)
    report = check_dataset(root, decode=decode, workers=workers, progress=progress, fingerprint=fingerprint)
    return report, write_record(root, report, decode, fingerprint) if record else None

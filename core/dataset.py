"""Dataset folders on disk: atomic per-object writes, the manifest, and the run's identity."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from lrmzero.errors import ConfigError

MANIFEST = "manifest.jsonl"
RUN_FILE = "run.json"
DONE_MARKER = "meta.json"  # written last inside the temp folder; a folder with it is complete
TMP_PREFIX = ".tmp-"


_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_object_id(object_id: str) -> str:
    """``object_id`` if it is a safe folder name: letters, digits, ``.``, ``_``, ``-``; starting with
    a letter or digit (never ``.``, ``..``, a hidden name or a path with separators).

    Raises:
        ValueError: naming the id and what is allowed.
    """
    if not isinstance(object_id, str) or not _SAFE_ID.fullmatch(object_id):
        raise ValueError(
            f"object id {object_id!r} is not a safe folder name; allowed: 1-200 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit"
        )
    return object_id


def safe_object_id(name: str, fallback: str) -> str:
    """A safe object id made from ``name`` (e.g. a mesh file's stem): other characters become
    ``_`` and leading dots, underscores and dashes are dropped; ``fallback`` if nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-")[:200]
    return cleaned if cleaned else fallback


class DatasetWriter:
    """Writes ``<root>/<object_id>/`` folders atomically and appends to ``<root>/manifest.jsonl``.

    An object's files are written into ``<root>/.tmp-<object_id>-XXXX/`` and renamed into place in
    one step, so a crash never leaves a half object that looks finished. Re-running skips finished
    objects; a finished object missing from the manifest (crash between rename and append) is added.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def prepare(self, identity: dict[str, Any], config_yaml: str) -> None:
        """Create the folder, or check that it holds the same run (seed and config hash)."""
        check_output_folder(self.root, "--out")
        self.root.mkdir(parents=True, exist_ok=True)
        run_file = self.root / RUN_FILE
        if run_file.exists():
            try:
                existing = json.loads(run_file.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"--out: {str(run_file)!r} cannot be read ({exc}); use another --out "
                                  "or delete that file") from None
            for key, value in identity.items():
                if existing.get(key) != value:
                    raise ConfigError(
                        f"--out: {str(self.root)!r} holds a run with {key}={existing.get(key)!r}, "
                        f"this one has {key}={value!r}; use another --out or the same settings"
                    )
        else:
            write_atomic(run_file, json.dumps(identity, indent=2, sort_keys=True).encode())
            write_atomic(self.root / "config.yaml", config_yaml.encode())

    def object_dir(self, object_id: str) -> Path:
        return self.root / check_object_id(object_id)

    def is_done(self, object_id: str) -> bool:
        return (self.root / object_id / DONE_MARKER).is_file()

    def clean_stale(self, object_ids: set[str]) -> int:
        """Remove temp folders left by an interrupted run for these objects; returns how many."""
        removed = 0
        for path in self.root.glob(TMP_PREFIX + "*"):
            oid = path.name[len(TMP_PREFIX) :].rsplit("-", 1)[0]
            if oid in object_ids:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    def write_object(self, object_id: str, files: dict[str, bytes], meta: dict[str, Any]) -> Path:
        """Write ``files`` (relative path -> bytes) and ``meta.json`` as one atomic folder.

        Only ``<root>/<object_id>`` is ever replaced: ids must pass :func:`check_object_id` and
        file paths must stay inside the object's folder.
        """
        final = self.object_dir(object_id)
        for rel in files:
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"object {object_id}: file path {rel!r} leaves the object folder")
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{object_id}-", dir=self.root))
        try:
            for rel, data in files.items():
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            (tmp / DONE_MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True))
            if final.is_dir() and not final.is_symlink():  # unfinished folder of an older layout
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def manifest_ids(self) -> set[str]:
        return {r["object_id"] for r in read_manifest(self.root) if r.get("status") == "done"}

    def append_manifest(self, record: dict[str, Any]) -> None:
        """Append one JSON line in one ``write`` (O_APPEND: concurrent runs do not interleave).

        A line torn by a crash or a full disk stays torn (readers skip it) and never swallows this
        record: when the file does not end with a newline, the record starts on a new line.
        """
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.root / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            if end > 0:
                with open(self.root / MANIFEST, "rb") as f:
                    f.seek(end - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write (disk full?)", str(self.root / MANIFEST))
        finally:
            os.close(fd)


def finished_objects(root: str | Path) -> list[Path]:
    """The complete object folders of a folder dataset (``meta.json``, written last, present), by id."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and (p / DONE_MARKER).is_file())


def is_foreign_dataset(root: str | Path) -> bool:
    """Whether the folder ``root`` holds a dataset in the Zeroverse layout that another tool wrote (the
    official ``zeroverse_rgba.py``, GS-LRM-style renders): object folders with an ``opencv_cameras.json``
    and their views, but none of lrmzero's ``run.json``, ``manifest.jsonl`` or objects with ``meta.json``.
    In lrmzero's own datasets a folder without ``meta.json`` is unfinished; in a foreign one every folder
    counts."""
    root = Path(root)
    if (root / MANIFEST).exists() or (root / RUN_FILE).exists():
        return False
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return not any((p / DONE_MARKER).is_file() for p in folders) and any(
        (p / "opencv_cameras.json").is_file() for p in folders)


def why_no_objects(root: str | Path) -> str:
    """Why a dataset given as ``root`` has no objects, in words for an error message: one object's own
    folder, a training run's folder, a folder without object folders, or (not a local folder: shards
    at a URL, a data source) none rendered."""
    if "://" in str(root) or not Path(root).is_dir():
        return "holds no rendered objects"
    root = Path(root)
    if (root / "opencv_cameras.json").is_file():
        return (f"is one object's folder (its own opencv_cameras.json); allowed: the dataset that holds it, "
                f"{str(root.parent)!r}")
    if (root / "checkpoints").is_dir():
        return "is a training run's folder (checkpoints/); allowed: a dataset folder"
    return "holds no object folders (each with opencv_cameras.json, and meta.json in lrmzero's datasets)"


def object_folders(root: str | Path) -> list[Path]:
    """The object folders of a folder dataset, by name: :func:`finished_objects` for lrmzero's own, every
    folder with an ``opencv_cameras.json`` for a foreign one (:func:`is_foreign_dataset`)."""
    if not is_foreign_dataset(root):
        return finished_objects(root)
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "opencv_cameras.json").is_file())


def view_path(folder: Path, file_path: str) -> Path:
    """``folder / file_path``, refused when ``file_path`` is absolute or leads outside ``folder``
    (a crafted ``opencv_cameras.json`` must not make a reader open other files).

    Raises:
        ValueError: naming the path.
    """
    rel = Path(file_path)
    path = folder / rel
    if rel.is_absolute() or ".." in rel.parts or not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"file_path {file_path!r} leads outside the object folder {str(folder)!r}")
    return path


def read_manifest(root: str | Path) -> list[dict[str, Any]]:
    """Records of ``manifest.jsonl`` (a torn last line from a crash is ignored)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def write_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function that writes to the open file) to ``path`` through a temp
    file in the same folder (so the rename is atomic on the path's own filesystem), flushed to disk
    first; the temp file never outlives a failure, and the old file stays intact until the rename."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(folder: str | Path, names: str = "*") -> int:
    """Remove the temp files that :func:`write_atomic` left in ``folder`` for the files matching the
    glob ``names`` when a kill cut a write short (each as big as what it was writing); returns how
    many. Call where no write of those files runs."""
    stale = list(Path(folder).glob(f"{TMP_PREFIX}{names}-*")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def check_output_folder(path: str | Path, option: str) -> None:
    """Refuse an output folder that is a file, or that cannot be created or written.

    Raises:
        ConfigError: naming ``option``, the path and what is wrong.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option}: {str(path)!r} is a file; allowed: a folder (created if missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option}: {str(existing)!r} is a file, so {str(path)!r} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: {str(existing)!r} is not writable; allowed: a folder you can write")


def check_output_file(path: str | Path, option: str) -> None:
    """Refuse an output file path that is a folder or whose folder cannot be created or written,
    before the work whose result it would hold.

    Raises:
        ConfigError: naming ``option``, the path and what is wrong.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option}: {str(path)!r} is a folder; allowed: a file path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option}: {str(path)!r} is not writable")
    check_output_folder(path.parent, option)


def check_positive(value: int | None, option: str) -> None:
    """Refuse a count option below 1 (None means "not given")."""
    if value is not None and value < 1:
        raise ConfigError(f"{option}: got {value}; allowed: an integer >= 1")

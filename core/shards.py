"""Datasets as webdataset-layout tar shards: ``pack`` a folder dataset, and read objects back by
random access through the shards' index.

Layout: ``shard-000000.tar``, ``shard-000001.tar``, ... and ``index.json``. In a shard, object
``ID``'s files are members ``ID.<field>`` where the field is its path in the object folder with
``/`` as ``.`` (``ID.cameras.json`` for ``opencv_cameras.json``, ``ID.meta.json``,
``ID.rgba.000.png``, ``ID.depth.000.png``, ...): webdataset's rule (key = name up to the first dot)
groups them into one sample, so plain ``webdataset`` code reads a shard with no lrmzero code. The
bytes are the folder's files, unchanged. ``index.json`` lists each shard's objects and
``index.npy`` (memory-mapped) each member's offset and size, so a loader reads one object without
scanning a shard.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from tqdm import tqdm

from lrmzero.dataset import object_folders, remove_stale_temp_files, view_path, write_atomic
from lrmzero.images import convert_8bit
from lrmzero.threads import map_in_threads

INDEX = "index.json"
TABLE = "index.npy"  # the member table of an index in FORMAT
FORMAT = "lrmzero-shards-2"
CAMERAS_FIELD = "cameras.json"


def member_field(relative_path: str) -> str:
    """An object file's field name in a shard: ``opencv_cameras.json`` -> ``cameras.json``,
    ``rgba/000.png`` -> ``rgba.000.png``."""
    return CAMERAS_FIELD if relative_path == "opencv_cameras.json" else relative_path.replace("/", ".")


def is_url(root: str | Path) -> bool:
    """``scheme://...`` (an fsspec URL: s3://, gs://, https://, memory://, ...), not a local path."""
    return "://" in str(root)


def _open(location: str | Path):
    """A local file, or an fsspec URL (read through fsspec, installed with Lightning)."""
    if not is_url(location):
        return open(location, "rb")
    import fsspec

    return fsspec.open(str(location), "rb").open()


def _join(root: str | Path, name: str) -> str | Path:
    return f"{str(root).rstrip('/')}/{name}" if is_url(root) else Path(root) / name


class TableMembers(Mapping):
    """An object's members as a read-only mapping ``field -> [offset, size]`` over its row of the
    dataset's member table (``[objects, fields, 2]`` int64, -1 where the object lacks a field).

    Written by hand: this is the one per-object structure of an 800K-object dataset, so it holds
    two references and an int (the table is memory-mapped and shared), where a dict of 99 fields
    took 17.6 KiB (14 GB per process, in every DDP rank and loader worker)."""

    __slots__ = ("_columns", "_table", "_row")

    def __init__(self, columns: dict[str, int], table: np.ndarray, row: int) -> None:
        self._columns, self._table, self._row = columns, table, row

    def __getitem__(self, field: str) -> list[int]:
        column = self._columns.get(field)
        if column is None or self._table[self._row, column, 0] < 0:
            raise KeyError(field)
        return [int(v) for v in self._table[self._row, column]]

    def __contains__(self, field: object) -> bool:
        column = self._columns.get(field)  # type: ignore[arg-type]
        return column is not None and self._table[self._row, column, 0] >= 0

    def __iter__(self) -> Iterator[str]:
        present = self._table[self._row, :, 0] >= 0
        return (field for field, column in self._columns.items() if present[column])

    def __len__(self) -> int:
        return int((self._table[self._row, :, 0] >= 0).sum())


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (its members are a mapping)
class ShardObject:
    """One object inside a shard (a local file or an fsspec URL): ``read(field)`` returns a
    member's bytes (one seek, one read)."""

    shard: str | Path
    object_id: str
    members: Mapping  # field -> [offset, size]: a dict, or a TableMembers row of the dataset's table

    @property
    def name(self) -> str:  # the object id, as a folder's name is
        return self.object_id

    @property
    def shard_name(self) -> str:
        return str(self.shard).rstrip("/").rsplit("/", 1)[-1]

    def read(self, field: str) -> bytes:
        if field not in self.members:
            raise ValueError(f"{self.shard_name}: object {self.object_id} has no member {self.object_id}.{field}")
        offset, size = self.members[field]
        with _open(self.shard) as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise ValueError(f"{self.shard_name}: member {self.object_id}.{field} is cut short "
                             f"({len(data)} of {size} bytes): the shard is truncated")
        return data


def read_object_file(obj: Any, rel: str) -> bytes:
    """A file of an object by its path in the object folder (``rgba/000.png``): from the folder
    ``obj`` (never outside it), from a :class:`ShardObject`'s member, or from a data source's
    handle (``obj.read(rel)``, see :class:`lrmzero.components.DataSource`).

    Raises:
        FileNotFoundError: a missing file or member. ValueError: a path leading outside the
            folder, a truncated shard.
    """
    if isinstance(obj, ShardObject):
        field = member_field(rel)
        if field not in obj.members:
            raise FileNotFoundError(f"missing view {rel} ({obj.shard_name} has no member {obj.object_id}.{field})")
        return obj.read(field)
    if not isinstance(obj, Path):
        return obj.read(rel)
    path = view_path(obj, rel)
    if not path.is_file():
        raise FileNotFoundError(f"missing view {rel}")
    return path.read_bytes()


def has_object_file(obj: Path | ShardObject, rel: str) -> bool:
    """Whether a folder or shard object holds the file ``rel``."""
    return member_field(rel) in obj.members if isinstance(obj, ShardObject) else (obj / rel).is_file()


def is_shard_dataset(root: str | Path) -> bool:
    if not is_url(root):
        return (Path(root) / INDEX).is_file()
    import fsspec

    fs, path = fsspec.core.url_to_fs(str(root))
    return fs.isfile(f"{path.rstrip('/')}/{INDEX}")


def index_bytes(root: str | Path) -> bytes:
    """The raw ``index.json`` of a shard dataset (a folder or an fsspec URL).

    Raises:
        OSError: it cannot be read.
    """
    with _open(_join(root, INDEX)) as f:
        return f.read()


def read_index(root: str | Path) -> list[ShardObject]:
    """Every object of a shard dataset (a folder or an fsspec URL), in index order.

    Raises:
        ValueError: an unreadable index, or a shard it lists that is missing.
    """
    index_path = _join(root, INDEX)
    try:
        index = json.loads(index_bytes(root))
        shards = index["shards"]
        if index.get("format") == FORMAT:
            columns = {field: i for i, field in enumerate(index["members"])}
            if Path(index["table"]).name != index["table"]:  # beside the index, never elsewhere
                raise ValueError(f"table {index['table']!r} is not a file name")
            table = _load_table(_join(root, index["table"]))
            if table.shape[1:] != (len(columns), 2) or any(shard["rows"][1] > len(table) for shard in shards):
                raise ValueError(f"{index['table']} does not match the index (shape {table.shape})")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{index_path}: not a readable shard index ({exc})") from None
    objects = []
    for shard in shards:
        path = _join(root, shard["file"])
        if not is_url(path) and not Path(path).is_file():
            raise ValueError(f"{index_path} lists {shard['file']}, which is missing")
        if index.get("format") == FORMAT:
            start = shard["rows"][0]
            objects += [ShardObject(path, oid, TableMembers(columns, table, start + i))
                        for i, oid in enumerate(shard["objects"])]
        else:  # lrmzero-shards-1: every object's members inline
            objects += [ShardObject(path, oid, members) for oid, members in shard["objects"].items()]
    return objects


def _load_table(location: str | Path) -> np.ndarray:
    """The member table: memory-mapped where it is a local file (one copy in the page cache for
    every process of the machine), read whole from a URL."""
    if not is_url(location):
        return np.load(location, mmap_mode="r", allow_pickle=False)
    with _open(location) as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


def jpeg_views(files: dict[str, bytes], quality: int) -> dict[str, bytes]:
    """An object's files with each PNG view its cameras name (``rgba/N.png``; another tool's layout:
    ``renderings/N_rgba.png``) as an RGB JPEG beside it (``rgba/N.jpg``) plus its alpha as an 8-bit PNG
    ``alpha/N.png`` (JPEG has no alpha), and ``opencv_cameras.json`` pointing at the JPEGs. Readers take
    the alpha of ``X/N.jpg`` from ``alpha/N.png``."""
    from PIL import Image

    cameras = json.loads(files["opencv_cameras.json"])
    views = {frame["file_path"] for frame in cameras["frames"] if str(frame.get("file_path", "")).endswith(".png")}
    out = {}
    renamed = {}
    for rel, data in files.items():
        if rel in views:
            with Image.open(io.BytesIO(data)) as im:
                rgba = convert_8bit(im, "RGBA")
            stem = rel[:-len(".png")]
            rgb, alpha = io.BytesIO(), io.BytesIO()
            rgba.convert("RGB").save(rgb, format="JPEG", quality=quality, subsampling=0)  # 4:4:4: no colour bleeding
            rgba.getchannel("A").save(alpha, format="PNG", compress_level=1)
            out[f"{stem}.jpg"], out[f"alpha/{Path(stem).name}.png"] = rgb.getvalue(), alpha.getvalue()
            renamed[rel] = f"{stem}.jpg"
        else:
            out[rel] = data
    for frame in cameras["frames"]:
        frame["file_path"] = renamed.get(frame["file_path"], frame["file_path"])
    out["opencv_cameras.json"] = json.dumps(cameras).encode()
    return out


def write_shard(out: Path, number: int, folders: list[Path], image_format: str = "png",
                jpeg_quality: int = 95) -> dict:
    """Write ``folders`` (finished object folders) as ``out/shard-NNNNNN.tar`` with its index entry
    ``shard-NNNNNN.json`` (every member's offset and size) beside it, each atomically; returns the
    entry without the members (``file``, ``images``, ``objects``: the ids), as :func:`shard_entries`."""
    name = f"shard-{number:06d}"
    remove_stale_temp_files(out, f"{name}.*")  # a killed earlier write of this shard: gigabytes
    objects: dict[str, dict] = {}

    def write_tar(f) -> None:  # straight into the temp file: a shard of 512 px views is gigabytes
        objects.clear()
        with tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for folder in folders:
                members = objects[folder.name] = {}
                files = {p.relative_to(folder).as_posix(): p.read_bytes()
                         for p in sorted(folder.rglob("*")) if p.is_file()}
                if image_format == "jpeg":
                    files = jpeg_views(files, jpeg_quality)
                for rel, data in sorted(files.items()):
                    field = member_field(rel)
                    info = tarfile.TarInfo(f"{folder.name}.{field}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644  # same bytes on every run
                    data_offset = tar.offset + len(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
                    tar.addfile(info, io.BytesIO(data))
                    members[field] = [data_offset, len(data)]

    write_atomic(out / f"{name}.tar", write_tar)
    entry = {"file": f"{name}.tar", "objects": objects, "images": image_format}
    write_atomic(out / f"{name}.json", json.dumps(entry).encode())
    return {**entry, "objects": list(objects)}  # the members stay on disk (see write_index)


def shard_entries(out: Path) -> dict[int, dict]:
    """The shards written into ``out`` so far, by shard number: each entry's ``file``, ``images`` and
    ``objects`` (the ids, in order; their members stay in ``shard-NNNNNN.json``, read one shard at a
    time by :func:`write_index`, so 800K objects' members are never all in memory)."""
    entries = {}
    for path in sorted(out.glob("shard-*.json")):
        if (out / f"{path.stem}.tar").is_file():
            entry = json.loads(path.read_text())
            entries[int(path.stem.split("-")[1])] = {**entry, "objects": list(entry["objects"])}
    return entries


def write_index(out: Path, entries: dict[int, dict]) -> None:
    """``index.json`` (format ``lrmzero-shards-2``: per shard its file, image format, object ids and
    their rows of the table; the member names once) and ``index.npy``, the member table
    ``[objects, members, 2]`` int64 of (offset, size), -1 where an object lacks a member, from the
    shards' own ``shard-NNNNNN.json`` (read one at a time). The table is written first, so a reader
    that finds the index finds its table. (Format 1 listed every member of every object in the
    JSON: 2.9 GB for 800K objects.)"""
    parts = []  # per shard: its fields and its [objects, fields, 2] part of the table
    for number in sorted(entries):
        objects = json.loads((out / Path(entries[number]["file"]).with_suffix(".json")).read_text())["objects"]
        fields = sorted({field for members in objects.values() for field in members})
        column = {field: i for i, field in enumerate(fields)}
        part = np.full((len(objects), len(fields), 2), -1, np.int64)
        for i, members in enumerate(objects.values()):
            for field, (offset, size) in members.items():
                part[i, column[field]] = (offset, size)
        parts.append((fields, part))
    names = sorted({field for fields, _ in parts for field in fields})
    columns = {field: i for i, field in enumerate(names)}
    table = np.full((sum(len(part) for _, part in parts), len(names), 2), -1, np.int64)
    shards, row = [], 0
    for number, (fields, part) in zip(sorted(entries), parts):
        table[row:row + len(part), [columns[field] for field in fields]] = part
        entry = entries[number]
        shards.append({"file": entry["file"], "images": entry.get("images", "png"), "objects": list(entry["objects"]),
                       "rows": [row, row + len(part)]})
        row += len(part)
    write_atomic(out / TABLE, lambda f: np.save(f, table, allow_pickle=False))
    write_atomic(out / INDEX, json.dumps({"format": FORMAT, "members": names, "table": TABLE,
                                          "shards": shards}).encode())


def pack_dataset(source: str | Path, out: str | Path, objects_per_shard: int = 256, image_format: str = "png",
                 jpeg_quality: int = 95, workers: int = 1, progress: bool = False) -> tuple[int, int]:
    """Write the finished objects of folder dataset ``source`` (every object folder of one another tool
    wrote, see :func:`lrmzero.dataset.object_folders`) as shards into ``out``; returns
    (shards written, shards already there). Object i (by sorted id) goes to shard i // objects_per_shard.
    ``image_format="jpeg"``: views as JPEG with their alpha beside them (:func:`jpeg_views`).

    Each shard is written to a temporary file and renamed into place with its index entry beside it
    (``shard-NNNNNN.json``), so a crash leaves finished shards intact and re-running resumes;
    ``index.json`` is written last from the entries. ``workers`` threads write shards side by side
    (Pillow encodes and zlib compresses without the GIL); ``progress``: a bar over the shards.
    """
    source, out = Path(source), Path(out)
    folders = object_folders(source)
    if not folders:
        raise ValueError(f"{str(source)!r} holds no finished objects")
    out.mkdir(parents=True, exist_ok=True)
    existing = shard_entries(out)
    entries, todo = {}, {}
    for number, start in enumerate(range(0, len(folders), objects_per_shard)):
        group = folders[start:start + objects_per_shard]
        old = existing.get(number)
        if old is not None and old.get("images", "png") == image_format and \
                list(old["objects"]) == [f.name for f in group]:
            entries[number] = old
        else:
            todo[number] = group
    kept = len(entries)
    def write(number: int) -> tuple[int, dict]:
        return number, write_shard(out, number, todo[number], image_format, jpeg_quality)

    with tqdm(total=len(entries) + len(todo), initial=kept, desc=f"pack {out.name}", unit="shard",
              disable=not progress, dynamic_ncols=True) as bar:
        for number, entry in map_in_threads(write, list(todo), workers, bar):
            entries[number] = entry
    written = len(todo)
    write_index(out, entries)
    for stale in out.glob("shard-*.tar"):  # shards of an earlier, larger packing
        if int(stale.stem.split("-")[1]) not in entries:
            os.remove(stale)
            (out / f"{stale.stem}.json").unlink(missing_ok=True)
    return written, kept

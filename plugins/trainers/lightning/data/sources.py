"""Where training objects come from: dataset folders and shards (``--data``, glob patterns of folders),
data sources (``--data NAME:key=value,...``), several roots mixed by weight, and their view counts."""

from __future__ import annotations

import glob
import json
import logging
import re
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from lrmzero.dataset import DONE_MARKER, object_folders, why_no_objects
from lrmzero.errors import ConfigError
from lrmzero.shards import ShardObject, is_shard_dataset, is_url, read_index, read_object_file

log = logging.getLogger("lrmzero")


def find_objects(root: str | Path) -> list[Path | ShardObject]:
    """The objects of a dataset: its finished object folders (sorted), or, for a packed dataset
    (``index.json``), its objects inside the shards in index order. Either kind is read through
    :func:`read_object_file`."""
    source = data_source(root)
    if source is not None:
        return list(source.objects())
    if not is_url(root) and not Path(root).is_dir():
        raise ConfigError(f"--data: {str(root)!r} is not a folder")
    try:  # shards, in a folder or behind an fsspec URL (s3://, gs://, https://, ...)
        if is_shard_dataset(root):
            return read_index(root)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigError(f"--data: {root}: {exc}") from None
    if is_url(root):
        raise ConfigError(f"--data: {root} holds no index.json; allowed at a URL: shards (lrmzero pack)")
    objects = [p for p in object_folders(root) if (p / "opencv_cameras.json").is_file()]
    if objects and not (objects[0] / DONE_MARKER).is_file():  # object_folders' lrmzero folders all have one
        log.warning("--data %s: no meta.json in its %d object folders: read as the Zeroverse layout another tool "
                    "wrote; views are straight RGBA, except beside the official zeroverse_rgba.py's minmax.txt "
                    "(RGB composited over white, as that script writes it); no depth maps", root, len(objects))
    return objects


def data_source_name(spec: str | Path) -> str | None:
    """The registered data source ``--data NAME:key=value,...`` names, or None when ``spec`` is a
    path or a URL (cheap: nothing is built)."""
    text = str(spec)
    name, sep, _ = text.partition(":")
    if not sep or Path(text).exists():
        return None
    from lrmzero.plugin_manager import get_registries

    return name if name in get_registries().kind("data_sources") else None


def expand_data_roots(roots: Sequence[str | Path]) -> list[str]:
    """``--data`` values with each local glob pattern (``data/zv-*``: the folders 16 machines wrote
    with ``--shard k/16``) replaced by the folders it matches, sorted; paths that exist, URLs and data
    sources as they are.

    Raises:
        ConfigError: a pattern that matches no folder.
    """
    expanded = []
    for root in map(str, roots):
        if Path(root).exists() or is_url(root) or data_source_name(root) is not None \
                or not any(c in root for c in "*?["):
            expanded.append(root)
            continue
        folders = sorted(p for p in glob.glob(root) if Path(p).is_dir())
        if not folders:
            raise ConfigError(f"--data: {root!r} matches no folder; allowed: a dataset folder, a pattern of "
                              "dataset folders (data/zv-*), shards (a folder or URL) or a data source NAME:...")
        expanded += folders
    return expanded


def data_source(spec: str | Path):
    """The data source component ``--data NAME:key=value,...`` names (e.g. ``procedural:objects=1000,
    seed=0,config=demo``), built and validated; None when ``spec`` is a path."""
    name = data_source_name(spec)
    if name is None:
        return None  # not a data source: treated as a path (and refused as one if missing)
    from lrmzero.plugin_manager import get_registries

    return get_registries().kind("data_sources").build(name, spec_options(str(spec)), f"--data {name}")


def spec_options(spec: str, option: str = "--data") -> dict:
    """The options of a component spec ``NAME:key=value,...`` (``--data procedural:objects=1000``,
    ``--cameras orbit:elevations_deg=[20,-10],radius=2.2``) as a dict; commas inside brackets belong
    to a list value.

    Raises:
        ConfigError: naming ``option``, the component and the option that is not ``key=value``."""
    from omegaconf import OmegaConf

    from lrmzero.config import parse_overrides

    name, _, params = spec.partition(":")
    options = [p for p in re.split(r",(?![^\[]*\])", params) if p]
    layer = parse_overrides(options, f"{name}:key=value,key=value", f"{option} {name}:") if options else None
    return OmegaConf.to_container(layer) if layer is not None else {}


def view_count(obj: Path | ShardObject) -> int | None:
    """Frames in the object's ``opencv_cameras.json``, or None if it cannot be read (a data
    source's handle says how many it will have, without making the object)."""
    if not isinstance(obj, (Path, ShardObject)):
        return obj.views
    try:
        frames = json.loads(read_object_file(obj, "opencv_cameras.json")).get("frames")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return len(frames) if isinstance(frames, list) else None


def objects_with_views(objects: Sequence[Path], needed: int, where: str, option: str) -> list[Path]:
    """The objects that have at least ``needed`` views; a warning counts those left out.

    Raises:
        ConfigError: when no object has enough views (naming ``where`` and the counts found), so a
            run never starts on data it cannot use.
    """
    counts = [view_count(o) for o in objects]
    usable = [o for o, n in zip(objects, counts) if n is not None and n >= needed]
    if not usable:
        found = sorted({n for n in counts if n is not None})
        unreadable = sum(n is None for n in counts)
        raise ConfigError(
            f"--data: no object of {where} has the {needed} views that {option} needs "
            f"(view counts found: {found or 'none'}; unreadable cameras: {unreadable} of {len(objects)})"
        )
    if len(usable) < len(objects):
        log.warning("--data %s: %d of %d objects have fewer than %d views (or unreadable cameras) and "
                    "are left out", where, len(objects) - len(usable), len(objects), needed)
    return usable



def recorded_min_views(root: str | Path) -> int | None:
    """The fewest views of an object of ``root`` that a clean check recorded (``validated.json``),
    while the objects stay as they were then; else None."""
    from lrmzero.dataset_check import dataset_fingerprint, matching_record

    record = matching_record(root, False, dataset_fingerprint(root))
    views = record.get("min_views") if record else None
    return views if isinstance(views, int) else None


def mixed_objects(roots: Sequence[str | Path], weights: Sequence[float] | None, min_views: int = 1,
                  option: str = "data.input_views", fewest_views: dict[str, int | None] | None = None,
                  uncounted: Collection[str] = ()) -> tuple[list[Path], np.ndarray | None]:
    """All objects of several dataset roots with at least ``min_views`` views, and per-object
    sampling weights so that root r is drawn with probability weights[r] (None: every object equally).
    ``fewest_views``: the fewest views per object of the roots the start-up check just checked or
    trusted (:func:`refuse_invalid`); other roots' counts come from a matching record, else from
    reading every object's cameras, except for ``uncounted`` roots: ranks started together count
    their views in their shared check and leave out the objects with too few there.

    Raises:
        ConfigError: a root that is not a folder, holds no rendered objects or none with enough views,
            or a weight count that does not match the roots.
    """
    per_root = []
    for root in roots:
        objs = find_objects(root)
        if not objs:
            raise ConfigError(f"--data: {str(root)!r} {why_no_objects(root)}")
        known = fewest_views or {}
        recorded = known[str(root)] if str(root) in known else recorded_min_views(root)
        if (recorded is not None and recorded >= min_views) or str(root) in uncounted:
            per_root.append(objs)  # a clean check counted them (or will): not 800K camera files read again
        else:
            per_root.append(objects_with_views(objs, min_views, repr(str(root)), option))
    objects = [o for objs in per_root for o in objs]
    if weights is None:
        return objects, None
    if len(weights) != len(roots):
        raise ConfigError(f"data.weights: got {len(weights)} weights for {len(roots)} --data roots; "
                          "allowed: one weight per --data")
    if sum(weights) <= 0:
        raise ConfigError(f"data.weights: got {list(weights)}; allowed: non-negative numbers with a positive sum")
    w = np.concatenate([np.full(len(objs), wt / len(objs)) for objs, wt in zip(per_root, weights)])
    return objects, w

"""``lrmzero generate --format shards``: objects made as usual into a staging folder
(``OUT/.objects``, resumable object by object), and every shard whose objects are all finished
packed into ``OUT/shard-NNNNNN.tar`` and its staged folders removed; ``index.json`` at the end.
Re-running resumes: packed objects are not made again."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from lrmzero.dataset import DONE_MARKER, check_output_folder
from lrmzero.errors import ConfigError
from lrmzero.objects import object_id
from lrmzero.locks import hold_lock
from lrmzero.plugins.generation.config import RunConfig
from lrmzero.plugins.generation.runner import Summary, check_run_arguments, generate_dataset
from lrmzero.shards import shard_entries, write_index, write_shard

STAGING = ".objects"


def generate_shards(run: RunConfig, out: str | Path, num_objects: int, seed: int, workers: int = 1,
                    progress: bool = True, objects_per_shard: int = 256, image_format: str = "png") -> Summary:
    """Objects ``[0, num_objects)`` into shards of ``objects_per_shard`` (object i in shard
    i // objects_per_shard). Returns the generation's summary; a shard with an unfinished object
    stays staged until a later run finishes it."""
    out = Path(out)
    check_run_arguments(num_objects, seed, workers)
    check_output_folder(out, "--out")
    out.mkdir(parents=True, exist_ok=True)

    def refusal(holder: str) -> ConfigError:
        return ConfigError(f"--out: {str(out)!r} is being written by another lrmzero generate --format shards{holder}; "
                           "allowed: another --out, or wait for that run to end (the same command then resumes it)")

    # one writer of the folder's shards (a second copy of the job would pack them twice and remove the staged
    # objects the first one packs); a lock file of its own: closing the staging lock's file must not drop it
    with hold_lock(out / ".lock-shards", refusal, "--out: a second lrmzero generate --format shards into it "
                   "would not be refused"):
        return _generate_shards(run, out, num_objects, seed, workers, progress, objects_per_shard, image_format)


def _generate_shards(run: RunConfig, out: Path, num_objects: int, seed: int, workers: int, progress: bool,
                     objects_per_shard: int, image_format: str) -> Summary:
    entries = shard_entries(out)
    for number, entry in entries.items():
        expected = [object_id(i) for i in range(number * objects_per_shard,
                                                min(num_objects, (number + 1) * objects_per_shard))]
        if list(entry["objects"]) != expected:
            raise ConfigError(f"--num-objects/--objects-per-shard: {entry['file']} in {str(out)!r} holds objects "
                              f"{', '.join(entry['objects']) or 'none'}, not {', '.join(expected) or 'none'}; "
                              "resume with the same values, or use a new --out")
    packed = {oid for entry in entries.values() for oid in entry["objects"]}
    staging = out / STAGING
    summary = generate_dataset(run, staging, num_objects, seed, workers=workers, progress=progress,
                               done_elsewhere=packed, label=Path(out).name)
    for number in range(math.ceil(num_objects / objects_per_shard)):
        if number in entries:
            continue
        first = number * objects_per_shard
        ids = [object_id(i) for i in range(first, min(num_objects, first + objects_per_shard))]
        folders = [staging / oid for oid in ids]
        if all((f / DONE_MARKER).is_file() for f in folders):
            entries[number] = write_shard(out, number, folders, image_format)
            for folder in folders:  # packed: the staged copy is no longer needed
                shutil.rmtree(folder)
    write_index(out, entries)
    return summary

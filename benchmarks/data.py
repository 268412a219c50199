"""Data loading throughput: views per second one loader worker delivers to the model (decoded,
resized, composited, with rays), from folders of PNGs and from shards, at 128 and 256 px, and from
that the workers one GPU needs for the `small` and `paper` presets; then the start-up check
(`lrmzero validate`, the trainer's `data.validate`): views/s decoded or read for their sizes, with one
thread and with this machine's, the fingerprint that lets a recorded clean check be trusted, and what
each would take on the paper's 800K objects x 32 views; and a shard index's cost per object (its
file, the time to read it, the memory it holds in every process), then and before index.npy.

Usage: python benchmarks/data.py [--objects 16] [--items 64] [--small-steps-per-s 13.3] [--paper-steps-per-s 2.0]
The step rates default to the H100 figures measured so far (small: 13.3 steps/s, paper: ~2 steps/s).
Procedural rows: objects made by the demo config (8 views at the row's size is rendered at the
config's 128 px and resized) in the worker; "x8" draws 8 samples per object (data.samples_per_object).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lrmzero.dataset_check import check_dataset, check_workers, dataset_fingerprint
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate
from lrmzero.plugins.trainers.lightning.data.sources import find_objects
from lrmzero.shards import pack_dataset


def views_per_second(root: Path | str, resolution: int, items: int, input_views: int = 4, target_views: int = 8,
                     repeats: int = 1) -> float:
    """One worker: items drawn as the training loader draws them (decode, resize, stack; for the
    procedural source also make the object); views per second. ``repeats``: consecutive samples per
    object (data.samples_per_object). Compositing and rays happen on the GPU in training."""
    ds = ObjectViews(find_objects(root), ViewSelection(input_views, target_views, resolution), seed=0)
    ds[(len(ds) - 1, 0)]  # warm up (imports, file system, a pipeline's components)
    start = time.perf_counter()
    views = 0
    for i in range(items):
        obj, k = divmod(i, repeats)
        batch = collate([ds[(obj % len(ds), k)]])
        views += batch["views"].shape[1]  # every distinct view decoded once
    return views / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--objects", type=int, default=16)
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--small-steps-per-s", type=float, default=13.3)
    p.add_argument("--paper-steps-per-s", type=float, default=2.0)
    args = p.parse_args()
    rows, checks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in (128, 256):
            folders = Path(tmp) / f"f{resolution}"
            run = load_config("demo", [f"render.resolution={resolution}", "render.views=8"])
            generate_dataset(run, folders, args.objects, seed=0, progress=False)
            shards = Path(tmp) / f"s{resolution}"
            pack_dataset(folders, shards, objects_per_shard=8)
            jpeg = Path(tmp) / f"j{resolution}"
            pack_dataset(folders, jpeg, objects_per_shard=8, image_format="jpeg")
            for source, root in (("folders (PNG)", folders), ("shards (PNG)", shards), ("shards (JPEG)", jpeg)):
                rows.append((source, resolution, views_per_second(root, resolution, args.items)))
                checks += [(source, resolution, *check_rates(root))]
            for repeats in (1, 8):
                spec = f"procedural:objects={args.items},seed=5,config=demo,cache=2"
                items = max(8, args.items // 4) if repeats == 1 else args.items
                rows.append((f"procedural x{repeats}", resolution,
                             views_per_second(spec, resolution, items, repeats=repeats)))
    print(f"{'source':<16}{'px':>6}{'views/s/worker':>16}")
    for source, resolution, rate in rows:
        print(f"{source:<16}{resolution:>6}{rate:>16.0f}")
    need = {"small (128 px, batch 8 x 8 views)": (128, 8 * 8 * args.small_steps_per_s),
            "paper (256 px, batch 8 x 8 views)": (256, 8 * 8 * args.paper_steps_per_s)}
    for preset, (resolution, demand) in need.items():
        rates = {s: r for s, res, r in rows if res == resolution}
        print(f"{preset}: {demand:.0f} views/s needed -> " + ", ".join(
            f"{demand / rate:.1f} workers of {source}" for source, rate in rates.items()))
    threads = check_workers()
    print(f"\nstart-up check, views/s (decode: 1 thread, {threads}; headers: 1 thread), fingerprint objects/s;"
          " hours for 800K objects x 32 views")
    print(f"{'source':<16}{'px':>6}{'decode':>9}{f'x{threads}':>9}{'headers':>9}{'fingerpr.':>11}"
          f"{'h decode':>10}{'h headers':>11}{'h fingerpr.':>13}")
    for source, resolution, decode, decode_n, headers, fingerprint in checks:
        views = 800_000 * 32
        print(f"{source:<16}{resolution:>6}{decode:>9.0f}{decode_n:>9.0f}{headers:>9.0f}{fingerprint:>11.0f}"
              f"{views / decode_n / 3600:>10.1f}{views / headers / 3600:>11.2f}{800_000 / fingerprint / 3600:>13.3f}")
    index_figures()


def index_figures(objects: int = 4096, members: int = 99) -> None:
    """A shard index of ``objects`` objects of ``members`` members each (a 32-view object: views,
    depth, normals, meta, cameras): bytes on disk, read time and Python memory per object, in the
    format lrmzero writes (index.json + a memory-mapped index.npy) and the one before (every member
    in index.json)."""
    import json
    import tracemalloc

    from lrmzero.shards import read_index, write_index

    fields = {f"rgba.{i:03d}.png": [1024 * i, 1000] for i in range(members)}
    entries = {n: {"file": f"shard-{n:06d}.tar", "images": "png",
                   "objects": {f"{n * 256 + i:08d}": fields for i in range(256)}} for n in range(objects // 256)}
    print(f"\nshard index, {objects} objects x {members} members: bytes / us to read / bytes held, per object")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for entry in entries.values():
            (root / entry["file"]).write_bytes(b"")
            (root / entry["file"]).with_suffix(".json").write_text(json.dumps(entry))
        write_index(root, entries)
        on_disk = {"index.json + index.npy": (root / "index.json").stat().st_size + (root / "index.npy").stat().st_size}
        legacy = json.dumps({"format": "lrmzero-shards-1", "shards": [entries[n] for n in sorted(entries)]})
        for name in ("index.json + index.npy", "format 1 (index.json)"):
            if name.startswith("format 1"):
                (root / "index.json").write_text(legacy)
                on_disk[name] = len(legacy)
            tracemalloc.start()
            start = time.perf_counter()
            read = read_index(root)
            seconds = time.perf_counter() - start
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            print(f"{name:<24}{on_disk[name] / objects:>8.0f} B{seconds / len(read) * 1e6:>8.1f} us"
                  f"{held / len(read):>9.0f} B   (800K objects: {held / len(read) * 8e5 / 2**30:.2f} GiB held, "
                  f"{seconds / len(read) * 8e5:.0f} s)")


def check_rates(root: Path) -> tuple[float, float, float, float]:
    """Views/s of :func:`check_dataset` decoding with 1 and :func:`check_workers` threads and reading
    headers only, and objects/s of :func:`dataset_fingerprint` (a shard dataset's: its index)."""
    def rate(count: int, call) -> float:
        start = time.perf_counter()
        call()
        return count / (time.perf_counter() - start)

    report = check_dataset(root)  # also warms the file cache, as a second launch finds it
    return (rate(report.views, lambda: check_dataset(root)),
            rate(report.views, lambda: check_dataset(root, workers=check_workers())),
            rate(report.views, lambda: check_dataset(root, decode=False)),
            rate(report.objects * 20, lambda: [dataset_fingerprint(root) for _ in range(20)]))


if __name__ == "__main__":
    main()

"""Data loading throughput: views per second one loader worker delivers to the model (decoded,
resized, composited, with rays), from folders of PNGs and from shards, at 128 and 256 px, and from
that the workers one GPU needs for the `small` and `paper` presets.

Usage: python benchmarks/data.py [--objects 16] [--items 64] [--small-steps-per-s 13.3] [--paper-steps-per-s 2.0]
The step rates default to the H100 figures measured so far (small: 13.3 steps/s, paper: ~2 steps/s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.trainers.lightning.data import ObjectViews, ViewSelection, collate, find_objects
from lrmzero.shards import pack_dataset


def views_per_second(root: Path, resolution: int, items: int, input_views: int = 4, target_views: int = 8) -> float:
    """One worker: items drawn as the training loader draws them (decode, resize, stack); views per
    second. Compositing and rays happen on the GPU in training (to_model_batch), not in the worker."""
    ds = ObjectViews(find_objects(root), ViewSelection(input_views, target_views, resolution), seed=0)
    ds[(0, 0)]  # warm caches (imports, file system)
    start = time.perf_counter()
    views = 0
    for i in range(items):
        batch = collate([ds[(i % len(ds), i // len(ds))]])
        views += batch["views"].shape[1]  # every distinct view decoded once
    return views / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--objects", type=int, default=16)
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--small-steps-per-s", type=float, default=13.3)
    p.add_argument("--paper-steps-per-s", type=float, default=2.0)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in (128, 256):
            folders = Path(tmp) / f"f{resolution}"
            run = load_config("demo", [f"render.resolution={resolution}", "render.views=8"])
            generate_dataset(run, folders, args.objects, seed=0, progress=False)
            shards = Path(tmp) / f"s{resolution}"
            pack_dataset(folders, shards, objects_per_shard=8)
            for source, root in (("folders (PNG)", folders), ("shards (PNG)", shards)):
                rows.append((source, resolution, views_per_second(root, resolution, args.items)))
    print(f"{'source':<16}{'px':>6}{'views/s/worker':>16}")
    for source, resolution, rate in rows:
        print(f"{source:<16}{resolution:>6}{rate:>16.0f}")
    need = {"small (128 px, batch 8 x 8 views)": (128, 8 * 8 * args.small_steps_per_s),
            "paper (256 px, batch 8 x 8 views)": (256, 8 * 8 * args.paper_steps_per_s)}
    for preset, (resolution, demand) in need.items():
        rate = max(r for s, res, r in rows if res == resolution and s.startswith("shards"))
        print(f"{preset}: {demand:.0f} views/s needed -> {demand / rate:.1f} shard workers")


if __name__ == "__main__":
    main()

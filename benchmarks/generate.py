"""Objects per second for mesh generation (shape + textures + GLB encoding), one process.

Usage: python benchmarks/generate.py [--objects N] [--config NAME] [key=value ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

from lrmzero import get_registries
from lrmzero.asset import encode_glb
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import make_composer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--config", default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    run = load_config(args.config, args.overrides)
    builder = make_composer(run, get_registries())
    builder.build(0, 0)  # warm-up
    stages: dict[str, list[float]] = {}
    verts = []
    start = time.perf_counter()
    for i in range(args.objects):
        asset = builder.build(1, i)
        t0 = time.perf_counter()
        encode_glb(asset, run.generate.output.mesh_texture, run.generate.output.jpeg_quality)
        asset.meta["timings"]["encode_glb"] = time.perf_counter() - t0
        for k, v in asset.meta["timings"].items():
            stages.setdefault(k, []).append(v)
        verts.append(asset.meta["num_vertices"])
    total = time.perf_counter() - start
    print(f"config: {args.config or 'zeroverse'} {' '.join(args.overrides)}")
    print(f"objects: {args.objects}  total: {total:.2f} s  objects/s: {args.objects / total:.2f}")
    print(f"vertices per object: median {statistics.median(verts):.0f}, max {max(verts)}")
    for k, v in stages.items():
        print(f"  {k:<28} mean {1e3 * statistics.mean(v):7.1f} ms")


if __name__ == "__main__":
    main()

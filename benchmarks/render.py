"""Views/s and objects/s of the full per-object pipeline (shape, augmentations, render, write).

Prints, for each renderer and resolution, the per-stage split in ms per object (with gl, also its own
steps: texture upload, occlusion bake, draws and read-back, tone chain). One process.
Usage: python benchmarks/render.py [--objects N] [--views 32] [--resolutions 256 512] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time

from lrmzero.components import RendererUnavailable
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.runner import ObjectJob


def cpu_seconds() -> float:
    """CPU time of this process, all threads (llvmpipe's, Embree's, the encoders'): steadier than
    wall time on a shared machine, and what several workers per machine divide among themselves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench(renderer: str, resolution: int, args) -> None:
    overrides = [f"render.renderer={renderer}", f"render.resolution={resolution}",
                 f"render.views={args.views}", *args.overrides]
    run = load_config(args.config, overrides)
    with tempfile.TemporaryDirectory() as out:
        try:
            job = ObjectJob(run, seed=3, out=out)
        except RendererUnavailable as exc:
            print(f"{renderer} {resolution}px: unavailable ({exc})")
            return
        job(10_000)  # warm-up (shader compile, caches)
        stages: dict[str, list[float]] = {}
        start, cpu_start = time.perf_counter(), cpu_seconds()
        for i in range(args.objects):
            job(i)
            meta = job.writer.object_dir(job.object_id(i)) / "meta.json"
            for k, v in json.loads(meta.read_text())["timings"].items():
                stages.setdefault(k.split(".")[0] if k.startswith("augment") else k, []).append(v)
        total, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    per_obj = total / args.objects
    print(f"{renderer:8s} {resolution:4d}px  {args.objects / total:6.2f} objects/s  "
          f"{args.objects * args.views / total:7.1f} views/s  ({per_obj:.2f} s/object, "
          f"{cpu / args.objects:.2f} CPU-s/object over all threads)")
    # in pipeline order; the renderer's own steps (render.*) under render_and_encode: its bake runs beside
    # its texture upload, and the GLB is encoded on the encoder threads meanwhile
    order = ["shape", "augment", "textures", "render_and_encode", "render.upload", "render.bake", "render.draw",
             "render.trace", "render.tone", "encode_mesh"]
    for k in sorted(stages, key=lambda k: order.index(k) if k in order else len(order)):
        v = stages[k]
        indent = "      " if k.startswith("render.") else "    "
        print(f"{indent}{k:<18} {1e3 * statistics.mean(v) * (len(v) / args.objects):8.1f} ms/object")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=6)
    parser.add_argument("--views", type=int, default=32)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--renderers", nargs="+", default=["gl", "raycast"])
    parser.add_argument("--config", default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    print(f"config: {args.config or 'zeroverse'} {' '.join(args.overrides)}; {args.views} views")
    for renderer in args.renderers:
        for res in args.resolutions:
            bench(renderer, res, args)


if __name__ == "__main__":
    main()

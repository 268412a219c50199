"""How close the fast `gl` renderer comes to Blender Cycles, and what the default dataset looks like.

    python benchmarks/fidelity.py compare [--objects 6] [--views 8] [--resolution 256] [--samples 64]
        [--python ~/.bpy/bin/python] [--sheet docs/images/gl-vs-cycles.png] [--no-levels] [--cache DIR]
    python benchmarks/fidelity.py stats DATASET [DATASET ...]

`compare` builds objects with the default config, renders the same cameras with `gl` and `cycles`
(the same tone chain) and prints PSNR and SSIM (scikit-image) of gl against cycles per object and
on average, and the share of pixels whose mask agrees; `--sheet` writes a contact sheet (gl row
over cycles row, per object); `--no-levels` adds the PSNR of both rendered without the per-object
levels (what the renderers differ by before the levels stretch it) and, over all objects, the median
ratio of gl's linear luminance to Cycles' in bins of Cycles' (where gl is too bright or too dark:
the dark bins showed the missing specular occlusion); `--cache DIR` keeps Cycles' renders there,
keyed by everything they depend on (the object's mesh, UVs and maps, the cameras, the shading,
background and levels, the cycles renderer's settings and Blender's version), so that trying a change
to `gl` re-renders only `gl` (Cycles takes ~95% of a run: ~4.5 of the defaults' ~4.7 minutes on 2 CPU
cores). `stats` prints image statistics of generated datasets: the 99th percentile of opaque pixels'
linear luminance (after decoding gamma 2.2), the share of silhouette pixels with fractional alpha,
and the median HSV saturation of opaque pixels.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lrmzero import get_registries
from lrmzero.dataset import finished_objects
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.generation.render_stage import shading_settings
from lrmzero.plugins.generation.runner import make_composer

LUMA = np.array([0.2126, 0.7152, 0.0722])
BINS = [0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.01]


def luminance(rgba: np.ndarray) -> np.ndarray:
    """Linear luminance ``[N]`` of gamma-encoded uint8 pixels ``[N, 4]`` (gamma 2.2, as the tone chain)."""
    return (rgba[:, :3] / 255.0) ** 2.2 @ LUMA


def render_key(asset, cams, settings, renderer) -> str:
    """A digest of everything a Cycles render of ``asset`` from ``cams`` depends on."""
    digest = hashlib.sha256()
    for array in (asset.vertices, asset.faces, asset.uv, asset.texture, *(asset.maps[k] for k in sorted(asset.maps)),
                  cams.c2w, cams.K):
        digest.update(np.ascontiguousarray(array).tobytes())
    # of the shading settings, what Cycles reads (the ao_* ones tune gl's and raycast's per-vertex bake)
    shading = (settings.shading, tuple(settings.background), settings.levels)
    digest.update(repr((sorted(asset.maps), shading, dataclasses.asdict(renderer.cfg), renderer.blender_version,
                        cams.width, cams.height)).encode())
    return digest.hexdigest()[:24]


def cached_render(renderer, asset, cams, settings, cache: Path | None) -> np.ndarray:
    """``renderer.render(...).rgba``, from ``cache`` when it holds this render (see :func:`render_key`)."""
    if cache is None:
        return renderer.render(asset, cams, settings).rgba
    path = cache / f"{render_key(asset, cams, settings, renderer)}.npy"
    if path.exists():
        return np.load(path)
    rgba = renderer.render(asset, cams, settings).rgba
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp.npy")
    np.save(partial, rgba)
    partial.replace(path)  # atomic: an interrupted run leaves no half render that looks finished
    return rgba


def compare(args) -> None:
    run = load_config(None, args.overrides)
    reg = get_registries()
    composer = make_composer(run, reg)
    settings = shading_settings(run.generate.render)
    gl = reg.renderers.get("gl").factory(run.components["renderers"]["gl"])
    cycles = reg.renderers.build("cycles", {"python": args.python, "samples": args.samples})
    sampler = reg.camera_samplers.build(run.generate.render.cameras)
    cache = Path(args.cache).expanduser() if args.cache else None
    print(f"gl vs cycles ({cycles.blender_version}, {args.samples} samples, denoised), {args.views} views at "
          f"{args.resolution} px, default config {' '.join(args.overrides)}")
    raw_settings = dataclasses.replace(settings, levels=False)
    print(f"{'object':>8} {'PSNR dB':>8} {'SSIM':>6} {'mask':>7} {'gl s':>6} {'cycles s':>9}"
          + (f" {'no-levels PSNR':>15}" if args.no_levels else ""))
    psnrs, ssims, rows, raw_psnrs, raw_pairs = [], [], [], [], []
    for index in range(args.objects):
        asset = composer.build(args.seed, index)
        cams = sampler.sample(args.views, args.resolution, args.resolution, np.random.default_rng(index))
        t0 = time.perf_counter()
        a = gl.render(asset, cams, settings)
        t1 = time.perf_counter()
        truth = cached_render(cycles, asset, cams, settings, cache)
        t2 = time.perf_counter()
        x, y = a.rgba[..., :3], truth[..., :3]
        p = peak_signal_noise_ratio(y, x, data_range=255)
        s = float(np.mean([structural_similarity(y[v], x[v], channel_axis=-1, data_range=255) for v in range(len(x))]))
        mask = float(np.mean(a.mask == (truth[..., 3] >= 128)))  # Views.mask's rule
        psnrs.append(p)
        ssims.append(s)
        raw = ""
        if args.no_levels:  # the same renders without the per-object levels, which stretch contrast
            raw_truth = cached_render(cycles, asset, cams, raw_settings, cache)
            ours = gl.render(asset, cams, raw_settings).rgba
            raw_psnrs.append(peak_signal_noise_ratio(raw_truth[..., :3], ours[..., :3], data_range=255))
            both = (raw_truth[..., 3] == 255) & (ours[..., 3] == 255)
            raw_pairs.append((luminance(ours[both]), luminance(raw_truth[both])))
            raw = f" {raw_psnrs[-1]:15.2f}"
        print(f"{index:8d} {p:8.2f} {s:6.3f} {100 * mask:6.2f}% {t1 - t0:6.1f} {t2 - t1:9.1f}{raw}", flush=True)
        rows.append((a.rgba[: args.sheet_views], truth[: args.sheet_views]))
    print(f"{'mean':>8} {np.mean(psnrs):8.2f} {np.mean(ssims):6.3f}"
          + (f" {'':>7} {'':>6} {'':>9} {np.mean(raw_psnrs):15.2f}" if args.no_levels else ""))
    if raw_pairs:
        ours, truth = (np.concatenate(parts) for parts in zip(*raw_pairs))
        print("no levels, opaque pixels: median gl / cycles linear luminance by cycles' luminance")
        for lo, hi in zip(BINS[:-1], BINS[1:]):
            inside = (truth >= lo) & (truth < hi)
            if inside.sum() >= 50:
                ratio = np.median(ours[inside] / np.maximum(truth[inside], 1e-4))
                print(f"    {lo:5.2f}-{hi:4.2f}: {ratio:5.2f} ({100 * inside.mean():4.1f}% of pixels)")
    if args.sheet:
        tiles = []
        for a, b in rows:
            # RGB is already composited over the background (the tone chain's convention)
            tiles.append(np.concatenate([np.concatenate(list(a[..., :3]), 1), np.concatenate(list(b[..., :3]), 1)], 0))
        sheet = np.concatenate(tiles, 0)
        Path(args.sheet).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(args.sheet, optimize=True)
        print(f"contact sheet (per object: gl row over cycles row): {args.sheet}")


def stats(args) -> None:
    print(f"{'dataset':<40} {'p99 luminance':>14} {'fractional edge alpha':>22} {'median saturation':>18}")
    for root in args.datasets:
        p99, fractional, saturation = [], [], []
        for obj in finished_objects(Path(root))[: args.objects]:
            lum = []
            for path in sorted((obj / "rgba").glob("*.png")):
                rgba = np.asarray(Image.open(path).convert("RGBA"))
                alpha = rgba[..., 3]
                opaque = alpha == 255
                rgb = rgba[..., :3][opaque] / 255.0
                lum.append(luminance(rgba[opaque]))
                covered = alpha > 0
                edge = covered & ~ndimage.binary_erosion(covered)
                if edge.any():
                    fractional.append(float(np.mean(alpha[edge] < 255)))
                hi, lo = rgb.max(-1), rgb.min(-1)
                saturation.append((hi - lo) / np.maximum(hi, 1e-6))
            p99.append(np.percentile(np.concatenate(lum), 99))
        print(f"{str(root):<40} {np.mean(p99):14.3f} {100 * np.mean(fractional):21.1f}% "
              f"{np.median(np.concatenate(saturation)):18.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--objects", type=int, default=6)
    c.add_argument("--views", type=int, default=8)
    c.add_argument("--resolution", type=int, default=256)
    c.add_argument("--samples", type=int, default=64)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--python", default="", help="a Python with bpy (default: $LRMZERO_BPY_PYTHON)")
    c.add_argument("--sheet", default="", help="write a gl-over-cycles contact sheet here")
    c.add_argument("--sheet-views", type=int, default=4)
    c.add_argument("--cache", default="", help="keep Cycles' renders in this folder and reuse them (see above)")
    c.add_argument("--no-levels", action="store_true",
                   help="also render both without the per-object levels and print that PSNR: levels stretch a "
                        "low-contrast object's range up to several times, and every difference with it")
    c.add_argument("overrides", nargs="*")
    s = sub.add_parser("stats")
    s.add_argument("datasets", nargs="+")
    s.add_argument("--objects", type=int, default=64)
    args = parser.parse_args()
    if args.command == "compare":
        args.overrides = [f"render.resolution={args.resolution}", *args.overrides]
        compare(args)
    else:
        stats(args)


if __name__ == "__main__":
    sys.exit(main())

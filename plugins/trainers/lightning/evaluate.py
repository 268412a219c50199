"""`lrmzero eval`: PSNR / SSIM / LPIPS of a checkpoint on target views not used as inputs, beside
two baselines (the mean-colour image and the nearest input view)."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from PIL import Image

from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate, to_model_batch
from lrmzero.plugins.trainers.lightning.data.sources import find_objects, objects_with_views
from lrmzero.dataset import check_output_file, check_output_folder, check_positive, why_no_objects, write_atomic
from lrmzero.errors import ConfigError
from lrmzero.plugins.trainers.lightning.metrics import LPIPS, psnr, ssim
from lrmzero.plugins.trainers.lightning.checkpoints import (checkpoint_file, inference_device, load_checkpoint,
                                                            to_device)
from lrmzero.plugins.trainers.lightning.data.startup_check import refuse_invalid
from lrmzero.components import render_model
from lrmzero.plugin_manager import get_registries
from lrmzero.plugins.trainers.lightning.config import check_model_resolution

log = logging.getLogger("lrmzero")


def as_is(item):
    """A loader's collate function that hands each object over as the dataset made it (one at a time)."""
    return item


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


@torch.no_grad()
def evaluate(checkpoint: str, data: str, views_in: int | None = None, resolution: int | None = None,
             max_objects: int | None = None, lpips_weights: str | None = None,
             json_path: str | None = None, device: str = "auto", vgg16_weights: str | None = None,
             report: str | None = None, progress: bool = False, workers: int = 0) -> dict[str, Any]:
    """PSNR / SSIM / LPIPS of ``checkpoint`` on ``data``'s views that are not inputs, beside two
    baselines; every argument, the checkpoint and the data are checked before any metric is computed.

    ``device``: ``auto`` (CUDA where there is one), ``cpu``, ``cuda[:N]`` (see :func:`inference_device`).
    ``progress``: a bar over the objects on stderr. ``workers``: loader processes decoding the next
    objects while the model runs (0: in this process); the results do not depend on it.

    ``report``: a folder for ``per_view.csv`` (one row per object and target view) and one
    ``<object>.png`` per object: its input views on top, then per target view ground truth |
    prediction | error map (see :func:`comparison_image`).

    Raises:
        ConfigError: naming the option, file or value that is wrong.
    """
    for value, option in ((views_in, "--views-in"), (resolution, "--resolution"), (max_objects, "--max-objects")):
        check_positive(value, option)
    if workers < 0:
        raise ConfigError(f"--workers: got {workers}; allowed: 0 (decode in this process) or more")
    if json_path:
        check_output_file(json_path, "--json")
    if report:
        check_output_folder(report, "--report")
    lpips = LPIPS(lpips_weights, vgg16_weights)  # both files read and checked here, before any work
    device = inference_device(device)
    registries = get_registries()
    model, net, hparams = load_checkpoint(checkpoint, registries, device)
    train = hparams["train"]
    d = train["data"]
    views_in = d["input_views"] if views_in is None else views_in
    resolution = d["resolution"] if resolution is None else resolution
    check_model_resolution(model, resolution, "--resolution")
    objects = find_objects(data)
    refuse_invalid([data], progress=progress)  # a dataset with broken objects is refused, listed, before any metric
    if not objects:
        raise ConfigError(f"--data: {data!r} {why_no_objects(data)}")
    objects = objects[:max_objects] if max_objects else objects
    # every evaluated object needs its inputs and at least one other view as a target
    objects = objects_with_views(objects, views_in + 1, repr(data), "--views-in (plus one target)")
    select = ViewSelection(views_in, views_in, resolution, tuple(d["background"]))
    dataset = ObjectViews(objects, select, holdout=True)
    background = torch.tensor(d["background"], dtype=torch.float32, device=device)
    rows, per_view, figures = [], [], []
    if report:
        Path(report).mkdir(parents=True, exist_ok=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers, collate_fn=as_is,
                                         prefetch_factor=2 if workers else None)
    for item in tqdm(loader, desc=f"eval {Path(data).name}", unit="obj", disable=not progress, dynamic_ncols=True):
        if item is None or len(item["target_ids"]) == 0:
            continue
        batch = to_model_batch(to_device(collate([item]), device), background)
        outputs = net(batch)
        pred = render_model(model, outputs, batch["target_w2c"], batch["target_K"], resolution, background,
                            with_depth=False)["rgb"]
        pred, target = pred[0].clamp(0, 1), batch["target_images"][0]
        inputs = batch["images"][0]
        # baselines: the input views' mean colour everywhere; the input view nearest each target
        mean_img = inputs.mean(dim=(0, 2, 3))[None, :, None, None].expand_as(target)
        in_centres = batch["c2w"][0, :, :3, 3]
        tgt_centres = torch.linalg.inv(batch["target_w2c"][0])[:, :3, 3]
        cos = torch.nn.functional.normalize(tgt_centres, dim=-1) @ torch.nn.functional.normalize(in_centres, dim=-1).T
        nearest = inputs[cos.argmax(dim=1)]
        lp = lpips(pred, target)
        view_psnr, view_ssim = psnr(pred, target), ssim(pred, target)
        if report:
            for n, view in enumerate(item["target_ids"].tolist()):
                per_view.append({"object_id": item["object_id"], "view": view, "psnr": float(view_psnr[n]),
                                 "ssim": float(view_ssim[n]), "lpips": None if lp is None else float(lp[n]),
                                 "nearest_view_psnr": float(psnr(nearest[n], target[n]))})
            image = comparison_image(inputs, target, pred)
            write_atomic(Path(report) / f"{item['object_id']}.png", lambda f, im=image: im.save(f, format="PNG"))
            # the summary's tile: the inputs' row and the first two target rows of the same picture
            rows_kept = min(len(target), 2) + 1
            figures.append((item["object_id"], image.crop((0, 0, image.width, rows_kept * (resolution + GAP)))))
        rows.append({
            "object_id": item["object_id"],
            "views": int(len(target)),
            "psnr": float(view_psnr.mean()),
            "ssim": float(view_ssim.mean()),
            "lpips": None if lp is None else float(lp.mean()),
            "nearest_view_psnr": float(psnr(nearest, target).mean()),
            "nearest_view_ssim": float(ssim(nearest, target).mean()),
            "mean_color_psnr": float(psnr(mean_img, target).mean()),
            "mean_color_ssim": float(ssim(mean_img, target).mean()),
        })
    if not rows:
        raise ConfigError(f"--data: no object of {data!r} could be evaluated (see the warnings)")
    result = {
        "checkpoint": str(checkpoint_file(checkpoint)),  # the file read, where a run folder was given
        "data": str(data),
        "views_in": views_in,
        "resolution": resolution,
        "objects_evaluated": len(rows),
        "mean": {"psnr": _mean(rows, "psnr"), "ssim": _mean(rows, "ssim"), "lpips": _mean(rows, "lpips")},
        "baselines": {
            "nearest_view": {"psnr": _mean(rows, "nearest_view_psnr"), "ssim": _mean(rows, "nearest_view_ssim")},
            "mean_color": {"psnr": _mean(rows, "mean_color_psnr"), "ssim": _mean(rows, "mean_color_ssim")},
        },
        "objects": rows,
    }
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(Path(json_path), json.dumps(result, indent=2).encode())
    if report:
        write_atomic(Path(report) / "per_view.csv", lambda f: _write_csv(f, per_view))
        figure = summary_figure(figures[:4], result)
        write_atomic(Path(report) / "summary.png", lambda f: figure.save(f, format="PNG"))
    return result


def summary_figure(figures: list[tuple[str, Image.Image]], result: dict[str, Any], zoom: int = 3) -> Image.Image:
    """One picture for a reader: the numbers against the baselines on top, then per object its
    inputs and, for two target views, truth | prediction | error (enlarged ``zoom`` times)."""
    from PIL import ImageDraw

    m, b = result["mean"], result["baselines"]
    header = [f"{result['objects_evaluated']} held-out objects, {result['views_in']} input views, "
              f"{result['resolution']} px    (rows: inputs; then truth | prediction | error per target view)",
              f"model PSNR {m['psnr']:.2f}  SSIM {m['ssim']:.3f}    nearest input view PSNR "
              f"{b['nearest_view']['psnr']:.2f}  SSIM {b['nearest_view']['ssim']:.3f}    mean colour PSNR "
              f"{b['mean_color']['psnr']:.2f}  SSIM {b['mean_color']['ssim']:.3f}"]
    tiles = [im.resize((im.width * zoom, im.height * zoom), Image.NEAREST) for _, im in figures]
    line = 14
    width = max([800] + [t.width for t in tiles])
    height = line * (len(header) + 1) + sum(t.height + line for t in tiles)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(header):
        draw.text((4, 2 + i * line), text, fill="black")
    y = line * (len(header) + 1)
    for (oid, _), tile in zip(figures, tiles):
        draw.text((4, y), oid, fill="black")
        canvas.paste(tile, (0, y + line))
        y += tile.height + line
    return canvas


def _write_csv(binary_file, rows: list[dict[str, Any]]) -> None:
    text = io.TextIOWrapper(binary_file, encoding="utf-8", newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["object_id", "view"])
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    text.flush()
    text.detach()


GAP = 2  # white pixels between the tiles of a comparison image


def comparison_image(inputs: torch.Tensor, target: torch.Tensor, pred: torch.Tensor, gap: int = GAP) -> Image.Image:
    """One picture of an object: the input views ``[V, 3, S, S]`` in the top row; below, one row per
    target view ``[T, 3, S, S]``: ground truth | prediction | error map (mean absolute error over
    the channels, x4, black 0 -> red -> yellow -> white >= 0.25). White gaps between tiles."""
    S = target.shape[-1]
    cols = max(len(inputs), 3)
    canvas = np.ones(((len(target) + 1) * (S + gap), cols * (S + gap), 3), np.float32)

    def put(row: int, col: int, img: np.ndarray) -> None:
        canvas[row * (S + gap):row * (S + gap) + S, col * (S + gap):col * (S + gap) + S] = img

    for c, view in enumerate(inputs):
        put(0, c, view.permute(1, 2, 0).cpu().numpy())
    err = ((pred - target).abs().mean(dim=1) * 4).clamp(0, 1).cpu().numpy()  # [T, S, S]
    heat = np.stack([np.clip(3 * err, 0, 1), np.clip(3 * err - 1, 0, 1), np.clip(3 * err - 2, 0, 1)], -1)
    for r in range(len(target)):
        put(r + 1, 0, target[r].permute(1, 2, 0).cpu().numpy())
        put(r + 1, 1, pred[r].permute(1, 2, 0).cpu().numpy())
        put(r + 1, 2, heat[r])
    return Image.fromarray((canvas * 255).round().astype(np.uint8))


def metric_line(name: object, psnr: float | None, ssim: float | None, lpips: float | None = None,
                with_lpips: bool = True) -> str:
    """One row of the tables: a name, then PSNR, SSIM and (``with_lpips``) LPIPS, ``-`` where null."""
    def f(x, digits=3):
        return "  -  " if x is None else f"{x:.{digits}f}"

    return f"{name!s:<22}{f(psnr, 2):>8}{f(ssim):>8}{f(lpips) if with_lpips else '':>8}"


def table_head(result: dict[str, Any], first_column: str = "") -> list[str]:
    """The tables' first two lines: what was evaluated, then the column names."""
    return [f"{result['objects_evaluated']} objects, {result['views_in']} input views, {result['resolution']} px",
            f"{first_column:<22}{'PSNR':>8}{'SSIM':>8}{'LPIPS':>8}"]


def baseline_lines(result: dict[str, Any]) -> list[str]:
    """The two baselines' rows (no LPIPS)."""
    b = result["baselines"]
    return [metric_line("nearest input view", b["nearest_view"]["psnr"], b["nearest_view"]["ssim"], with_lpips=False),
            metric_line("mean colour", b["mean_color"]["psnr"], b["mean_color"]["ssim"], with_lpips=False)]


def format_table(result: dict[str, Any]) -> str:
    m = result["mean"]
    return "\n".join([*table_head(result), metric_line("model", m["psnr"], m["ssim"], m["lpips"]),
                      *baseline_lines(result)])

"""Training and evaluation items: an object's posed input and target views as tensors
(:class:`ObjectViews`), collated into batches, and the model contract's batch computed where the batch
is (:func:`to_model_batch`: the GPU in training)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lrmzero.cameras import parse_opencv_cameras
from lrmzero.rays import plucker_rays
from lrmzero.shards import ShardObject, read_object_file
from lrmzero.plugins.trainers.lightning.data.views import (composite, composited_over, read_depths, read_view,
                                                          render_section)

log = logging.getLogger("lrmzero")


@dataclass
class ViewSelection:
    """Which views of an object an item holds: ``input_views`` inputs and ``target_views`` targets (the
    inputs among them in training), resized to ``resolution`` px and composited over ``background``."""

    input_views: int = 4
    target_views: int = 8
    resolution: int = 64
    background: tuple = (1.0, 1.0, 1.0)
    fixed: bool = False  # the same views every epoch (inputs evenly spaced), e.g. to over-fit
    depth: bool = False  # also read the target views' depth maps (``target_depth``)


class ObjectViews(torch.utils.data.Dataset):
    """Items are ``(index, epoch)`` (or an index): V input views with Plucker rays and T target views
    (the inputs first, then other views), drawn from a generator seeded by (seed, index, epoch).

    ``holdout=True`` (evaluation) takes inputs evenly spaced and every other view as a target;
    ``select.fixed`` (training) takes the same evenly spaced inputs and the first other views.
    A broken object (missing view, corrupt PNG, inconsistent cameras) yields None and a warning
    naming it; the collate function drops it.
    """

    def __init__(self, objects: Sequence[Path], select: ViewSelection, seed: int = 0, holdout: bool = False):
        self.objects = list(objects)
        self.select = select
        self.seed = seed
        self.holdout = holdout
        self._warned: set[Path] = set()

    def __len__(self) -> int:
        return len(self.objects)

    def choose(self, num_views: int, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.select
        needed = s.input_views + 1 if self.holdout else max(s.input_views, s.target_views)
        if num_views < needed:
            raise ValueError(f"has {num_views} views, fewer than the {needed} needed "
                             f"(input_views={s.input_views}, target_views={s.target_views})")
        if self.holdout or s.fixed:
            inputs = np.linspace(0, num_views, s.input_views, endpoint=False).astype(int)
            rest = np.setdiff1d(np.arange(num_views), inputs)
            if self.holdout:
                return inputs, rest
            return inputs, np.concatenate([inputs, rest[: max(0, s.target_views - s.input_views)]])
        rng = np.random.default_rng([self.seed, index, epoch])
        order = rng.permutation(num_views)
        inputs = order[: s.input_views]
        extra = order[s.input_views : max(s.input_views, s.target_views)]
        return inputs, np.concatenate([inputs, extra])

    def __getitem__(self, key) -> dict[str, Any] | None:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        folder = self.objects[index]
        try:
            return self.load(folder, index, epoch)
        except (OSError, ValueError, KeyError) as exc:
            if folder not in self._warned:  # once per object and process: a broken set must not flood the log
                self._warned.add(folder)
                log.warning("skipping object %s: %s", folder, exc)
            return None

    def load(self, folder: Path | ShardObject, index: int, epoch: int) -> dict[str, Any]:
        s = self.select
        cams, paths = parse_opencv_cameras(read_object_file(folder, "opencv_cameras.json"),
                                           f"{folder}/opencv_cameras.json")
        inputs, targets = self.choose(len(cams), index, epoch)
        K = cams.resized(s.resolution, s.resolution).K

        if cams.width != cams.height:
            raise ValueError(f"views are {cams.width}x{cams.height}; allowed: square views")

        # every view once (the inputs are also targets in training), as uint8 RGBA: composited
        # and turned into rays on the device (to_model_batch), a quarter of the bytes of float RGB
        unique = list(dict.fromkeys([*inputs.tolist(), *targets.tolist()]))
        render = render_section(folder)  # meta.json once: the RGB convention and the depth format
        under = composited_over(render)
        views = np.stack([read_view(folder, paths[i], s.resolution, under is not None) for i in unique])
        position = {view: n for n, view in enumerate(unique)}
        c2w = torch.from_numpy(cams.c2w).float()
        Kt = torch.from_numpy(K).float()
        extra = {}
        if s.depth:
            extra["target_depth"] = torch.from_numpy(
                read_depths(folder, [(i, paths[i]) for i in targets.tolist()], s.resolution, render))
        return {
            **extra,
            "object_id": folder.name,
            "views": torch.from_numpy(views),
            # the background the RGB is composited over and 1, or zeros: straight alpha
            "baked": torch.tensor([*under, 1.0] if under is not None else [0.0] * 4),
            "input_index": torch.as_tensor([position[i] for i in inputs.tolist()]),
            "target_index": torch.as_tensor([position[i] for i in targets.tolist()]),
            "c2w": c2w[inputs],
            "K": Kt[inputs],
            "target_w2c": torch.linalg.inv(c2w[targets]),
            "target_K": Kt[targets],
            "input_ids": torch.as_tensor(inputs),
            "target_ids": torch.as_tensor(targets),
        }


def to_model_batch(batch: dict[str, Any], background: torch.Tensor) -> dict[str, Any]:
    """A collated batch as the model contract takes it, computed where ``batch`` is (the GPU in
    training): ``images [B, V, 3, S, S]`` and ``target_images [B, T, 3, S, S]`` composited over
    ``background``, ``target_alpha [B, T, 1, S, S]`` in [0, 1], Plucker ``rays [B, V, 6, S, S]``;
    c2w, K, target_w2c, target_K (and target_depth where read) as given."""
    views = batch["views"]  # [B, U, 4, S, S] uint8
    B, _, _, S, _ = views.shape
    rgb = composite(views, background, batch.get("baked"))
    rows = torch.arange(B, device=views.device)[:, None]
    out = {k: v for k, v in batch.items() if k not in ("views", "input_index", "target_index", "baked")}
    out["images"] = rgb[rows, batch["input_index"]]
    out["target_images"] = rgb[rows, batch["target_index"]]
    out["target_alpha"] = views[rows, batch["target_index"], 3:4].float() / 255.0
    V = batch["c2w"].shape[1]
    out["rays"] = plucker_rays(batch["c2w"].flatten(0, 1), batch["K"].flatten(0, 1), S, S).reshape(B, V, 6, S, S)
    return out


def collate(items: list[dict | None]) -> dict[str, Any] | None:
    """Stack items, dropping broken ones (None); None if nothing is left."""
    items = [i for i in items if i is not None]
    if not items:
        return None
    out: dict[str, Any] = {"object_id": [i["object_id"] for i in items]}
    for key in items[0]:
        if key != "object_id":
            out[key] = torch.stack([i[key] for i in items])
    return out


def collate_for_training(items: list[dict | None]) -> dict[str, Any]:
    """:func:`collate`, except that a batch whose objects were all broken becomes an empty batch
    (``object_id == []``) rather than None: Lightning silently skips None batches, and the trainer
    must see them to stop after too many in a row."""
    return collate(items) or {"object_id": []}

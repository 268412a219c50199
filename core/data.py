"""Training data: objects written by `lrmzero generate` as (input views + rays, target views)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from lrmzero.cameras import read_opencv_cameras
from lrmzero.dataset import DONE_MARKER
from lrmzero.rays import plucker_rays

log = logging.getLogger("lrmzero")


def find_objects(root: str | Path) -> list[Path]:
    """Finished object folders of a dataset (sorted), those with cameras and views."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data: {str(root)!r} is not a folder")
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and (p / DONE_MARKER).is_file() and (p / "opencv_cameras.json").is_file())


def load_view(path: Path, size: int, background: Sequence[float]) -> np.ndarray:
    """An RGBA view resized to ``size`` and composited over ``background``: ``[3, S, S]`` float32."""
    with Image.open(path) as im:
        im.load()
        rgba = im.convert("RGBA")
    if rgba.size != (size, size):
        rgba = rgba.resize((size, size), Image.BOX if rgba.size[0] > size else Image.BILINEAR)
    a = np.asarray(rgba, np.float32) / 255.0
    rgb = a[..., :3] * a[..., 3:4] + np.asarray(background, np.float32) * (1 - a[..., 3:4])
    return rgb.transpose(2, 0, 1)


@dataclass
class ViewSelection:
    input_views: int = 4
    target_views: int = 8
    resolution: int = 64
    background: tuple = (1.0, 1.0, 1.0)
    fixed: bool = False  # the same views every epoch (inputs evenly spaced), e.g. to over-fit


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

    def __len__(self) -> int:
        return len(self.objects)

    def choose(self, num_views: int, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.select
        if num_views < s.input_views:
            raise ValueError(f"has {num_views} views, fewer than data.input_views={s.input_views}")
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
            log.warning("skipping object %s: %s", folder, exc)
            return None

    def load(self, folder: Path, index: int, epoch: int) -> dict[str, Any]:
        s = self.select
        cams, paths = read_opencv_cameras(folder / "opencv_cameras.json")
        inputs, targets = self.choose(len(cams), index, epoch)
        K = cams.resized(s.resolution, s.resolution).K

        def views(ids):
            missing = [paths[i] for i in ids if not (folder / paths[i]).is_file()]
            if missing:
                raise ValueError(f"missing view {missing[0]}")
            return torch.from_numpy(np.stack([load_view(folder / paths[i], s.resolution, s.background) for i in ids]))

        c2w = torch.from_numpy(cams.c2w).float()
        Kt = torch.from_numpy(K).float()
        return {
            "object_id": folder.name,
            "images": views(inputs),
            "rays": plucker_rays(c2w[inputs], Kt[inputs], s.resolution, s.resolution),
            "origins": c2w[inputs, :3, 3],
            "target_images": views(targets),
            "target_w2c": torch.linalg.inv(c2w[targets]),
            "target_K": Kt[targets],
            "input_ids": torch.as_tensor(inputs),
            "target_ids": torch.as_tensor(targets),
        }


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


class StepSampler(torch.utils.data.Sampler):
    """Yields ``(index, epoch)`` for a whole run: position p of the stream is object
    ``perm_e[p mod size]`` of epoch ``e = p // size`` (``perm_e`` a permutation from (seed, e), or
    weighted draws with per-object ``weights``). The stream depends only on the seed, so a run
    resumed at step s (``start = s * batch_size``) sees exactly the batches an uninterrupted one does.
    """

    def __init__(self, size: int, seed: int, total: int, weights: np.ndarray | None = None) -> None:
        self.size = size
        self.seed = seed
        self.total = total
        self.start = 0
        self.weights = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        self._orders: dict[int, np.ndarray] = {}

    def order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            rng = np.random.default_rng([self.seed, epoch])
            self._orders = {epoch: rng.permutation(self.size) if self.weights is None
                            else rng.choice(self.size, size=self.size, p=self.weights)}
        return self._orders[epoch]

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for p in range(self.start, self.total):
            epoch = p // self.size
            yield int(self.order(epoch)[p % self.size]), epoch


def mixed_objects(roots: Sequence[str | Path], weights: Sequence[float] | None) -> tuple[list[Path], np.ndarray | None]:
    """All objects of several dataset roots, and per-object sampling weights so that root r is
    drawn with probability weights[r] (None: every object equally)."""
    per_root = [find_objects(r) for r in roots]
    for root, objs in zip(roots, per_root):
        if not objs:
            raise FileNotFoundError(f"--data: {str(root)!r} holds no rendered objects")
    objects = [o for objs in per_root for o in objs]
    if weights is None:
        return objects, None
    if len(weights) != len(roots):
        raise ValueError(f"data.weights: got {len(weights)} weights for {len(roots)} --data roots")
    w = np.concatenate([np.full(len(objs), wt / len(objs)) for objs, wt in zip(per_root, weights)])
    return objects, w

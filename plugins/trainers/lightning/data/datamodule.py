"""The DataModule: objects of one or more dataset roots as training batches, resumable by position."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch

from lrmzero.errors import ConfigError
from lrmzero.shards import ShardObject
from lrmzero.plugins.trainers.lightning.config import TrainConfig
from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate_for_training
from lrmzero.plugins.trainers.lightning.data.sampler import StepSampler
from lrmzero.plugins.trainers.lightning.data.sources import mixed_objects
from lrmzero.plugins.trainers.lightning.data.views import render_section
from lrmzero.plugins.trainers.lightning.data.startup_check import StartupCheck, refuse_invalid, shared_check
from lrmzero.plugins.trainers.lightning.stop_signals import loader_worker_init

log = logging.getLogger("lrmzero")


def training_objects(roots: Sequence[str], cfg: TrainConfig, progress: bool = False,
                     share: StartupCheck | None = None) -> tuple[tuple[list[Path], np.ndarray | None], list[Path]]:
    """The objects of ``roots`` that have the views a step needs with their sampling weights, and
    the last ``data.val_objects`` of them, held out for validation. ``progress``: a bar for the
    start-up check. ``share``: ranks started together leave the check of roots without a record to
    their shared check in ``setup`` (:mod:`.startup_check`).

    Raises:
        ConfigError: a root that holds no such object (see :func:`mixed_objects`), or no object
            left for training.
    """
    d = cfg.data
    fewest = (refuse_invalid(roots, decode=d.validate == "full", progress=progress, share=share)
              if d.validate != "none" else None)
    needed = max(d.input_views, d.target_views)
    if share is not None:
        share.needed = needed
    objects, weights = mixed_objects(roots, d.weights, min_views=needed, option="data.input_views/target_views",
                                     fewest_views=fewest, uncounted=share.unchecked if share is not None else ())
    if cfg.loss.depth_weight > 0:
        refuse_without_depth(objects, cfg.loss.depth_weight)
    if share is not None and share.unchecked:
        share.objects = (objects, weights)  # split again in setup if the shared check leaves objects out
    return split_held_out(objects, weights, d.val_objects)


def split_held_out(objects: list, weights: np.ndarray | None, val_objects: int
                   ) -> tuple[tuple[list, np.ndarray | None], list]:
    """(training objects, their weights) and the last ``val_objects`` objects, held out.

    Raises:
        ConfigError: when no object would be left for training.
    """
    keep = len(objects) - val_objects
    if keep < 1:
        raise ConfigError(f"data.val_objects: got {val_objects}; allowed: fewer than the {len(objects)} "
                          "usable objects of --data (at least one must stay for training)")
    return (objects[:keep], None if weights is None else weights[:keep]), objects[keep:]


def refuse_without_depth(objects: Sequence, depth_weight: float) -> None:
    """Refuse a depth loss where the first object of a dataset folder or of a shard records no depth maps
    (datasets other tools wrote have none, packed or not), before any step.

    Raises:
        ConfigError: naming the setting, its value and where the object is.
    """
    firsts = {}
    for obj in objects:  # objects made on the fly by a data source have their own meta
        where = obj.parent if isinstance(obj, Path) else obj.shard if isinstance(obj, ShardObject) else None
        if where is not None:
            firsts.setdefault(str(where), obj)
    for where, first in firsts.items():
        if not (render_section(first) or {}).get("depth"):
            raise ConfigError(f"loss.depth_weight: got {depth_weight}; --data {where!r} has no depth maps "
                              f"({first.name} records none); allowed: 0 with this data")


def object_root(obj) -> str | None:
    """The dataset root an object was found in (its folder's parent, or the folder of its shard)."""
    where = obj.parent if isinstance(obj, Path) else Path(str(obj.shard)).parent if isinstance(obj, ShardObject) \
        else None
    return None if where is None else str(where)


def without_too_few_views(objects: list, weights: np.ndarray | None, too_few: dict[str, set[str]], needed: int,
                          say: bool) -> tuple[list, np.ndarray | None]:
    """``objects`` (with their weights) without those the ranks' shared check found with fewer than
    ``needed`` views (``too_few``: root -> object ids), as :func:`objects_with_views` leaves them out
    before fit elsewhere; ``say``: warn how many (rank zero).

    Raises:
        ConfigError: when no object is left.
    """
    roots = {str(Path(root)): ids for root, ids in too_few.items() if ids}
    gone = np.array([obj.name in roots.get(object_root(obj) or "", ()) for obj in objects], dtype=bool)
    if gone.all():
        error = ConfigError(f"--data: no object has the {needed} views that data.input_views/target_views needs "
                            f"({int(gone.sum())} have fewer)")
        error.shown = say  # every rank refuses alike; rank zero says why
        raise error
    if say:
        for root, ids in roots.items():
            log.warning("--data %s: %d objects have fewer than %d views and are left out", root, len(ids), needed)
    return [obj for obj, drop in zip(objects, gone) if not drop], None if weights is None else weights[~gone]


class ViewsDataModule(pl.LightningDataModule):
    """Objects of one or more dataset roots (mixed by ``data.weights``) as training batches."""

    def __init__(self, roots: Sequence[str], cfg: TrainConfig, start_batch: int = 0,
                 objects: tuple[list[Path], np.ndarray | None] | None = None,
                 val_objects: Sequence[Path] = (), startup_check: StartupCheck | None = None) -> None:
        """``start_batch``: global batches a resumed run has already drawn (skipped ones included);
        the stream continues after them. ``objects``: :func:`training_objects` of ``roots`` when
        already found (else found in setup). ``val_objects``: held-out objects validated during
        training (the same views every time). ``startup_check``: what :func:`training_objects` left
        to the ranks' shared check, made in setup, once the ranks can talk (ranks started together)."""
        super().__init__()
        self.roots = list(roots)
        self.cfg = cfg
        self.start_batch = start_batch
        self.objects = objects
        self.val_objects = list(val_objects)
        self.startup_check = startup_check

    def setup(self, stage: str | None = None) -> None:
        d = self.cfg.data
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        if self.startup_check is not None:  # collective: every rank, before any step
            check, self.startup_check = self.startup_check, None
            too_few = shared_check(check, rank, world)
            if any(too_few.values()) and check.objects is not None:  # counted here, not before fit
                kept = without_too_few_views(*check.objects, too_few, check.needed, rank == 0)
                self.objects, self.val_objects = split_held_out(*kept, d.val_objects)
        objects, weights = self.objects or training_objects(self.roots, self.cfg)[0]
        select = ViewSelection(d.input_views, d.target_views, d.resolution, tuple(d.background), d.fixed_views,
                               depth=self.cfg.loss.depth_weight > 0)
        self.train_set = ObjectViews(objects, select, seed=self.cfg.seed)
        # one long epoch covering the whole run, each rank its own share (resumable by position,
        # see StepSampler); the trainer must not wrap it in a DistributedSampler
        # global batches, with slack for skipped steps
        total = self.cfg.optim.max_steps * self.cfg.optim.accumulate * 2
        self.sampler = StepSampler(len(objects), self.cfg.seed, total, d.batch_size, weights, rank, world,
                                   self.start_batch, d.samples_per_object)

    def val_dataloader(self):
        d = self.cfg.data
        select = ViewSelection(d.input_views, d.target_views, d.resolution, tuple(d.background), fixed=True)
        return torch.utils.data.DataLoader(ObjectViews(self.val_objects, select, seed=self.cfg.seed),
                                           batch_size=d.batch_size, collate_fn=collate_for_training,
                                           num_workers=0)

    def train_dataloader(self):
        d = self.cfg.data
        return torch.utils.data.DataLoader(
            self.train_set, batch_size=d.batch_size, sampler=self.sampler, collate_fn=collate_for_training,
            num_workers=d.num_workers, persistent_workers=d.num_workers > 0, drop_last=False,
            # a job's stop signal reaches the workers too: the main process decides (stop_signals)
            worker_init_fn=partial(loader_worker_init, rank=self.trainer.global_rank if self.trainer else 0),
            pin_memory=torch.cuda.is_available(),  # uint8 views copied to the GPU asynchronously
        )

"""Lightning training of reconstruction models: the LightningModule (loss, optimizer, stability
guards, logging) and the DataModule. The network itself is a plain ``nn.Module`` from a plugin."""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

from lrmzero.data import ObjectViews, StepSampler, ViewSelection, collate_for_training, mixed_objects
from lrmzero.errors import ConfigError, LrmzeroError
from lrmzero.metrics import psnr
from lrmzero.model_io import build_network, rasterizer_for, render_gaussians
from lrmzero.perceptual import PerceptualLoss
from lrmzero.plugin_manager import get_registries
from lrmzero.run_folder import (AtomicCheckpointIO, ContinuingCSVLogger, check_same_model,
                                newest_checkpoint)
from lrmzero.train_config import TrainConfig

log = logging.getLogger("lrmzero")


class TrainingStopped(LrmzeroError):
    """Training cannot go on: it diverged, or its data yields no usable object."""


class ViewsDataModule(pl.LightningDataModule):
    """Objects of one or more dataset roots (mixed by ``data.weights``) as training batches."""

    def __init__(self, roots: Sequence[str], cfg: TrainConfig) -> None:
        super().__init__()
        self.roots = list(roots)
        self.cfg = cfg

    def setup(self, stage: str | None = None) -> None:
        d = self.cfg.data
        objects, weights = mixed_objects(self.roots, d.weights, min_views=max(d.input_views, d.target_views),
                                         option="data.input_views/target_views")
        select = ViewSelection(d.input_views, d.target_views, d.resolution, tuple(d.background), d.fixed_views)
        self.train_set = ObjectViews(objects, select, seed=self.cfg.seed)
        # one long epoch covering the whole run (resumable by position, see StepSampler)
        total = self.cfg.optim.max_steps * d.batch_size * 2  # slack for skipped steps
        self.sampler = StepSampler(len(objects), self.cfg.seed, total, weights)

    def train_dataloader(self):
        d = self.cfg.data
        return torch.utils.data.DataLoader(
            self.train_set, batch_size=d.batch_size, sampler=self.sampler, collate_fn=collate_for_training,
            num_workers=d.num_workers, persistent_workers=d.num_workers > 0, drop_last=False,
        )


def cosine_with_warmup(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class ReconstructionModule(pl.LightningModule):
    """Owns the loss, the optimizer and the stability guards; the network is given built.

    Guards (manual optimization, so that a skipped step leaves the weights untouched):
    a NaN/Inf loss skips the step; NaN/Inf gradients become finite (``nan_to_num``); a gradient
    norm above ``grad_clip x skip_factor`` skips the step; otherwise gradients are clipped to
    ``grad_clip``. Skips are counted and logged (``skipped_nonfinite``, ``skipped_spike``).
    """

    def __init__(self, cfg: dict, net: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.save_hyperparameters({"model": cfg["model"], "train": cfg})
        self.cfg = cfg
        self.net = net if net is not None else build_network(cfg["model"], get_registries())
        self.rasterizer = None
        self.perceptual = None
        self.consecutive_skips = 0
        self.consecutive_unusable = 0
        self.data_roots: list[str] = []
        self.register_buffer("skipped_nonfinite", torch.zeros((), dtype=torch.long))
        self.register_buffer("skipped_spike", torch.zeros((), dtype=torch.long))
        self.register_buffer("background", torch.tensor(cfg["data"]["background"], dtype=torch.float32))
        weights = cfg["loss"]["vgg_weights"]
        if cfg["loss"]["perceptual_weight"] > 0:
            if weights:
                self.perceptual = PerceptualLoss(weights)
            else:
                log.warning("perceptual loss is off: no local VGG-19 weights (loss.vgg_weights=PATH)")

    def on_train_start(self) -> None:
        # resume: continue the data stream where the interrupted run left it
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "sampler"):
            dm.sampler.start = self.global_step * self.cfg["data"]["batch_size"]

    def setup(self, stage: str) -> None:
        self.rasterizer = rasterizer_for(self.cfg, get_registries(), self.device)

    def forward(self, batch: dict) -> dict:
        return self.net(batch["images"], batch["rays"], batch["origins"])

    def render(self, gaussians: dict, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        size = batch["target_images"].shape[-1]
        with torch.autocast(self.device.type, enabled=False):
            g = {k: v.float() for k, v in gaussians.items()}
            return render_gaussians(self.rasterizer, g, batch["target_w2c"], batch["target_K"], size,
                                    self.background)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor]:
        pred, _ = self.render(self(batch), batch)
        target = batch["target_images"]
        mse = torch.mean((pred - target) ** 2)
        loss = mse
        logs = {"mse": mse.detach(), "psnr": psnr(pred.detach(), target).mean()}
        if self.perceptual is not None and self.global_step >= self.cfg["loss"]["perceptual_start"]:
            perc = self.perceptual(pred.flatten(0, 1), target.flatten(0, 1))
            loss = loss + self.cfg["loss"]["perceptual_weight"] * perc
            logs["perceptual"] = perc.detach()
        return loss, logs, pred

    def training_step(self, batch: dict | None, batch_idx: int):
        if batch is None or not batch["object_id"]:  # every object was broken (warned by the dataset)
            self.consecutive_unusable += 1
            limit = self.cfg["optim"]["max_consecutive_skips"]
            if self.consecutive_unusable >= limit:
                raise TrainingStopped(
                    f"--data {', '.join(repr(r) for r in self.data_roots) or '?'}: {self.consecutive_unusable} "
                    f"batches in a row held no usable object (see the warnings above for each object and why); "
                    "fix or remove those objects"
                )
            return None
        self.consecutive_unusable = 0
        opt = self.optimizers()
        sched = self.lr_schedulers()
        loss, logs, pred = self.compute_loss(batch)
        o = self.cfg["optim"]
        if not torch.isfinite(loss):
            self.skipped_nonfinite += 1
            opt.zero_grad(set_to_none=True)
            self.log("skipped_nonfinite", self.skipped_nonfinite.float(), prog_bar=True)
            return self._skipped()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        params = [p for p in self.net.parameters() if p.grad is not None]
        for p in params:
            torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        if norm > o["grad_clip"] * o["skip_factor"]:
            self.skipped_spike += 1
            opt.zero_grad(set_to_none=True)
            self.log("skipped_spike", self.skipped_spike.float(), prog_bar=True)
            return self._skipped()
        self.consecutive_skips = 0
        torch.nn.utils.clip_grad_norm_(params, o["grad_clip"])
        opt.step()
        sched.step()
        self.log_dict({"loss": loss.detach(), **logs, "grad_norm": norm, "lr": sched.get_last_lr()[0]},
                      prog_bar=True, on_step=True, batch_size=len(batch["object_id"]))
        self.log_dict({"skipped_nonfinite": self.skipped_nonfinite.float(),
                       "skipped_spike": self.skipped_spike.float()}, on_step=True)
        if self.global_step % self.cfg["trainer"]["image_every"] == 0:
            self.save_image_grid(pred.detach(), batch["target_images"])
        return loss.detach()

    def _skipped(self) -> None:
        """Skipped steps do not advance global_step; a run that only skips must not loop forever."""
        self.consecutive_skips += 1
        limit = self.cfg["optim"]["max_consecutive_skips"]
        if self.consecutive_skips >= limit:
            raise TrainingStopped(
                f"training diverged: {self.consecutive_skips} steps in a row were skipped "
                f"(non-finite loss: {int(self.skipped_nonfinite)}, gradient spikes: {int(self.skipped_spike)}); "
                "lower optim.lr or check the data"
            )
        return None

    def save_image_grid(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """RUN/images/step_NNNNNN.png: targets (top) and predictions (bottom) of the first object."""
        if self.trainer is None or not self.trainer.is_global_zero or not self.trainer.default_root_dir:
            return
        rows = [torch.cat(list(target[0]), dim=-1), torch.cat(list(pred[0]), dim=-1)]
        grid = (torch.cat(rows, dim=-2).clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
        folder = Path(self.trainer.default_root_dir) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(folder / f"step_{self.global_step:06d}.png")
        logger = self.logger
        if logger is not None and hasattr(getattr(logger, "experiment", None), "add_image"):
            logger.experiment.add_image("targets_and_predictions", grid.transpose(2, 0, 1), self.global_step)

    def configure_optimizers(self):
        o = self.cfg["optim"]
        decay = [p for p in self.net.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.net.parameters() if p.ndim < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
            lr=o["lr"], betas=tuple(o["betas"]),
        )
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: cosine_with_warmup(step, o["warmup_steps"], o["max_steps"]))
        return [opt], [{"scheduler": sched, "interval": "step"}]


def train(roots: Sequence[str], out: str | Path, cfg: TrainConfig, resume: bool = False,
          max_steps: int | None = None, progress: bool = True, stop_after_steps: int | None = None) -> Path:
    """Train into ``out`` (checkpoints/last.ckpt, logs, images); returns the last checkpoint.

    ``max_steps`` sets ``optim.max_steps`` (the schedule's length); ``stop_after_steps`` stops
    earlier with the same schedule, as an interruption would (``resume=True`` continues).
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    out = Path(out)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if max_steps is not None:
        cfg.optim.max_steps = max_steps
    from lrmzero.dataset import check_output_folder

    check_output_folder(out, "--out")
    resume_from, start_step = None, None
    if resume:
        if not ckpt_dir.is_dir():
            raise ConfigError(f"--resume: {str(ckpt_dir)!r} does not exist; drop --resume to start a new run")
        resume_from, start_step = newest_checkpoint(ckpt_dir)
        from lrmzero.model_io import read_checkpoint

        saved = read_checkpoint(resume_from, "--resume", mmap=True)["hyper_parameters"]
        check_same_model(saved["model"], asdict(cfg)["model"], resume_from)
        if resume_from != last:
            log.warning("--resume: continuing from %s (step %d), the newest checkpoint", resume_from, start_step)
    # StepSampler resumes the data stream by position, which Lightning cannot see.
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
    # Checkpoints hold the state after the step, which is what resuming needs.
    warnings.filterwarnings("ignore", message=".*ModelCheckpoint with manual optimization.*")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ReconstructionModule(asdict(cfg))
    module.data_roots = [str(r) for r in roots]
    data = ViewsDataModule(roots, cfg)
    t = cfg.trainer
    cuda = torch.cuda.is_available() and t.accelerator in ("auto", "gpu", "cuda")
    precision = t.precision if t.precision != "auto" else ("bf16-mixed" if cuda else "32-true")
    # flushed at every log row, so that every row before the newest checkpoint survives a kill
    loggers: list = [ContinuingCSVLogger(out, name="logs", version="", start_step=start_step,
                                         flush_logs_every_n_steps=t.log_every)]
    try:
        from pytorch_lightning.loggers import TensorBoardLogger

        import tensorboard  # noqa: F401

        loggers.append(TensorBoardLogger(out, name="tb", version=""))
    except ImportError:
        pass
    # enable_version_counter=False: a copied or moved run overwrites its own last.ckpt instead of
    # writing last-v1.ckpt beside it.
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, every_n_train_steps=t.checkpoint_every,
                                 save_top_k=0, save_on_train_epoch_end=True, enable_version_counter=False)
    trainer = pl.Trainer(
        default_root_dir=str(out), max_steps=stop_after_steps or cfg.optim.max_steps, accelerator=t.accelerator,
        devices=t.devices, strategy=t.strategy, num_nodes=t.num_nodes, precision=precision,
        logger=loggers, callbacks=[checkpoint], log_every_n_steps=t.log_every,
        enable_progress_bar=progress, enable_model_summary=False, deterministic=False,
        num_sanity_val_steps=0, max_epochs=-1, plugins=[AtomicCheckpointIO()],
    )
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    trainer.fit(module, datamodule=data, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    if not last.is_file() or (trainer.global_step and _saved_step(last) != trainer.global_step):
        trainer.save_checkpoint(str(last))  # fewer steps than checkpoint_every, or a stop between saves
    return last


def _saved_step(path: Path) -> int | None:
    from lrmzero.run_folder import checkpoint_step

    return checkpoint_step(path)



"""The LightningModule: loss, optimizer, stability guards and logging around a model component and
its network, both given built (the module knows no representation: the model renders)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.utilities import rank_zero_only

from lrmzero.errors import LrmzeroError
from lrmzero.plugins.trainers.lightning.data.dataset import to_model_batch
from lrmzero.plugins.trainers.lightning.grad_guard import guard_gradients, guard_on_device, total_norm
from lrmzero.plugins.trainers.lightning.host_values import PendingScalars, host_scalars
from lrmzero.plugins.trainers.lightning.metrics import psnr, ssim
from lrmzero.components import render_model
from lrmzero.plugins.trainers.lightning.perceptual import PerceptualLoss
from lrmzero.plugins.trainers.lightning.throughput import Throughput, peak_flops

log = logging.getLogger("lrmzero")


class TrainingStopped(LrmzeroError):
    """Training cannot go on: it diverged, or its data yields no usable object."""


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
    ``grad_clip``. Skips are counted and logged (``skipped_nonfinite``, ``skipped_spike``). A step
    waits for the device once for them, where one process steps on each batch (the gradients' norm and
    the loss read together); else twice (the loss, voted on by all ranks before the backward pass).
    With ``optim.guard_on_device`` the device decides and the step does not wait at all
    (:meth:`_optimizer_step_on_device`).
    """

    def __init__(self, cfg: dict, model, net: torch.nn.Module) -> None:
        """Args:
            cfg: the whole train config as a dict (saved as hyper-parameters).
            model: the model component (:class:`lrmzero.components.ReconstructionModel`); renders
                the network's outputs.
            net: its network, built (``model.build_network()``).
        """
        super().__init__()
        self.automatic_optimization = False
        self.save_hyperparameters({"model": cfg["model"], "train": cfg})
        self.cfg = cfg
        self.model = model
        self.net = net
        self.perceptual = None
        self.consecutive_skips = 0
        self.consecutive_unusable = 0
        self.micro = 0  # batches of the current optimizer step so far (optim.accumulate per step)
        self.loss_read_with_norm = False  # the step's loss checked with the gradients' norm (training_step)
        self.pending: PendingScalars | None = None  # optim.guard_on_device: the last step's values, on their way
        self.step_objects = 0  # objects in them
        self.throughput: Throughput | None = None  # steps/s, objects/s and MFU for the logs (on_fit_start)
        self.stop_requested = False  # set by a signal (stop_signals.StopOnSignal): stop after this step
        self.stopped_on_request = False  # the run stopped so, on this rank's request or another's
        self.data_roots: list[str] = []
        self.register_buffer("skipped_nonfinite", torch.zeros((), dtype=torch.long))
        self.register_buffer("skipped_spike", torch.zeros((), dtype=torch.long))
        # global batches drawn, skipped ones included: where a resumed run's data stream continues
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("background", torch.tensor(cfg["data"]["background"], dtype=torch.float32))
        weights = cfg["loss"]["vgg_weights"]
        if cfg["loss"]["perceptual_weight"] > 0:
            if weights:
                self.perceptual = PerceptualLoss(weights)
            elif rank_zero_only.rank == 0:  # one line, not one per DDP process
                log.warning("perceptual loss is off: no local VGG-19 weights (loss.vgg_weights=PATH)")

    def setup(self, stage: str) -> None:
        self.model.prepare(self.device)

    def on_fit_start(self) -> None:
        d = self.cfg["data"]
        count = getattr(self.model, "flops_per_object", None)  # optional in the model contract
        flops = count(d["input_views"], d["resolution"]) if count is not None else None
        peak = peak_flops(self.device, str(self.trainer.precision))
        self.throughput = Throughput(self.cfg["trainer"]["log_every"], flops, peak)

    def on_validation_start(self) -> None:
        if self.throughput is not None:
            self.throughput.pause(time.perf_counter())  # the validation's time is not the training's

    def on_validation_end(self) -> None:
        if self.throughput is not None:
            self.throughput.resume(time.perf_counter())

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """Images composited and rays computed on the device, from the uint8 views the loader sent."""
        return to_model_batch(batch, self.background) if batch["object_id"] else batch

    def forward(self, batch: dict) -> dict:
        return self.net(batch)

    def render(self, outputs: dict, batch: dict, with_depth: bool = False) -> dict:
        """The model renders its outputs into the batch's target cameras: rgb ``[B, T, 3, S, S]``
        (depth only when asked: a Gaussian rasterizer then composites 4 channels instead of 3)."""
        return render_model(self.model, outputs, batch["target_w2c"], batch["target_K"],
                            batch["target_images"].shape[-1], self.background, with_depth)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """MSE on the target views' colours, + ``loss.mask_weight`` x MSE between the rendered
        opacity and the views' alpha, + ``loss.depth_weight`` x opacity-weighted L1 against the
        views' depth maps, + the perceptual term when it is on."""
        rendered = self.render(self(batch), batch, with_depth=self.cfg["loss"]["depth_weight"] > 0)
        pred = rendered["rgb"]
        target = batch["target_images"]
        mse = torch.mean((pred - target) ** 2)
        loss = mse
        logs = {"mse": mse.detach(), "psnr": psnr(pred.detach(), target).mean()}
        if self.cfg["loss"]["mask_weight"] > 0:
            mask = torch.mean((rendered["alpha"] - batch["target_alpha"]) ** 2)
            loss = loss + self.cfg["loss"]["mask_weight"] * mask
            logs["mask"] = mask.detach()
        if self.cfg["loss"]["depth_weight"] > 0:
            # opacity as a (constant) weight: expected depth = weighted sum / alpha is unstable
            # where alpha is small, and the mask term is what teaches alpha
            truth = batch["target_depth"]
            seen = (truth > 0).to(truth.dtype) * rendered["alpha"].detach()
            depth = ((rendered["depth"] - truth).abs() * seen).sum() / seen.sum().clamp_min(1.0)
            loss = loss + self.cfg["loss"]["depth_weight"] * depth
            logs["depth"] = depth.detach()
        if self.perceptual is not None and self.global_step >= self.cfg["loss"]["perceptual_start"]:
            perc = self.perceptual(pred.flatten(0, 1), target.flatten(0, 1))
            loss = loss + self.cfg["loss"]["perceptual_weight"] * perc
            logs["perceptual"] = perc.detach()
        return loss, logs, pred

    def training_step(self, batch: dict, batch_idx: int):
        """One batch; every ``optim.accumulate``-th batch ends an optimizer step (or skips it)."""
        self.batches_seen += 1
        usable = bool(batch["object_id"])  # False: every object was broken (warned by the dataset)
        loss = logs = pred = None
        if usable:
            loss, logs, pred = self.compute_loss(batch)
        # Every rank takes the same decision before anyone starts the backward pass (whose
        # gradient all-reduce would wait forever for a rank that skipped it); a request to stop
        # (a signal to any rank) rides on the same vote, so all ranks stop after the same step.
        # One process stepping on each batch reads the loss later, with the gradients' norm: reading
        # it here would be a second wait for the device per step (its queue drained, idle while the
        # host starts the backward pass); the backward pass of a non-finite loss is then thrown away.
        self.loss_read_with_norm = self.cfg["optim"]["guard_on_device"] or self._one_batch_per_step_on_one_process()
        check_now = usable and not self.loss_read_with_norm
        unusable, nonfinite, stop = self.on_any_rank([not usable, check_now and not bool(torch.isfinite(loss)),
                                                      self.stop_requested])
        o = self.cfg["optim"]
        opt = self.optimizers()
        if self.micro == 0:
            opt.zero_grad(set_to_none=True)
            self.step_batches, self.step_nonfinite, self.step_objects = 0, False, 0
        self.micro += 1
        self.step_objects += len(batch["object_id"])
        self.stopped_on_request = self.stopped_on_request or stop
        if unusable:
            self.consecutive_unusable += 1
            if self.consecutive_unusable >= o["max_consecutive_skips"]:
                raise TrainingStopped(
                    f"--data {', '.join(repr(r) for r in self.data_roots) or '?'}: {self.consecutive_unusable} "
                    f"batches in a row held no usable object (see the warnings above for each object and why); "
                    "fix or remove those objects"
                )
        else:
            self.consecutive_unusable = 0
            if nonfinite:
                self.skipped_nonfinite += 1
                self.step_nonfinite = True
            else:
                self.manual_backward(loss / o["accumulate"])
                self.step_batches += 1
                self.step_loss, self.step_logs = loss.detach(), logs
                self.step_images = (pred.detach(), batch["target_images"], len(batch["object_id"]))
        if self.micro < o["accumulate"]:
            return None
        self.micro = 0
        if self.stopped_on_request and getattr(self, "_trainer", None) is not None:
            self.trainer.should_stop = True  # after this step: its accumulated gradients are not lost
        if self.step_batches == 0:  # no batch of this step gave gradients
            return self._skipped("non-finite loss") if self.step_nonfinite else None
        return self._optimizer_step(opt)

    def _optimizer_step(self, opt):
        """Guard, clip and step with the accumulated gradients (the same on every rank: DDP has
        all-reduced them)."""
        if self.cfg["optim"]["guard_on_device"]:
            return self._optimizer_step_on_device(opt)
        o = self.cfg["optim"]
        sched = self.lr_schedulers()
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        norm = total_norm(grads)
        # The step's one wait for the device (it has nothing queued after the norm): the gradients' norm, the
        # loss (where it was not read before the backward pass) and the numbers for the logs, in one copy.
        # Logged as device tensors, they would be read by Lightning's progress bar after the optimizer step
        # below: another wait, with the device idle while the host prepares the next step.
        values = host_scalars({"loss": self.step_loss, **self.step_logs, "grad_norm": norm, **self._skip_counters()})
        if not math.isfinite(float(values["loss"])):
            self.skipped_nonfinite += 1
            opt.zero_grad(set_to_none=True)
            return self._skipped("non-finite loss")
        guarded, spike = guard_gradients(grads, o["grad_clip"], o["skip_factor"],
                                         norm=(norm, float(values["grad_norm"])))
        if guarded is not norm:  # non-finite entries were zeroed and the norm taken again
            values["grad_norm"] = guarded.detach().float().cpu()
        if spike:
            self.skipped_spike += 1
            opt.zero_grad(set_to_none=True)
            return self._skipped(f"gradient norm {float(guarded):.3g} > optim.grad_clip x optim.skip_factor")
        self.consecutive_skips = 0
        opt.step()
        sched.step()
        self._log_step(values, values, self._logs_written_this_step())
        return self.step_loss

    def _optimizer_step_on_device(self, opt):
        """``optim.guard_on_device``: the guard decides on the device (:func:`guard_on_device`) and fused
        AdamW skips the update or divides the gradients by the clip factor in its kernel (its ``found_inf``
        and ``grad_scale``, as GradScaler drives it), so the step never waits for the device. The step's
        numbers reach the host behind the device's work (:class:`PendingScalars`) and are read at the next
        step's end, when the device is done with them; on the steps Lightning writes logs, at once (one wait
        per ``trainer.log_every`` steps). A skip is then warned about and counted towards
        ``optim.max_consecutive_skips``. A skipped step leaves the weights and the optimizer's state as
        they were but counts as a step (``global_step`` and the learning-rate schedule advance, as with
        GradScaler); non-finite gradients skip the step (the host guard zeroes their entries and steps).
        The same on every rank: DDP has all-reduced the gradients, so every rank decides alike."""
        o = self.cfg["optim"]
        sched = self.lr_schedulers()
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        norm = total_norm(grads)
        nonfinite, spike, scale = guard_on_device(norm, self.step_loss, o["grad_clip"], o["skip_factor"])
        self.skipped_nonfinite += nonfinite
        self.skipped_spike += spike
        # queued before the optimizer's kernels: a read at once (below) waits for the norm, not for them
        pending = PendingScalars({"loss": self.step_loss, **self.step_logs, "grad_norm": norm, "nonfinite": nonfinite,
                                  "spike": spike, **self._skip_counters()}, self.global_step)
        opt.optimizer.found_inf, opt.optimizer.grad_scale = (nonfinite | spike).float(), scale
        opt.step()
        sched.step()
        earlier, self.pending = self.pending, pending
        shown = None  # the progress bar's loss and PSNR: the latest step the host has read
        if earlier is not None:
            shown = self._settle(earlier)
        written = self._logs_written_this_step()
        if written:
            self.pending = None
            shown = self._settle(pending)  # the wait of the steps whose numbers Lightning writes
        skipped = shown is not None and bool(shown["nonfinite"] or shown["spike"])
        self._log_step(shown if written else None, None if shown is None or skipped else shown, written,
                       skipped=written and skipped)
        return self.step_loss

    def _log_step(self, values: dict | None, bar: dict | None, written: bool, skipped: bool = False) -> None:
        """Log a step (host tensors, read in one copy): the progress bar's loss and PSNR from ``bar`` (on
        every step while a bar is shown), and on the steps Lightning writes the rest of ``values`` (terms,
        grad_norm, skip counters) with the learning rate and the throughput — the counters only for a
        ``skipped`` step. Saves the image grid every ``trainer.image_every`` steps."""
        pred, target, objects = self.step_images  # of the step's last batch that gave gradients
        rates = self.throughput.step(self.step_objects, time.perf_counter()) if self.throughput else {}
        if bar is not None and (written or self._bar_shown()):
            self.log_dict({k: bar[k] for k in ("loss", "psnr")}, prog_bar=True, on_step=True, batch_size=objects)
        if written:
            counters = {k: values[k] for k in self._skip_counters()}
            if not skipped:
                rest = {k: v for k, v in values.items() if k not in ("loss", "psnr", "nonfinite", "spike", *counters)}
                self.log_dict({**rest, **host_scalars({"lr": self.lr_schedulers().get_last_lr()[0]})},
                              on_step=True, batch_size=objects)
                if rates:  # steps_per_s, objects_per_s (this process's) and mfu (this device's, where known),
                    # from the second step of a process on
                    self.log_dict(host_scalars(rates), on_step=True, batch_size=objects)
            self._log_skip_counters(counters)
        if self.global_step % self.cfg["trainer"]["image_every"] == 0:
            self.save_image_grid(pred, target)

    def _settle(self, pending: PendingScalars, check_limit: bool = True) -> dict[str, torch.Tensor]:
        """Read an earlier step's numbers (``optim.guard_on_device``); warn if it was skipped and count the
        skips in a row (stopping at ``optim.max_consecutive_skips`` when ``check_limit``)."""
        values = pending.read()
        nonfinite, spike = bool(values["nonfinite"]), bool(values["spike"])
        if not (nonfinite or spike):
            self.consecutive_skips = 0
            return values
        reason = "non-finite loss or gradients" if nonfinite else \
            f"gradient norm {float(values['grad_norm']):.3g} > optim.grad_clip x optim.skip_factor"
        self._count_skip(pending.step, reason, int(values["skipped_nonfinite"]), int(values["skipped_spike"]),
                         check_limit)
        return values

    def on_train_end(self) -> None:
        if self.pending is not None:  # the last step's numbers, if no log row read them
            self._settle(self.pending, check_limit=False)
            self.pending = None

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """PSNR and SSIM on a held-out batch's target views, averaged over the validation."""
        if not batch["object_id"]:
            return
        pred = self.render(self(batch), batch)["rgb"].clamp(0, 1)
        target = batch["target_images"]
        self.log_dict({"val_psnr": psnr(pred, target).mean(), "val_ssim": ssim(pred, target).mean()},
                      on_epoch=True, sync_dist=True, batch_size=len(batch["object_id"]))

    def _one_batch_per_step_on_one_process(self) -> bool:
        """Whether the loss's check can wait for the gradients' norm: no other rank waits on this one's
        vote, and no other batch's gradients would be lost with this one's (``optim.accumulate`` 1)."""
        alone = getattr(self, "_trainer", None) is None or self.trainer.world_size == 1
        return alone and self.cfg["optim"]["accumulate"] == 1

    def on_any_rank(self, flags: list[bool]) -> list[bool]:
        """``flags`` OR-ed over all ranks (one all-gather; no communication on one device)."""
        if getattr(self, "_trainer", None) is None or self.trainer.world_size == 1:
            return [bool(f) for f in flags]  # no tensor, no trip to the device and back
        # Through the device's backend (NCCL on GPUs): a wait for the forward pass (right after gsplat's own),
        # ~1 ms whatever the ranks. A vote over the hosts (a gloo group) would not wait for the device, but
        # gloo's ring takes 2(P-1) TCP hops (tens of ms at hundreds of ranks) with the GPU idle meanwhile.
        local = torch.tensor(flags, dtype=torch.uint8, device=self.device)
        return [bool(f) for f in self.all_gather(local).reshape(-1, len(flags)).amax(0)]

    def _skip_counters(self) -> dict[str, torch.Tensor]:
        return {"skipped_nonfinite": self.skipped_nonfinite, "skipped_spike": self.skipped_spike}

    def _logs_written_this_step(self) -> bool:
        """Whether Lightning writes this step's logged values (every ``trainer.log_every`` steps, and the
        step it stops after). Only those steps log: Lightning's bookkeeping of the logged values costs
        the host 2.5 ms per step on a 2-core CPU (``benchmarks/train_host.py``: 0.25 ms when only
        those steps log), time in which the device, its queue short after the optimizer step, waits."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            return True
        # Lightning's own callbacks (LearningRateMonitor, ThroughputMonitor) ask the same question so
        return bool(getattr(getattr(trainer, "_logger_connector", None), "should_update_logs", True))

    def _bar_shown(self) -> bool:
        """Whether a progress bar shows the step's loss and PSNR (then they are logged on every step)."""
        trainer = getattr(self, "_trainer", None)
        return trainer is not None and trainer.progress_bar_callback is not None

    def _log_skip_counters(self, counters: dict | None = None) -> None:
        # one call site's arguments for every step: Lightning refuses one name logged two ways
        if counters is None and not self._logs_written_this_step():
            return
        self.log_dict(counters or host_scalars(self._skip_counters()), on_step=True)

    def _skipped(self, reason: str) -> None:
        """Skipped steps do not advance global_step; a run that only skips must not loop forever.
        Every rank skips together (see training_step); rank zero says so."""
        self._log_skip_counters()
        self._count_skip(self.global_step, reason, int(self.skipped_nonfinite), int(self.skipped_spike))
        return None

    def _count_skip(self, step: int, reason: str, nonfinite: int, spikes: int, check_limit: bool = True) -> None:
        """Rank zero warns of a skipped step; too many in a row stop the run (``optim.max_consecutive_skips``)."""
        if getattr(self, "_trainer", None) is None or self.trainer.is_global_zero:
            log.warning("step %d skipped: %s (so far: %d non-finite, %d spikes)", step, reason, nonfinite, spikes)
        self.consecutive_skips += 1
        if check_limit and self.consecutive_skips >= self.cfg["optim"]["max_consecutive_skips"]:
            raise TrainingStopped(
                f"training diverged: {self.consecutive_skips} steps in a row were skipped "
                f"(non-finite loss: {nonfinite}, gradient spikes: {spikes}); lower optim.lr or check the data"
            )

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
            # one kernel for all parameters instead of a loop of small ones; the device guard needs it (its
            # found_inf and grad_scale)
            fused=self.device.type == "cuda" or o["guard_on_device"],
        )
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: cosine_with_warmup(step, o["warmup_steps"], o["max_steps"]))
        return [opt], [{"scheduler": sched, "interval": "step"}]

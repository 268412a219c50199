"""`train()`: a Lightning run in a run folder: checkpoints, logs, images; resumable after a kill."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from lrmzero.dataset import check_output_folder, remove_stale_temp_files
from lrmzero.errors import ConfigError
from lrmzero.plugin_manager import get_registries
from lrmzero.plugins.trainers.lightning.checkpoints import build_model, read_checkpoint
from lrmzero.plugins.trainers.lightning.config import TrainConfig
from lrmzero.plugins.trainers.lightning.cpu_memory import reuse_freed_memory
from lrmzero.plugins.trainers.lightning.data.datamodule import ViewsDataModule, training_objects
from lrmzero.plugins.trainers.lightning.data.sources import expand_data_roots
from lrmzero.plugins.trainers.lightning.data.startup_check import (StartupCheck, planned_processes,
                                                                   ranks_started_together)
from lrmzero.plugins.trainers.lightning.stop_signals import StopOnSignal, StoppedBySignal, requeue_slurm_job
from lrmzero.plugins.trainers.lightning.module import ReconstructionModule
from lrmzero.plugins.trainers.lightning.progress import progress_bar
from lrmzero.plugins.trainers.lightning.run_folder import (AtomicCheckpointIO, ContinuingCSVLogger,
                                                           check_same_model, newest_checkpoint,
                                                           SnapshotCheckpoint, readable_checkpoint, refuse_existing_run,
                                                           run_checkpoints,
                                                           warn_changed_settings)
from lrmzero.plugins.trainers.lightning.run_lock import hold_run_folder

log = logging.getLogger("lrmzero")


@contextlib.contextmanager
def lightning_info(shown: bool):
    """Lightning's own info lines (the devices it found, why fit stopped) only where ``shown``; its
    warnings always."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning_fabric")]
    levels = [logger.level for logger in loggers]
    if not shown:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _drop_litlogger_tip(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()


CPU_PARAMETERS = 20_000_000  # the tiny preset's network is 0.8M, small's 38M, paper's 303M


def warn_if_too_big_for_a_cpu(net: torch.nn.Module) -> None:
    """Say so before the first step when a network this size trains on a CPU: a paper-size step takes
    minutes there, with nothing on screen until it ends (``small`` seconds a step)."""
    count = sum(p.numel() for p in net.parameters())
    if count > CPU_PARAMETERS:
        log.warning("training a %.0fM-parameter network on the CPU (no CUDA device): steps will be slow "
                    "(paper: minutes each); --preset tiny trains on a CPU in minutes", count / 1e6)


def initial_weights(init: str | Path, settings: dict) -> dict[str, torch.Tensor]:
    """``--init``: the network weights of another run's checkpoint, whose model settings must be these."""
    saved = read_checkpoint(init, "--init")
    check_same_model(saved["hyper_parameters"]["model"], settings["model"], Path(init), "--init")
    return {k[len("net."):]: v for k, v in saved["state_dict"].items() if k.startswith("net.")}


def resume_point(ckpt_dir: Path, settings: dict, option: str) -> tuple[Path, int, int]:
    """Where a resumed run continues: (the newest checkpoint, its step, the global batches drawn so far,
    skipped ones included). Refuses other model settings; warns of other result settings."""
    if not ckpt_dir.is_dir():
        raise ConfigError(f"{option}: {str(ckpt_dir)!r} does not exist; drop {option} to start a new run")
    resume_from, start_step, saved = newest_checkpoint(ckpt_dir, option)
    check_same_model(saved["hyper_parameters"]["model"], settings["model"], resume_from, option)
    warn_changed_settings(saved["hyper_parameters"].get("train", {}), settings, resume_from, option)
    if resume_from.name != "last.ckpt":
        log.warning("%s: continuing from %s (step %d), the newest checkpoint", option, resume_from, start_step)
    # a checkpoint from before the batch counter: its step
    return resume_from, start_step, int(saved["state_dict"].get("batches_seen", start_step))


def quiet_known_warnings() -> None:
    """Leave out warnings that are about nothing this run should change."""
    # StepSampler resumes the data stream by position, which Lightning cannot see.
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
    # The module turns the loader's uint8 views into the model's batch on the device (by design).
    warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
    # A resumed run keeps writing its snapshots (trainer.keep_every) into its own checkpoints folder.
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    # Checkpoints hold the state after the step, which is what resuming needs.
    warnings.filterwarnings("ignore", message=".*ModelCheckpoint with manual optimization.*")
    # Upstream noise at every run, about neither this run nor this code: Lightning's pytree helper
    # trips a torch deprecation, and Lightning advertises its cloud logger.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
    # ... and, under DDP, Lightning's all_gather (the collective guards' vote) trips another one.
    warnings.filterwarnings("ignore", message=".*torch.distributed.nn.functional.all_gather is deprecated.*")
    # A run shorter than trainer.log_every logs fewer rows, as asked; Lightning counts the loader's length
    # (not this run's steps) and suggests a setting the config already owns.
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_drop_litlogger_tip)


def train(roots: Sequence[str], out: str | Path, cfg: TrainConfig, resume: bool | str = False,
          max_steps: int | None = None, progress: bool = True, stop_after_steps: int | None = None,
          init: str | Path | None = None) -> Path:
    """Train into ``out`` (checkpoints/last.ckpt, logs, images); returns the last checkpoint.

    ``max_steps`` sets ``optim.max_steps`` (the schedule's length); ``stop_after_steps`` stops
    earlier with the same schedule, as an interruption would (``resume=True`` continues;
    ``resume="auto"`` continues where ``out`` holds a checkpoint and starts a new run otherwise:
    a requeued job's command). ``init``: start from this checkpoint's network weights (same model
    settings; a new optimizer and schedule from step 0), e.g. the 512 px stage from a 256 px run;
    ignored where ``resume="auto"`` continues a run.

    Raises:
        StoppedBySignal: SIGTERM, SIGUSR1 or Ctrl-C stopped the run after a finished step, which
            ``last.ckpt`` holds (under SLURM, a SIGUSR1 also requeues the job).
    """
    from pytorch_lightning.callbacks import ModelCheckpoint

    roots = expand_data_roots(roots)  # data/zv-* -> the folders it matches
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if max_steps is not None:
        cfg.optim.max_steps = max_steps
    settings = asdict(cfg)
    option = "--auto-resume" if resume == "auto" else "--resume"  # the flag that asked, for messages
    if resume == "auto":  # a requeued job: continue its run if it got as far as a checkpoint
        resume = bool(run_checkpoints(ckpt_dir))
        if resume and init is not None:
            log.warning("--init %s: not used: --auto-resume continues the run in %s", init, out)
            init = None
    # a run of several processes checks its data in their shares, in the DataModule's setup
    t = cfg.trainer
    several = ranks_started_together() or planned_processes(t.accelerator, t.devices, t.num_nodes) > 1
    share = StartupCheck(decode=cfg.data.validate == "full", progress=progress) if several else None
    # data it cannot use fails here, before any work
    objects, val_objects = training_objects(roots, cfg, progress, share)
    check_output_folder(out, "--out")
    # one run per folder (rank 0 holds it for all ranks): a second train into it is refused here
    with hold_run_folder(out, take=rank_zero_only.rank == 0):
        if rank_zero_only.rank == 0:  # a killed checkpoint write's temp file (AtomicCheckpointIO), before writes
            remove_stale_temp_files(ckpt_dir, "*.ckpt")
        if not resume:
            refuse_existing_run(ckpt_dir, "--init" if init is not None else "a new run")
        if init is not None and resume:
            raise ConfigError("--init: given with --resume; --resume continues a run, --init starts a new one "
                              "from another run's weights: use one")
        init_weights = initial_weights(init, settings) if init is not None else None
        resume_from, start_step, start_batch = None, None, 0
        if resume:
            resume_from, start_step, start_batch = resume_point(ckpt_dir, settings, option)
        quiet_known_warnings()
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        model = build_model(settings["model"], get_registries())
        cuda = torch.cuda.is_available() and t.accelerator in ("auto", "gpu", "cuda")
        if not cuda:  # what the CPU cannot run (model.rasterizer=gsplat) is refused before the trainer starts
            model.prepare(torch.device("cpu"))
        module = ReconstructionModule(settings, model, model.build_network())
        if init_weights is not None:
            module.net.load_state_dict(init_weights, strict=True)
        if cfg.trainer.compile:  # in place: parameter names, and so checkpoints, stay as they are
            module.net.compile(**({} if t.compile_mode == "default" else {"mode": t.compile_mode}))
        module.data_roots = [str(r) for r in roots]
        data = ViewsDataModule(roots, cfg, start_batch, objects, val_objects, share)
        precision = t.precision if t.precision != "auto" else ("bf16-mixed" if cuda else "32-true")
        if not cuda:
            warn_if_too_big_for_a_cpu(module.net)
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
        callbacks = [checkpoint]
        if t.keep_every:  # snapshots along the way, for eval curves
            callbacks.append(SnapshotCheckpoint(ckpt_dir, t.keep_every))
        stop_on_signal = StopOnSignal()  # preemption, a time limit, Ctrl-C: stop after the step, saved
        callbacks.append(stop_on_signal)
        with lightning_info(shown=progress):  # --quiet: not Lightning's start-up lines either
            trainer = pl.Trainer(
                default_root_dir=str(out), max_steps=stop_after_steps or cfg.optim.max_steps, accelerator=t.accelerator,
                devices=t.devices, strategy=t.strategy, num_nodes=t.num_nodes, precision=precision,
                logger=loggers, callbacks=callbacks + ([progress_bar()] if progress else []),
                log_every_n_steps=t.log_every,
                enable_progress_bar=progress, enable_model_summary=False, deterministic=False,
                num_sanity_val_steps=0, max_epochs=-1, plugins=[AtomicCheckpointIO()],
                use_distributed_sampler=False,  # StepSampler gives each rank its own share of the stream
                # validation counts training batches: a step is optim.accumulate of them
                limit_val_batches=None if val_objects else 0, check_val_every_n_epoch=None,  # None: all, silently
                val_check_interval=t.val_every * cfg.optim.accumulate,
            )
            if cuda:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
            else:
                reuse_freed_memory()  # ~12% more steps/s for the tiny preset on a CPU (see cpu_memory)
            trainer.fit(module, datamodule=data, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
            saved_last = readable_checkpoint(last) if last.is_file() else None
            stale = saved_last is None or saved_last[0] != trainer.global_step
            if not last.is_file() or (trainer.global_step and stale):
                trainer.save_checkpoint(str(last))  # fewer steps than checkpoint_every, or a stop between saves
        if module.stopped_on_request and trainer.global_step < cfg.optim.max_steps:
            if "SIGUSR1" in stop_on_signal.received and trainer.is_global_zero and "SLURM_JOB_ID" in os.environ:
                requeue_slurm_job()  # SLURM's warning ahead of the time limit (--signal=USR1@N)
            raise StoppedBySignal(stop_on_signal.received, trainer.global_step, cfg.optim.max_steps, last)
        return last



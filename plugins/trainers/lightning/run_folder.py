"""A training run's folder on disk: atomic checkpoints, the newest checkpoint to resume from, and a
metrics log that a resumed run continues instead of replacing."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from lrmzero.dataset import TMP_PREFIX, write_atomic
from lrmzero.errors import ConfigError
from lrmzero.plugins.trainers.lightning.checkpoints import read_checkpoint

log = logging.getLogger("lrmzero")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves each checkpoint to a temp file beside its final path, flushed to disk, then renames it.

    Lightning's own save goes through an fsspec transaction whose temp file lives in the system
    temp folder, so the final step is a copy across filesystems and a full disk leaves a partial
    ``.ckpt``. Here the old checkpoint stays intact until the new one is complete.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: torch.save(checkpoint, f))


def readable_checkpoint(path: Path) -> tuple[int, dict[str, Any]] | None:
    """(``global_step``, contents) of a checkpoint, memory-mapped (cheap), or None if unreadable."""
    try:
        ckpt = read_checkpoint(path, mmap=True)
    except ConfigError:
        return None
    step = ckpt.get("global_step")
    return (int(step), ckpt) if isinstance(step, int) else None


SNAPSHOT_PREFIX = "step_"  # checkpoints/step_NNNNNN.ckpt: trainer.keep_every's weights-only snapshots


class SnapshotCheckpoint(ModelCheckpoint):
    """``trainer.keep_every``'s snapshots: ``checkpoints/step_NNNNNN.ckpt``, weights only (what eval
    reads; a third of a full checkpoint), every one kept, never resumed from (:func:`newest_checkpoint`)."""

    def __init__(self, ckpt_dir: Path, every: int) -> None:
        super().__init__(dirpath=ckpt_dir, filename=f"{SNAPSHOT_PREFIX}{{step:06d}}", auto_insert_metric_name=False,
                         every_n_train_steps=every, save_top_k=-1, save_weights_only=True,
                         enable_version_counter=False)

    @property
    def state_key(self) -> str:  # Lightning refuses two checkpoint callbacks with one key (same cadence)
        return f"snapshots:{super().state_key}"


def newest_checkpoint(ckpt_dir: Path, option: str = "--resume") -> tuple[Path, int, dict[str, Any]]:
    """The checkpoint of ``ckpt_dir`` with the most steps (``last.ckpt`` wins ties): its path, step
    and contents (memory-mapped; each candidate is read once). ``option``: the flag that asked
    (``--resume`` or ``--auto-resume``), for the messages.

    A copied or moved run, or one that Lightning versioned (``last-v1.ckpt``), resumes from where it
    really got to; unreadable files (a partial write) are passed over with a warning, and weights-only
    snapshots (``trainer.keep_every``: no optimizer state to resume) without one.

    Raises:
        ConfigError: when the folder holds no readable checkpoint.
    """
    candidates = sorted(ckpt_dir.glob("*.ckpt"), key=lambda p: (p.name != "last.ckpt", p.name))
    best: tuple[Path, int, dict[str, Any]] | None = None
    for path in candidates:
        read = readable_checkpoint(path)
        if read is None:
            log.warning("%s: passing over %s: not a readable lrmzero checkpoint", option, path)
            continue
        if "optimizer_states" not in read[1]:
            continue  # a weights-only snapshot: for eval, not for resuming
        if best is None or read[0] > best[1]:
            best = (path, *read)
    if best is None:
        found = ", ".join(p.name for p in candidates) or "no .ckpt files"
        raise ConfigError(f"{option}: {str(ckpt_dir)!r} holds no readable checkpoint ({found}); "
                          f"start a new run with another --out, or drop {option}")
    return best


def run_checkpoints(ckpt_dir: Path) -> list[Path]:
    """The ``.ckpt`` files of a run's checkpoint folder, sorted (none where it does not exist)."""
    return sorted(ckpt_dir.glob("*.ckpt")) if ckpt_dir.is_dir() else []


def refuse_existing_run(ckpt_dir: Path, starting: str) -> None:
    """Refuse to start a run where one already left checkpoints: Lightning would overwrite its
    ``last.ckpt`` and delete its ``metrics.csv``.

    Raises:
        ConfigError: naming ``--out``, the checkpoints found (with the newest step) and the choices.
    """
    found = run_checkpoints(ckpt_dir)
    if not found:
        return
    steps = [read[0] for read in map(readable_checkpoint, found) if read is not None]
    at = f", the newest at step {max(steps)}" if steps else ""
    names = ", ".join(p.name for p in found[:3]) + (" ..." if len(found) > 3 else "")
    raise ConfigError(
        f"--out: {str(ckpt_dir.parent)!r} already holds a training run (checkpoints/{names}{at}); {starting} "
        "would overwrite its checkpoints and logs; allowed: --resume (or --auto-resume) to continue it, "
        "or another --out (or delete the folder first)"
    )


def check_same_model(saved: dict[str, Any], current: dict[str, Any], path: Path, option: str = "--resume") -> None:
    """Refuse to resume from (or initialize with) a checkpoint whose model settings differ.

    Raises:
        ConfigError: naming ``option``, the first differing key and both values.
    """
    for key in sorted(set(saved) | set(current), key=lambda k: (k != "name", k)):  # another model first
        if saved.get(key) != current.get(key):
            raise ConfigError(
                f"{option}: {str(path)!r} was trained with model.{key}={saved.get(key)!r}, this run has "
                f"model.{key}={current.get(key)!r}; use the same model settings"
                + (" or a new --out" if option in ("--resume", "--auto-resume") else "")
            )


# The sections whose settings decide what a run computes (the model's are refused outright); how it runs
# (trainer: devices, logging, checkpoints; loader processes; the start-up check) and how long
# (optim.max_steps: extending a run is what --resume --max-steps is for) may change without a word.
RESULT_SETTINGS = ("seed", "data", "optim", "loss")
UNSAID_SETTINGS = ("optim.max_steps", "data.num_workers", "data.validate")


def changed_settings(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf setting that differs between two nested config dicts
    (keys present on one side only count as changed), in key order."""
    changes = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += changed_settings(old, new, f"{prefix}{key}.")
        elif old != new:
            changes.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return changes


def warn_changed_settings(saved: dict[str, Any], current: dict[str, Any], path: Path,
                          option: str = "--resume") -> None:
    """Say which settings in :data:`RESULT_SETTINGS` differ from those of the run being resumed:
    the run goes on with the new ones, but is then no longer the run an uninterrupted one would
    have been."""
    changes = [c for c in changed_settings({k: v for k, v in saved.items() if k in RESULT_SETTINGS},
                                           {k: v for k, v in current.items() if k in RESULT_SETTINGS})
               if c.split(":", 1)[0] not in UNSAID_SETTINGS]
    if changes and rank_zero_only.rank == 0:  # every DDP process resumes; one says it
        shown = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
        log.warning("%s: %s was trained with other settings, the run goes on with this run's: %s",
                    option, path, shown)


class _ContinuingWriter(ExperimentWriter):
    """Keeps ``metrics.csv`` rows logged before ``start_step`` (Lightning's writer deletes the file
    when its folder is not empty); rows at or after it are dropped, since the resumed run logs
    those steps again."""

    def __init__(self, log_dir: str, start_step: int | None) -> None:
        self.start_step = start_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if self.start_step is None:
            super()._check_log_dir_exists()
            return
        if not path.is_file():  # a resumed run that logged no row yet: nothing to keep, nothing to warn of
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if _step_of(r) is not None and _step_of(r) < self.start_step]
        tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
        self.metrics_keys = sorted(keys)


def _step_of(row: dict) -> int | None:
    try:
        return int(float(row.get("step") or ""))
    except ValueError:
        return None


class ContinuingCSVLogger(CSVLogger):
    """Lightning's CSVLogger, except that a resumed run appends to ``metrics.csv`` (from
    ``start_step``) instead of replacing it."""

    def __init__(self, *args: Any, start_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_step = start_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:  # type: ignore[override]
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self._start_step)
        return self._experiment

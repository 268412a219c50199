"""Stopping a training run cleanly on a signal: a cluster's preemption (SIGTERM), a time limit announced
ahead (SLURM's ``--signal=USR1@120``) or Ctrl-C. The run finishes the optimizer step it is in, every rank
stops after the same step (the request rides on the step's existing vote, see
``ReconstructionModule.on_any_rank``), ``last.ckpt`` is saved, and ``--resume`` / ``--auto-resume``
continue exactly there. Lightning's own handling raises at the next batch without saving (SIGTERM), or
saves from inside the signal handler, between any two lines of a step (SLURM's auto-requeue); both lose
or tear the step in progress.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytorch_lightning as pl

log = logging.getLogger("lrmzero")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


class StoppedBySignal(Exception):
    """A signal stopped training after a finished step; ``checkpoint`` holds that step."""

    def __init__(self, signals: list[str], step: int, max_steps: int, checkpoint: Path) -> None:
        self.signals, self.step, self.max_steps, self.checkpoint = signals, step, max_steps, checkpoint
        received = signals[0] if signals else "a signal to another rank"
        super().__init__(f"stopped at step {step} of {max_steps} on {received}: {checkpoint} holds it; "
                         "--resume (or --auto-resume) continues from there")

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a process killed by it reports (schedulers read it as interrupted)."""
        return 128 + (signal.Signals[self.signals[0]].value if self.signals else signal.SIGTERM.value)


class StopOnSignal(pl.Callback):
    """Turns SIGTERM, SIGUSR1 and the first Ctrl-C into a request to stop after the current optimizer
    step (``pl_module.stop_requested``); a second Ctrl-C stops at once (KeyboardInterrupt). The
    handlers are installed when training starts (after Lightning's own) and put back when it ends."""

    def __init__(self) -> None:
        self.received: list[str] = []  # the signals this process received, by name
        self._previous: dict[int, object] = {}
        self._module: pl.LightningModule | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        self._module = pl_module
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGINT and "SIGINT" in self.received:
            raise KeyboardInterrupt  # the second Ctrl-C: now, as Lightning would
        first = not self.received
        self.received.append(name)
        if self._module is not None:
            self._module.stop_requested = True
        if first:
            log.warning("%s: stopping after this optimizer step, saving checkpoints/last.ckpt%s", name,
                        " (Ctrl-C again to stop now)" if signum == signal.SIGINT else "")

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()


def ignore_stop_signals() -> None:
    """For a data-loader worker: SIGTERM, SIGUSR1 and SIGINT go to the whole job or terminal (SLURM
    signals every process of a step), and a worker they killed would end the run before the main
    process could save; the main process decides, and ends its workers itself."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def loader_worker_init(worker_id: int, rank: int = 0) -> None:
    """A training loader's ``worker_init_fn``: :func:`ignore_stop_signals`, then Lightning's seeding of
    the worker (which it adds itself only where a loader has no ``worker_init_fn``)."""
    from lightning_fabric.utilities.seed import pl_worker_init_function

    ignore_stop_signals()
    pl_worker_init_function(worker_id, rank)


def requeue_slurm_job() -> bool:
    """``scontrol requeue`` of this SLURM job (an array task: its own), after a SIGUSR1 that SLURM sent
    ahead of the time limit, as Lightning's auto-requeue does; the requeued job's command continues
    the run with ``--auto-resume``. Returns whether it was requeued."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array_job}_{task}" if array_job and task else os.environ.get("SLURM_JOB_ID")
    if not job:
        return False
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("SLURM job %s not requeued: scontrol: %s", job, exc)
        return False
    if done.returncode != 0:
        log.warning("SLURM job %s not requeued: scontrol requeue exited %d: %s", job, done.returncode,
                    done.stderr.strip())
        return False
    log.warning("SLURM job %s requeued; its command continues this run with --auto-resume", job)
    return True

"""`lrmzero eval --snapshots`: the metrics of a run along its training, one row per kept snapshot
(``trainer.keep_every``: ``checkpoints/step_NNNNNN.ckpt``) and its last checkpoint."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lrmzero.dataset import check_output_file, write_atomic
from lrmzero.errors import ConfigError
from lrmzero.plugins.trainers.lightning.run_folder import SNAPSHOT_PREFIX, readable_checkpoint

log = logging.getLogger("lrmzero")


def run_checkpoints_by_step(run: str | Path) -> list[tuple[int, Path]]:
    """(step, file) of a run's snapshots and of its ``last.ckpt`` (left out where a snapshot has its
    step), by step. ``run``: the run folder or its ``checkpoints`` folder.

    Raises:
        ConfigError: ``run`` is not such a folder, or none of its checkpoints can be read.
    """
    run = Path(run)
    folder = run / "checkpoints" if (run / "checkpoints").is_dir() else run
    if not run.is_dir() or not any(folder.glob("*.ckpt")):
        raise ConfigError(f"--checkpoint: {str(run)!r} is not a run folder with checkpoints; --snapshots needs "
                          "the run folder of lrmzero train (or its checkpoints folder)")
    steps: dict[int, Path] = {}
    for path in sorted(folder.glob(f"{SNAPSHOT_PREFIX}*.ckpt")) + [folder / "last.ckpt"]:
        read = readable_checkpoint(path) if path.is_file() else None
        if read is not None:
            steps.setdefault(read[0], path)
    if not steps:
        raise ConfigError(f"--checkpoint: {str(folder)!r} holds no readable checkpoint")
    return sorted(steps.items())


def evaluate_snapshots(run: str | Path, data: str, json_path: str | None = None, report: str | None = None,
                       **options: Any) -> list[dict[str, Any]]:
    """:func:`lrmzero.plugins.trainers.lightning.evaluate.evaluate` of every checkpoint of
    :func:`run_checkpoints_by_step` on ``data`` (``options``: its other arguments); ``report``: one
    sub-folder per step (``step_NNNNNN``); ``json_path``: the rows as a JSON list. Returns the rows:
    ``step``, ``checkpoint`` and the result of each."""
    from lrmzero.plugins.trainers.lightning.evaluate import evaluate

    if json_path:
        check_output_file(json_path, "--json")
    rows = []
    said: set[str] = set()

    def once(record: logging.LogRecord) -> bool:  # the data's and LPIPS's notes are the same for every step
        message = record.getMessage()
        if message in said:
            return False
        said.add(message)
        return True

    log.addFilter(once)
    try:
        for step, path in run_checkpoints_by_step(run):
            where = None if report is None else str(Path(report) / f"{SNAPSHOT_PREFIX}{step:06d}")
            rows.append({"step": step, "checkpoint": str(path), **evaluate(str(path), data, report=where, **options)})
    finally:
        log.removeFilter(once)
    if json_path:
        write_atomic(json_path, (json.dumps(rows, indent=1) + "\n").encode())
    return rows


def format_curve(rows: list[dict[str, Any]]) -> str:
    """One line per step (PSNR, SSIM, LPIPS of the model), then the baselines (the same for all)."""
    from lrmzero.plugins.trainers.lightning.evaluate import baseline_lines, metric_line, table_head

    steps = [metric_line(row["step"], row["mean"]["psnr"], row["mean"]["ssim"], row["mean"]["lpips"]) for row in rows]
    return "\n".join([*table_head(rows[0], "step"), *steps, *baseline_lines(rows[0])])

"""The trainer's start-up check of its datasets: every object checked (or a record of a clean check
trusted) before the first step, so that a run never spends hours to fail on a broken view.

A run of one process checks before fit. A run of several (a cluster launcher starting every rank at
once: torchrun, SLURM's srun, LSF, MPI; or Lightning starting ``trainer.devices`` processes) checks
once their process group is up (:func:`shared_check`, from the DataModule's ``setup``): each rank its
own share of the objects, then every rank sees every share's result, so all refuse the same broken
objects or all go on, and rank zero records the clean check. (Before, each rank started together
checked the whole dataset itself, hours per rank at paper scale; Lightning's launcher left it to rank
zero alone.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from lrmzero.errors import ConfigError

log = logging.getLogger("lrmzero")


@dataclass
class StartupCheck:
    """What the check before ``fit`` left to the ranks' shared check, per dataset root."""

    decode: bool = True  # views decoded (data.validate=full), or headers only
    # root -> its fingerprint taken before fit (None: none), for the roots no record covered on this rank
    unchecked: dict[str, str | None] = field(default_factory=dict)
    progress: bool = False
    needed: int = 0  # views a training step needs: objects with fewer are left out (by the shared check)
    objects: tuple[list, Any] | None = None  # all usable objects and weights before the held-out split


def ranks_started_together() -> bool:
    """Whether a cluster launcher started this process beside the other ranks (torchrun, srun, jsrun,
    mpirun: Lightning's externally launched environments), rather than ``lrmzero train`` starting
    ranks 1..N-1 itself after rank zero's start-up (Lightning's own launcher)."""
    from lightning_fabric.plugins.environments import (LSFEnvironment, MPIEnvironment, SLURMEnvironment,
                                                       TorchElasticEnvironment)

    return any(env.detect() for env in (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment, MPIEnvironment))


def planned_processes(accelerator: str, devices: Any, num_nodes: int) -> int:
    """How many processes Lightning will run for these trainer settings (devices x machines), by
    Lightning's own device parsing; 1 where it cannot tell (a wrong guess only moves the check: to
    rank 0 before fit, or to every rank's share in setup)."""
    from pytorch_lightning.accelerators import AcceleratorRegistry

    name = "cuda" if accelerator == "gpu" else accelerator
    if name == "auto":
        name = "cuda" if AcceleratorRegistry["cuda"]["accelerator"].is_available() else "cpu"
    try:
        kind = AcceleratorRegistry[name]["accelerator"]
        count = kind.auto_device_count() if devices == "auto" else len(kind.get_parallel_devices(
            kind.parse_devices(devices)))
    except Exception:  # noqa: BLE001 - Lightning says what is wrong with the settings when the run starts
        return 1
    return max(1, count) * max(1, num_nodes)


def refusal(root: str | Path, report) -> ConfigError:
    """The error refusing ``root`` for the problems of ``report`` (a DatasetReport), up to 20 listed."""
    lines = report.lines(limit=20)
    return ConfigError(f"--data: {str(root)!r} fails validation: {lines[0].split(': ', 1)[1]}: "
                       + "; ".join(lines[1:]) + " (fix or remove them, or set data.validate=none to skip "
                       "broken objects with a warning during the run)")


def refuse_invalid(roots: Sequence[str], decode: bool = True, progress: bool = False,
                   share: StartupCheck | None = None) -> dict[str, int | None]:
    """Check every object of every root (:func:`lrmzero.dataset_check.check_dataset`), unless a clean
    check of the same level already recorded it unchanged (``validated.json``: at paper scale the
    check decodes 25M views, hours per launch and per rank, so ``lrmzero validate`` once and every
    launch after reads the record). A clean check made here is recorded too (by rank 0). Returns the
    fewest views of an object of each root checked or trusted (None where unknown), for
    :func:`mixed_objects`.

    ``share``: ranks started together leave the roots no record covers to :func:`shared_check`
    (filled into ``share``) instead of checking them here.

    Raises:
        ConfigError: listing each bad object and why (up to 20), and how to go on anyway.
    """
    from pytorch_lightning.utilities import rank_zero_only

    from lrmzero.dataset_check import RECORD, check_and_record, check_workers, dataset_fingerprint, matching_record
    from lrmzero.plugins.trainers.lightning.data.sources import data_source_name

    fewest: dict[str, int | None] = {}
    for root in roots:
        if data_source_name(root) is not None:
            continue  # made on the fly: nothing on disk to check
        fingerprint = dataset_fingerprint(root)  # before the check: a change during it is seen next time
        record = matching_record(root, decode, fingerprint)
        if record is not None:
            if rank_zero_only.rank == 0:
                log.warning("--data %s: not checked again: %s records a clean check of these %s objects (%s)",
                            root, RECORD, record.get("objects"), record.get("checked_at"))
            views = record.get("min_views")
            fewest[str(root)] = views if isinstance(views, int) else None
            continue
        if share is not None:
            share.unchecked[str(root)] = fingerprint
            fewest[str(root)] = None
            continue
        report, _ = check_and_record(root, decode=decode, workers=check_workers(),
                                     progress=progress and rank_zero_only.rank == 0,
                                     record=rank_zero_only.rank == 0, fingerprint=fingerprint)
        fewest[str(root)] = report.min_views if report.ok else None
        if report.problems and report.objects:
            raise refusal(root, report)
    return fewest


def shared_check(check: StartupCheck, rank: int, world: int) -> dict[str, set[str]]:
    """The ranks' check of the roots :func:`refuse_invalid` left them: every rank calls it (it is
    collective), checks objects ``rank, rank + world, ...`` of each root no rank trusted a record of,
    and receives every share's result; rank 0 records a clean check. A rank whose node holds a record
    (a cache folder of its own) still takes part, so that all ranks decide alike. Returns, per root
    checked, the objects with fewer than ``check.needed`` views (their views were counted here, not
    before fit: see ``mixed_objects``'s ``uncounted``).

    Raises:
        ConfigError: on every rank alike, listing each bad object and why (up to 20).
    """
    import torch.distributed as dist

    from lrmzero.dataset_check import DatasetReport, check_dataset, check_workers, write_record

    distributed = world > 1 and dist.is_available() and dist.is_initialized()

    def gathered(value):
        if not distributed:
            return [value]
        values = [None] * world
        dist.all_gather_object(values, value)
        return values

    # a root is checked unless every rank trusted a record of it
    per_rank = gathered(sorted(check.unchecked))
    roots = sorted({root for roots in per_rank for root in roots})
    if not roots:
        return {}
    if rank == 0:
        log.warning("--data %s: no record of a clean check: the %d ranks check it together, each 1/%d of the "
                    "objects (lrmzero validate records one, and every launch after trusts it)",
                    ", ".join(roots), world, world)
    reports = {root: check_dataset(root, decode=check.decode, workers=check_workers(),
                                   progress=check.progress and rank == 0, part=(rank, world),
                                   fingerprint=check.unchecked.get(root), min_views=check.needed) for root in roots}
    shares = gathered(reports)
    too_few = {}
    for root in roots:
        report = DatasetReport.merge([share[root] for share in shares])
        if report.problems and report.objects:
            error = refusal(root, report)
            error.shown = rank == 0  # every rank refuses; one says why
            raise error
        if rank == 0 and root in check.unchecked:
            write_record(root, report, check.decode, check.unchecked[root])
        too_few[root] = set(report.too_few)
    return too_few

"""Votes among the ranks on values the host already holds (a batch with no usable object, a request to
stop), taken over the hosts so that the vote never waits for the device.

On GPUs the default process group is NCCL's: a vote through it is a device tensor, all-gathered on the
device's stream behind the step's forward pass, and reading the result makes the host wait for that
forward pass; the GPU then idles while the host launches the backward pass. A gloo group (torch's own,
over the same rendezvous) all-reduces host memory: the hosts wait only for each other, which they reach at
about the same time, well ahead of their devices.
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist

log = logging.getLogger("lrmzero")


def host_vote_group() -> dist.ProcessGroup | None:
    """The process group for :func:`vote_on_any_rank`: the default group where its backend is gloo (CPU
    training), else a new gloo group over all ranks; None where there is no distributed run. Every rank
    must call it, in the same order as its other collective calls (a new group is a collective).
    Where a gloo group cannot be made, warns and returns the default group (the vote then waits for
    the device, as a device tensor's does)."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    if dist.get_backend() == "gloo":
        return dist.group.WORLD
    try:
        return dist.new_group(backend="gloo")
    except RuntimeError as error:
        log.warning("the ranks' votes (unusable batches, stop requests) go through the %s group and wait for the "
                    "device each step: no gloo group could be made (%s)", dist.get_backend(), error)
        return dist.group.WORLD


def vote_on_any_rank(flags: list[bool], group: dist.ProcessGroup | None,
                     device: torch.device | None = None) -> list[bool]:
    """``flags`` OR-ed over the ranks of ``group`` (one all-reduce of host memory where ``group`` is
    gloo's; on ``device`` otherwise, the only way through NCCL). Every rank passes as many flags."""
    if group is None:
        return [bool(f) for f in flags]
    on_host = dist.get_backend(group) == "gloo"
    votes = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int32, device=None if on_host else device)
    dist.all_reduce(votes, op=dist.ReduceOp.MAX, group=group)
    return [bool(v) for v in votes.tolist()]

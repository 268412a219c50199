"""The ranks' votes over the hosts (``host_vote``): OR over ranks, in host memory, through a gloo group
made beside a device backend's default group (stood in for here: the CPU has no NCCL)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lrmzero.plugins.trainers.lightning.host_vote import host_vote_group, vote_on_any_rank

FLAGS = {0: [True, False, False, False], 1: [False, False, True, False]}


def _vote(rank: int, store: str, out: str, default_backend: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    real_get_backend = dist.get_backend
    if default_backend != "gloo":  # what the default group says of itself on GPUs
        dist.get_backend = lambda group=None: default_backend if group is None else real_get_backend(group)
    sent = []
    real_all_reduce = dist.all_reduce

    def all_reduce(tensor, *args, **kwargs):
        sent.append(str(tensor.device))
        return real_all_reduce(tensor, *args, **kwargs)

    dist.all_reduce = all_reduce
    try:
        group = host_vote_group()
        result = {"votes": [vote_on_any_rank(FLAGS[rank], group), vote_on_any_rank([rank == 1], group)],
                  "own_group": group is not dist.group.WORLD, "backend": real_get_backend(group), "sent": sent}
    finally:
        dist.get_backend, dist.all_reduce = real_get_backend, real_all_reduce
        dist.destroy_process_group()
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


def _run(tmp_path: Path, default_backend: str) -> list[dict]:
    mp.spawn(_vote, args=(str(tmp_path / "store"), str(tmp_path), default_backend), nprocs=2, join=True)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_a_device_backend_gets_a_gloo_group_and_every_rank_the_same_or(tmp_path):
    for result in _run(tmp_path, "nccl"):
        assert result["votes"] == [[True, False, True, False], [True]]
        assert result["own_group"] and result["backend"] == "gloo"
        assert result["sent"] == ["cpu", "cpu"]  # host memory, never the device


def test_a_gloo_run_votes_in_its_default_group(tmp_path):
    for result in _run(tmp_path, "gloo"):
        assert result["votes"] == [[True, False, True, False], [True]]
        assert not result["own_group"] and result["backend"] == "gloo"


def test_without_a_distributed_run_the_flags_are_this_process_own():
    assert host_vote_group() is None
    assert vote_on_any_rank([1, 0, True], None) == [True, False, True]
    assert not torch.distributed.is_initialized()

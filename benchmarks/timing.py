"""Wall time of repeated calls on a CPU or a CUDA device, shared by the benchmark scripts."""

from __future__ import annotations

import time
from typing import Callable

import torch


def seconds_per_call(fn: Callable[[], object], repeats: int, cuda: bool) -> float:
    """Mean wall time of ``repeats`` calls of ``fn``, the device synchronized before and after (CUDA
    calls return before their kernels finish). Warm up first: nothing here excludes a first call."""
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeats

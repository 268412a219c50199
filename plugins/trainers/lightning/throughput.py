"""Training throughput for the logs: optimizer steps and objects per second, and model FLOP utilization."""

from __future__ import annotations

from collections import deque
from typing import Optional

import torch


def training_flops(flops_per_object: float, objects: int | float) -> float:
    """FLOPs of a training step over ``objects`` objects as MFU counts them: 3 x the forward pass's
    (the backward pass as twice the forward), by the model's own count (``flops_per_object``)."""
    return 3 * flops_per_object * objects


class Throughput:
    """Rates over the last ``window`` optimizer steps, from the host's wall clock at each step's end.

    The trainer logs rates on steps whose numbers it has read from the device (with the host guard every
    step; with the device guard at once on the steps with a log row), so a window between two of them is
    the device's time, not the host's running ahead. MFU = :func:`training_flops` per second /
    ``peak_flops``, where both are known (a model that counts its FLOPs, a GPU whose dense peak is known:
    :func:`peak_flops`), else left out.
    """

    def __init__(self, window: int, flops_per_object: Optional[float] = None,
                 peak_flops: Optional[float] = None) -> None:
        self.flops_per_object = flops_per_object
        self.peak_flops = peak_flops
        self.times: deque[float] = deque(maxlen=max(2, window + 1))
        self.objects: deque[int] = deque(maxlen=max(2, window + 1))
        self.paused_at: Optional[float] = None
        self.paused = 0.0  # seconds of pauses so far, left out of the training's time

    def pause(self, now: float) -> None:
        """Time from ``now`` until :meth:`resume` is not training's (a validation)."""
        self.paused_at = now

    def resume(self, now: float) -> None:
        if self.paused_at is not None:
            self.paused += now - self.paused_at
            self.paused_at = None

    def step(self, objects: int, now: float) -> dict[str, float]:
        """Record a finished step of ``objects`` objects at time ``now`` (seconds); returns
        ``steps_per_s``, ``objects_per_s`` and ``mfu`` (a fraction) over the window, {} until two
        steps were seen."""
        self.times.append(now - self.paused)
        self.objects.append(objects)
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return {}
        seconds = self.times[-1] - self.times[0]
        objects_per_s = sum(list(self.objects)[1:]) / seconds  # the objects of the steps that ended in the window
        rates = {"steps_per_s": (len(self.times) - 1) / seconds, "objects_per_s": objects_per_s}
        if self.flops_per_object and self.peak_flops:
            rates["mfu"] = training_flops(self.flops_per_object, objects_per_s) / self.peak_flops
        return rates


# Dense bf16/fp16 tensor-core peaks (FLOP/s) of cards Lightning's table gets wrong for MFU: it has no entry
# for the name an H200 SXM gives ("NVIDIA H200"), and its H200 entries hold the datasheet's figures with
# sparsity (2.0e15), twice the dense peak MFU counts against (an H200 computes as an H100 SXM: 989.4
# TFLOP/s; the NVL 835.5). Matched in this order in the lower-cased device name.
DENSE_16BIT_PEAKS = {"h200 nvl": 835.5e12, "h200": 989.4e12}


def peak_flops(device: torch.device, precision: str) -> Optional[float]:
    """The device's dense peak FLOP/s at the precision's compute dtype (:data:`DENSE_16BIT_PEAKS`, else
    Lightning's table of GPUs), or None (a CPU, a GPU neither knows)."""
    if device.type != "cuda":
        return None
    from lightning_fabric.utilities.throughput import get_available_flops

    dtype = torch.bfloat16 if "bf16" in precision else torch.float16 if "16" in precision else torch.float32
    if dtype != torch.float32:
        name = torch.cuda.get_device_name(device).lower()
        peak = next((flops for chip, flops in DENSE_16BIT_PEAKS.items() if chip in name), None)
        if peak is not None:
            return peak
    return get_available_flops(device, dtype)

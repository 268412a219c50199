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

    The trainer's step waits for the device once (the gradient guard reads the norm), so the host's
    time between steps is the device's. MFU = :func:`training_flops` per second / ``peak_flops``, where
    both are known (a model that counts its FLOPs, a GPU whose peak
    Lightning knows), else left out.
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


def peak_flops(device: torch.device, precision: str) -> Optional[float]:
    """The device's peak FLOP/s at the precision's compute dtype (Lightning's table of GPUs), or None
    (a CPU, a GPU the table lacks)."""
    if device.type != "cuda":
        return None
    from lightning_fabric.utilities.throughput import get_available_flops

    dtype = torch.bfloat16 if "bf16" in precision else torch.float16 if "16" in precision else torch.float32
    return get_available_flops(device, dtype)

"""A step's scalars (loss, terms, gradient norm, counters) copied from the device to the host: at once
(:func:`host_scalars`, a wait for the device) or queued and read later (:class:`PendingScalars`, no wait
when read after the device has gone on to later work).

Why it matters: each wait drains the device's queue, and the device then idles while the host prepares
the next work (a GPU step's milliseconds lost per wait)."""

from __future__ import annotations

import torch


def host_scalars(values: dict) -> dict[str, torch.Tensor]:
    """Scalars (tensors on any device, Python numbers) as 0-dim float32 CPU tensors, the device's in one
    copy. Lightning logs CPU tensors without touching the device; a device tensor it reads with a wait
    for everything queued before, and a Python number it first copies to the device."""
    on_device = [k for k, v in values.items() if torch.is_tensor(v) and v.device.type != "cpu"]
    out = {k: v.detach().float().reshape(()) if torch.is_tensor(v) else torch.tensor(float(v))
           for k, v in values.items() if k not in on_device}
    if on_device:
        copied = torch.stack([values[k].detach().float().reshape(()) for k in on_device]).cpu()
        out.update(zip(on_device, copied.unbind()))
    return {k: out[k] for k in values}


class PendingScalars:
    """0-dim tensors (any device) copied to the host behind the device's queued work, without waiting.

    :meth:`read` waits only for the work that computed them (a CUDA event), not for the work queued
    since: read one step later, it finds them done. ``step`` is the optimizer step they belong to."""

    def __init__(self, values: dict[str, torch.Tensor], step: int) -> None:
        self.step = step
        self.keys = list(values)
        stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
        self._event = None
        if stacked.device.type == "cuda":
            self._host = stacked.to("cpu", non_blocking=True)  # into pinned memory: the copy is queued
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = stacked.cpu()
        self._read: dict[str, torch.Tensor] | None = None

    def read(self) -> dict[str, torch.Tensor]:
        """The values as 0-dim float32 CPU tensors (waiting for the copy if the device is not there yet)."""
        if self._read is None:
            if self._event is not None:
                self._event.synchronize()
            self._read = dict(zip(self.keys, self._host.unbind()))  # the copy is this object's alone
        return self._read

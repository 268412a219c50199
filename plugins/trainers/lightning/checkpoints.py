"""Build models from the registries; read trained checkpoints (data only) without Lightning."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from lrmzero.errors import ConfigError
from lrmzero.registry import Registries

log = logging.getLogger("lrmzero")


def build_model(model_cfg: dict, registries: Registries):
    """The model component of a spec ``{"name": ..., **config}`` (validated against its Config).

    Raises:
        PluginError / ConfigError: an unknown model name or a value the model refuses.
    """
    spec = dict(model_cfg)
    name = spec.pop("name")
    return registries.models.build(name, spec, "model")


def checkpoint_file(path: str | Path, option: str = "--checkpoint") -> Path:
    """``path``, or where it is a run folder (``--out`` of ``lrmzero train``) or its ``checkpoints``
    folder, the ``last.ckpt`` inside.

    Raises:
        ConfigError: a folder with no ``last.ckpt`` there.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    found = next((p for p in (path / "checkpoints" / "last.ckpt", path / "last.ckpt") if p.is_file()), None)
    if found is None:
        raise ConfigError(f"{option}: {str(path)!r} is a folder without checkpoints/last.ckpt; allowed: a "
                          ".ckpt file or a run folder of lrmzero train")
    return found


def read_checkpoint(path: str | Path, option: str = "--checkpoint", mmap: bool = False) -> dict[str, Any]:
    """The contents of a checkpoint written by ``lrmzero train``, loaded as *data only*.

    ``torch.load(weights_only=True)`` refuses anything but tensors and plain containers, so a
    crafted file cannot run code while it is read (a pickle with other objects is refused).

    ``path`` may also be a run folder or its ``checkpoints`` folder (:func:`checkpoint_file`).

    Raises:
        ConfigError: naming ``option`` and the file when it is missing, empty, truncated, not a
            checkpoint, holds objects other than data, or was not written by ``lrmzero train``.
    """
    path = checkpoint_file(path, option)
    if not path.is_file():
        raise ConfigError(f"{option}: {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise ConfigError(f"{option}: {str(path)!r} is empty; allowed: a checkpoint written by lrmzero train")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - truncated zips, foreign pickles, random bytes: all refused
        reason = " ".join(str(exc).split())
        if "Weights only load failed" in reason or "Unsupported global" in reason:
            reason = "it holds objects other than tensors and plain data, which are never loaded"
        raise ConfigError(
            f"{option}: {str(path)!r} cannot be read as an lrmzero checkpoint ({reason[:300]})"
        ) from None
    hparams = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hparams, dict) or not isinstance(hparams.get("model"), dict) \
            or not isinstance(ckpt.get("state_dict"), dict) or not isinstance(hparams.get("train"), dict) \
            or not isinstance(hparams["model"].get("name"), str):
        raise ConfigError(f"{option}: {str(path)!r} was not written by lrmzero train")
    data = hparams["train"].get("data")
    needed = ("input_views", "resolution", "background")
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise ConfigError(f"{option}: {str(path)!r} was not written by lrmzero train (its train.data "
                          f"settings lack {', '.join(needed)})")
    return ckpt


def inference_device(value: str, option: str = "--device") -> torch.device:
    """``auto``: the first CUDA device where there is one, else the CPU; or ``cpu``, ``cuda``,
    ``cuda:N`` where this machine has it.

    Raises:
        ConfigError: naming ``option``, the value and the devices this machine has.
    """
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = "auto, cpu" + (f", cuda, cuda:0 .. cuda:{count - 1}" if count else " (no CUDA device here)")
    if value == "auto":
        return torch.device("cuda" if count else "cpu")
    try:
        device = torch.device(value)
    except RuntimeError:
        raise ConfigError(f"{option}: got {value!r}; allowed: {here}") from None
    if device.type not in ("cpu", "cuda") or (device.type == "cuda" and (device.index or 0) >= count):
        raise ConfigError(f"{option}: got {value!r}; allowed: {here}")
    return device


def to_device(batch: dict[str, Any], device: torch.device, non_blocking: bool = False) -> dict[str, Any]:
    """``batch`` with every tensor on ``device`` (other values as they are); ``non_blocking``: copies
    from pinned host memory run asynchronously."""
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def load_checkpoint(path: str | Path, registries: Registries, device: str | torch.device = "cpu"):
    """(model component, network in eval mode, hyper-parameters) of a checkpoint written by
    ``lrmzero train``; the component is prepared for ``device``.

    Raises:
        ConfigError: the file is not a readable lrmzero checkpoint, or its weights do not fit the
            network its hyper-parameters describe.
    """
    ckpt = read_checkpoint(path)
    hparams: dict[str, Any] = ckpt["hyper_parameters"]
    model = build_model(hparams["model"], registries)
    net = model.build_network()
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
        raise ConfigError(
            f"--checkpoint: {str(path)!r}: its weights do not fit the model its hyper-parameters "
            f"describe ({first[:300]})"
        ) from None
    prepare_for_inference(model, torch.device(device))
    return model, net.to(device).eval(), hparams


def prepare_for_inference(model, device: torch.device) -> None:
    """``model.prepare(device, strict=False)``: a kernel or renderer the checkpoint was trained with
    that cannot run here falls back (a model plugin whose ``prepare`` predates ``strict`` is
    prepared as it was)."""
    import inspect

    if "strict" in inspect.signature(model.prepare).parameters:
        model.prepare(device, strict=False)
    else:
        model.prepare(device)

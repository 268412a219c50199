"""Build models and rasterizers from the registries; load trained checkpoints without Lightning."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from lrmzero.components import RendererUnavailable
from lrmzero.errors import ConfigError
from lrmzero.registry import Registries

log = logging.getLogger("lrmzero")


def make_rasterizer(name: str, configs: dict, registries: Registries, device: torch.device):
    """The named Gaussian rasterizer; ``auto`` takes gsplat on CUDA when it is installed, else torch."""
    if name != "auto":
        return registries.rasterizers.build(name, configs.get(name))
    if device.type == "cuda" and "gsplat" in registries.rasterizers:
        try:
            return registries.rasterizers.build("gsplat", configs.get("gsplat"))
        except RendererUnavailable as exc:
            log.warning("rasterizer=auto: using torch because %s", exc)
    return registries.rasterizers.build("torch", configs.get("torch"))


def rasterizer_for(train: dict, registries: Registries, device: torch.device):
    """The rasterizer a training config (``train`` section of a checkpoint) names."""
    return make_rasterizer(train.get("rasterizer", "auto"), train.get("rasterizers", {}), registries, device)


def build_network(model_cfg: dict, registries: Registries):
    """The network of a model spec ``{"name": ..., **config}``."""
    spec = dict(model_cfg)
    name = spec.pop("name")
    return registries.models.build(name, spec, "model").build_network()


def read_checkpoint(path: str | Path, option: str = "--checkpoint", mmap: bool = False) -> dict[str, Any]:
    """The contents of a checkpoint written by ``lrmzero train``, loaded as *data only*.

    ``torch.load(weights_only=True)`` refuses anything but tensors and plain containers, so a
    crafted file cannot run code while it is read (a pickle with other objects is refused).

    Raises:
        ConfigError: naming ``option`` and the file when it is missing, empty, truncated, not a
            checkpoint, holds objects other than data, or was not written by ``lrmzero train``.
    """
    path = Path(path)
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


def load_checkpoint(path: str | Path, registries: Registries, device: str | torch.device = "cpu"):
    """(network in eval mode, train config dict) from a checkpoint written by ``lrmzero train``.

    Raises:
        ConfigError: the file is not a readable lrmzero checkpoint, or its weights do not fit the
            network its hyper-parameters describe.
    """
    ckpt = read_checkpoint(path)
    hparams: dict[str, Any] = ckpt["hyper_parameters"]
    net = build_network(hparams["model"], registries)
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
        raise ConfigError(
            f"--checkpoint: {str(path)!r}: its weights do not fit the model its hyper-parameters "
            f"describe ({first[:300]})"
        ) from None
    return net.to(device).eval(), hparams


def render_gaussians(rasterizer, gaussians: dict, w2c: torch.Tensor, K: torch.Tensor, size: int,
                     background: torch.Tensor):
    """Render predicted Gaussians into ``[B, T]`` cameras: rgb ``[B, T, 3, S, S]`` and alpha."""
    rgb, alpha, _ = rasterizer(gaussians["means"], gaussians["quats"], gaussians["scales"],
                               gaussians["opacities"], gaussians["colors"], w2c, K, size, size, background)
    return rgb.permute(0, 1, 4, 2, 3), alpha.permute(0, 1, 4, 2, 3)

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


def load_checkpoint(path: str | Path, registries: Registries, device: str | torch.device = "cpu"):
    """(network in eval mode, train config dict) from a checkpoint written by ``lrmzero train``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--checkpoint: {str(path)!r} is not a file")
    ckpt = torch.load(path, map_location=device, weights_only=False)
    hparams: dict[str, Any] = ckpt.get("hyper_parameters", {})
    if "model" not in hparams:
        raise ConfigError(f"--checkpoint: {str(path)!r} was not written by lrmzero train")
    net = build_network(hparams["model"], registries)
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    net.load_state_dict(state)
    return net.to(device).eval(), hparams


def render_gaussians(rasterizer, gaussians: dict, w2c: torch.Tensor, K: torch.Tensor, size: int,
                     background: torch.Tensor):
    """Render predicted Gaussians into ``[B, T]`` cameras: rgb ``[B, T, 3, S, S]`` and alpha."""
    rgb, alpha, _ = rasterizer(gaussians["means"], gaussians["quats"], gaussians["scales"],
                               gaussians["opacities"], gaussians["colors"], w2c, K, size, size, background)
    return rgb.permute(0, 1, 4, 2, 3), alpha.permute(0, 1, 4, 2, 3)

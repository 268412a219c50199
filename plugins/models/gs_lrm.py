"""The `gs_lrm` model component: presets and config; the network lives in `gs_lrm_net`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from lrmzero import ConfigError, param
from lrmzero.components import Component

# (layers, width, heads) per preset; `paper` is GS-LRM's size.
PRESETS = {
    "tiny": (4, 128, 4),
    "small": (12, 512, 8),
    "paper": (24, 1024, 16),
}


class GSLRM(Component):
    """GS-LRM: patchify (p x p) posed images with Plucker rays, a pre-LN transformer over all views'
    tokens, and a head that predicts one 3D Gaussian per input pixel."""

    name = "gs_lrm"

    @dataclass
    class Config:
        preset: str = param("tiny", "size preset: tiny (CPU), small, paper (24 x 1024, 16 heads)",
                            choices=list(PRESETS))
        layers: Optional[int] = param(None, "transformer blocks (null: from the preset)", ge=1)
        width: Optional[int] = param(None, "token width (null: from the preset)", ge=8)
        heads: Optional[int] = param(None, "attention heads (null: from the preset)", ge=1)
        patch_size: int = param(8, "pixels per side of a patch token", ge=1, le=64)
        mlp_ratio: float = param(4.0, "MLP hidden width / token width", gt=0.0)
        gradient_checkpointing: bool = param(False, "recompute each block in the backward pass (saves memory)")
        max_scale: float = param(0.3, "largest Gaussian scale", gt=0.0)
        scale_bias: float = param(2.3, "scale = exp(x - scale_bias): GS-LRM's 2.3; larger starts smaller "
                                  "Gaussians (fewer overlaps: much faster CPU rasterization)", ge=0.0)
        depth_range: float = param(1.5, "distance along the ray = camera distance +- this", gt=0.0)

    def dims(self) -> tuple[int, int, int]:
        layers, width, heads = PRESETS[self.cfg.preset]
        layers = self.cfg.layers or layers
        width = self.cfg.width or width
        heads = self.cfg.heads or heads
        if width % heads:
            raise ConfigError(f"model.width: got {width}, not divisible by model.heads {heads}; allowed: a multiple of the heads")
        return layers, width, heads

    def check_resolution(self, resolution: int, key: str) -> None:
        """Refuse an image size the network cannot patchify, and a width/heads mismatch, before
        any work starts (the optional ``check_resolution`` of the model contract)."""
        self.dims()
        p = self.cfg.patch_size
        if resolution % p:
            lower, upper = resolution - resolution % p, resolution - resolution % p + p
            raise ConfigError(
                f"{key}: got {resolution}, not a multiple of model.patch_size {p}; allowed: multiples of "
                f"{p}, e.g. {lower or upper} or {upper}"
            )

    def build_network(self):
        """The ``torch.nn.Module`` (see :class:`~lrmzero.plugins.models.gs_lrm_net.GSLRMNetwork`)."""
        from lrmzero.plugins.models.gs_lrm_net import GSLRMNetwork

        layers, width, heads = self.dims()
        c = self.cfg
        return GSLRMNetwork(layers, width, heads, c.patch_size, c.mlp_ratio, c.gradient_checkpointing,
                            c.max_scale, c.depth_range, c.scale_bias)

"""The `gs_lrm` model component: presets, config, and the model contract (rendering through a
Gaussian rasterizer, export as a 3DGS ``.ply``); the network lives in `gs_lrm_net`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from lrmzero import ConfigError, get_registries, param
from lrmzero.components import ReconstructionModel, RendererUnavailable

log = logging.getLogger("lrmzero")

# (layers, width, heads) per preset; `paper` is GS-LRM's size.
PRESETS = {
    "tiny": (4, 128, 4),
    "small": (12, 512, 8),
    "paper": (24, 1024, 16),
}


class GSLRM(ReconstructionModel):
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
        attention: str = param("auto", "attention kernel on CUDA: auto (torch's choice) or the one to prefer "
                               "(cudnn, flash, efficient), falling back to math where it cannot run; fa4: "
                               "FlashAttention-4 (package flash-attn-4, Hopper or newer, bf16/fp16)",
                               choices=["auto", "cudnn", "flash", "efficient", "math", "fa4"])
        low_precision_residual: bool = param(False, "keep the transformer's residual stream in the autocast dtype "
                                             "(bf16), as Megatron-LM does by default, instead of fp32: half its "
                                             "memory traffic (a GPU lever; not GS-LRM's AMP recipe)")
        max_scale: float = param(0.3, "largest Gaussian scale", gt=0.0)
        scale_bias: float = param(2.3, "scale = exp(x - scale_bias): GS-LRM's 2.3; larger starts smaller "
                                  "Gaussians (fewer overlaps: much faster CPU rasterization)", ge=0.0)
        depth_range: float = param(1.5, "distance along the ray = camera distance +- this", gt=0.0)
        rasterizer: str = param("auto", "Gaussian rasterizer: auto (gsplat on CUDA when installed, else "
                                "torch) or a registered rasterizer's name")
        rasterizers: Dict[str, Any] = field(default_factory=dict, metadata={
            "help": "parameters of the rasterizers by name, e.g. {torch: {tile_size: 4}}"})

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        registry = get_registries().kind("rasterizers")
        for name in ([self.cfg.rasterizer] if self.cfg.rasterizer != "auto" else []) + list(self.cfg.rasterizers):
            if name not in registry:
                raise ConfigError(f"model.rasterizer: unknown rasterizers {name!r}; known: auto, "
                                  + ", ".join(registry.names()))
        for name, values in self.cfg.rasterizers.items():
            registry.make_config(name, values, f"model.rasterizers.{name}")
        self.rasterizer = None

    def dims(self) -> tuple[int, int, int]:
        layers, width, heads = PRESETS[self.cfg.preset]
        layers = self.cfg.layers or layers
        width = self.cfg.width or width
        heads = self.cfg.heads or heads
        if width % heads:
            raise ConfigError(f"model.width: got {width}, not divisible by model.heads {heads}; "
                              "allowed: a multiple of the heads")
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

    def flops_per_object(self, input_views: int, resolution: int) -> float:
        """The transformer's forward FLOPs for one object (:func:`count_flops_per_token` x tokens;
        the patch embedding, the head and the rendering are not counted)."""
        from lrmzero.plugins.models.gaussians.gs_lrm_net import count_flops_per_token

        layers, width, _ = self.dims()
        tokens = input_views * (resolution // self.cfg.patch_size) ** 2
        return count_flops_per_token(width, layers, tokens, self.cfg.mlp_ratio) * tokens

    def prepare(self, device, strict: bool = True) -> None:
        """Choose the rasterizer: the configured one, or for ``auto`` gsplat on CUDA (when it is
        installed and runs) and the torch reference otherwise, saying why it fell back. Refuse
        ``attention=fa4`` on a CUDA device where FlashAttention-4 cannot run, and a named rasterizer
        that cannot run here, saying why; ``strict=False`` (inference): use torch's attention and
        ``auto``'s rasterizer instead, with a warning (the same functions)."""
        import torch

        on_cuda = getattr(device, "type", str(device)) == "cuda"
        if self.cfg.attention == "fa4" and on_cuda:
            from lrmzero.plugins.models.gaussians.fa4_attention import (INSTALL, fa4_unavailable, fall_back_to_sdpa,
                                                                         resolve_kernels)

            reason = fa4_unavailable(torch.device(device))
            if reason and strict:
                raise ConfigError(f"model.attention: got 'fa4', but {reason}; allowed: auto, cudnn, flash, "
                                  f"efficient, math, or fa4 after {INSTALL}")
            if reason:
                log.warning("model.attention=fa4: %s; using torch's attention kernels (the same function)", reason)
                fall_back_to_sdpa()
            else:
                _, width, heads = self.dims()
                resolve_kernels(torch.device(device), heads, width // heads)  # checked on the network's heads
        registry = get_registries().kind("rasterizers")
        options = self.cfg.rasterizers
        name = self.cfg.rasterizer
        if name != "auto":
            try:
                self.rasterizer = registry.build(name, options.get(name), f"model.rasterizers.{name}")
                return
            except RendererUnavailable as exc:
                if strict:
                    raise ConfigError(f"model.rasterizer: got {name!r}, which cannot run here ({exc}); allowed: "
                                      f"auto (gsplat on CUDA where it runs, else torch), "
                                      f"{', '.join(registry.names())}") from None
                log.warning("model.rasterizer=%s: %s; using auto's choice (the same function)", name, exc)
        if on_cuda and "gsplat" in registry:
            try:
                self.rasterizer = registry.build("gsplat", options.get("gsplat"))
                log.info("model.rasterizer=auto: using gsplat (CUDA device, gsplat installed)")
                return
            except RendererUnavailable as exc:
                log.warning("model.rasterizer=auto: using torch because %s", exc)
        else:
            log.info("model.rasterizer=auto: using torch (device %s%s)", getattr(device, "type", device),
                     "" if "gsplat" in registry else ", gsplat not registered")
        self.rasterizer = registry.build("torch", options.get("torch"), "model.rasterizers.torch")

    def render(self, outputs: dict, w2c, K, size: int, background, with_depth: bool = True) -> dict:
        """Rasterize the Gaussians (in float32, outside autocast) into ``[B, T]`` cameras; without
        ``with_depth`` the rasterizer composites colour and alpha only (no ``depth`` key)."""
        import torch

        if self.rasterizer is None:
            self.prepare(outputs["means"].device)
        with torch.autocast(outputs["means"].device.type, enabled=False):
            g = {k: v.float() for k, v in outputs.items()}
            rgb, alpha, depth = self.rasterizer(g["means"], g["quats"], g["scales"], g["opacities"], g["colors"],
                                                w2c.float(), K.float(), size, size, background.float(),
                                                with_depth=with_depth)
        images = {"rgb": rgb, "alpha": alpha} | ({"depth": depth} if with_depth else {})
        return {key: image.permute(0, 1, 4, 2, 3) for key, image in images.items()}  # [B, T, ch, S, S]

    def export(self, outputs: dict, folder: Path) -> dict[str, Path]:
        """Object 0's Gaussians as ``gaussians.ply`` (the 3DGS reference layout) and
        ``gaussians.splat`` (web viewers' layout)."""
        from lrmzero.plugins.models.gaussians.ply import write_gaussians_ply, write_gaussians_splat

        arrays = [outputs[k][0].detach().float().cpu().numpy()
                  for k in ("means", "quats", "scales", "opacities", "colors")]
        return {"gaussians": write_gaussians_ply(Path(folder) / "gaussians.ply", *arrays),
                "splat": write_gaussians_splat(Path(folder) / "gaussians.splat", *arrays)}

    def build_network(self):
        """The ``torch.nn.Module`` (see :class:`~lrmzero.plugins.models.gaussians.gs_lrm_net.GSLRMNetwork`)."""
        from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

        layers, width, heads = self.dims()
        c = self.cfg
        return GSLRMNetwork(layers, width, heads, c.patch_size, c.mlp_ratio, c.gradient_checkpointing,
                            c.max_scale, c.depth_range, c.scale_bias, c.attention, c.low_precision_residual)

"""GS-LRM network: posed images + Plucker rays -> pre-LN transformer -> per-pixel 3D Gaussians."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from lrmzero.plugins.models.gaussians.fa4_attention import fa4_applies, fa4_qkv_attention


def attention_backends(preferred: str) -> Optional[list]:
    """SDPA backends for ``sdpa_kernel``: None for torch's own choice (also behind ``fa4`` where
    FlashAttention-4 does not apply), else the preferred kernel with the math kernel as the fallback
    for shapes or devices it does not support."""
    if preferred in ("auto", "fa4"):
        return None
    from torch.nn.attention import SDPBackend

    names = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
    return list(dict.fromkeys([names[preferred], SDPBackend.MATH]))


class Attention(nn.Module):
    """Multi-head self-attention without biases; ``attention`` names the kernel (see :class:`GSLRMNetwork`)."""

    def __init__(self, width: int, heads: int, attention: str = "auto") -> None:
        super().__init__()
        self.heads = heads
        self.fa4 = attention == "fa4"
        self.backends = attention_backends(attention)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D]
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads)
        if self.fa4 and fa4_applies(qkv):
            return self.proj(fa4_qkv_attention(qkv).reshape(B, T, D))  # [B, T, 3, H, d] -> [B, T, H, d]
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        kernels = nullcontext()  # torch's choice: flash / memory-efficient kernels where available
        if self.backends is not None and x.is_cuda:
            from torch.nn.attention import sdpa_kernel  # torch >= 2.3, needed only when a kernel is named

            kernels = sdpa_kernel(self.backends)
        with kernels:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Pre-LN transformer block without biases."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, attention: str = "auto") -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.norm1 = nn.LayerNorm(width, bias=False)
        self.attn = Attention(width, heads, attention)
        self.norm2 = nn.LayerNorm(width, bias=False)
        self.mlp = nn.Sequential(nn.Linear(width, hidden, bias=False), nn.GELU(), nn.Linear(hidden, width, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GSLRMNetwork(nn.Module):
    """Args of :meth:`forward`:
        images ``[B, V, 3, H, W]`` in [0, 1]; rays ``[B, V, 6, H, W]`` Plucker (o x d, d), d unit;
        origins ``[B, V, 3]`` camera centres. H and W must be multiples of ``patch_size``.

    Returns a dict of Gaussians, one per input pixel (N = V * H * W):
        means ``[B, N, 3]`` (in [-1, 1]^3), quats ``[B, N, 4]`` (wxyz, unit), scales ``[B, N, 3]``,
        opacities ``[B, N]``, colors ``[B, N, 3]`` in [0, 1].
    """

    def __init__(self, layers: int, width: int, heads: int, patch_size: int = 8, mlp_ratio: float = 4.0,
                 gradient_checkpointing: bool = False, max_scale: float = 0.3, depth_range: float = 1.5,
                 scale_bias: float = 2.3, attention: str = "auto", low_precision_residual: bool = False) -> None:
        super().__init__()
        self.scale_bias = scale_bias
        self.low_precision_residual = low_precision_residual
        self.p = patch_size
        self.gradient_checkpointing = gradient_checkpointing
        self.max_scale = max_scale
        self.depth_range = depth_range
        self.embed = nn.Linear(patch_size * patch_size * 9, width, bias=False)
        self.norm_in = nn.LayerNorm(width, bias=False)
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, attention) for _ in range(layers))
        self.norm_out = nn.LayerNorm(width, bias=False)
        self.head = nn.Linear(width, patch_size * patch_size * 12, bias=False)
        self.apply(self._init)

    def compile(self, *args, whole: bool = False, **kwargs) -> None:
        """``torch.compile`` in place. By default each transformer block on its own: the blocks share
        one compiled graph (their code is the same; weights are graph inputs), so compiling costs one
        block's time instead of the whole network's, and the patchify, the head and the Gaussian
        activations (which depend on settings such as ``scale_bias``) stay eager. ``whole=True``
        compiles the network as one graph (``nn.Module.compile``). Other arguments go to
        ``torch.compile``."""
        if whole:
            super().compile(*args, **kwargs)
            return
        for block in self.blocks:
            block.compile(*args, **kwargs)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, batch: dict) -> dict:
        """The model contract's ``network(batch)``: uses ``images``, ``rays`` and ``c2w``."""
        return self.predict(batch["images"], batch["rays"], batch["c2w"][:, :, :3, 3])

    def predict(self, images: torch.Tensor, rays: torch.Tensor, origins: torch.Tensor) -> dict:
        """Gaussians of ``images [B, V, 3, H, W]`` with Plucker ``rays [B, V, 6, H, W]`` seen from
        camera centres ``origins [B, V, 3]`` (see the class docstring for the outputs)."""
        B, V, _, H, W = images.shape
        p = self.p
        if H % p or W % p:
            raise ValueError(f"image size {H}x{W} is not a multiple of patch_size {p}")
        x = torch.cat([images * 2.0 - 1.0, rays], dim=2)  # [B, V, 9, H, W]
        hp, wp = H // p, W // p
        x = x.reshape(B, V, 9, hp, p, wp, p).permute(0, 1, 3, 5, 4, 6, 2).reshape(B, V * hp * wp, p * p * 9)
        x = self.norm_in(self.embed(x))
        if self.low_precision_residual and torch.is_autocast_enabled(x.device.type):
            # the residual stream in the autocast dtype: every block adds its bf16 outputs to it and it
            # stays bf16 (CUDA's autocast runs LayerNorm in fp32, so it would otherwise be fp32)
            x = x.to(torch.get_autocast_dtype(x.device.type))
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        # the output head and the activations in fp32, outside autocast: under bf16 a position
        # t = camera distance +- 1.5 would carry only ~3 significant digits (~1 cm at 2 units)
        with torch.autocast(x.device.type, enabled=False):
            out = self.head(self.norm_out(x.float()))  # [B, V*hp*wp, p*p*12]
            out = out.reshape(B, V, hp, wp, p, p, 12).permute(0, 1, 2, 4, 3, 5, 6).reshape(B, V, H, W, 12)
            return self.gaussians(out, rays.float(), origins.float())

    def gaussians(self, raw: torch.Tensor, rays: torch.Tensor, origins: torch.Tensor) -> dict:
        """Activations of GS-LRM: ``raw [B, V, H, W, 12]`` -> Gaussians (see class docstring)."""
        B, V, H, W, _ = raw.shape
        rgb, scale, rot, opacity, dist = raw.split([3, 3, 4, 1, 1], dim=-1)
        d = rays[:, :, 3:].permute(0, 1, 3, 4, 2)  # [B, V, H, W, 3]
        o = origins[:, :, None, None, :]
        cam_dist = origins.norm(dim=-1)[:, :, None, None, None]
        t = (2.0 * torch.sigmoid(dist) - 1.0) * self.depth_range + cam_dist
        means = (o + t * d).clamp(-1.0, 1.0)
        return {
            "means": means.reshape(B, -1, 3),
            "quats": F.normalize(rot, dim=-1).reshape(B, -1, 4),
            "scales": torch.exp(scale - self.scale_bias).clamp(max=self.max_scale).reshape(B, -1, 3),
            "opacities": torch.sigmoid(opacity - 2.0).reshape(B, -1),
            "colors": torch.sigmoid(rgb).reshape(B, -1, 3),
        }


def count_flops_per_token(width: int, layers: int, tokens: int, mlp_ratio: float = 4.0) -> float:
    """Forward FLOPs per token of the transformer (matmuls: qkv, proj, MLP, and attention)."""
    dense = 2 * (4 * width * width + 2 * mlp_ratio * width * width)
    attn = 2 * 2 * tokens * width
    return layers * (dense + attn)

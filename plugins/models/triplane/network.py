"""Triplane LRM network (the OpenLRM / Instant3D family): posed images -> transformer -> triplane.

Image patches with their Plucker rays (the camera conditioning) and learned triplane tokens go through
one pre-LN transformer (torch's ``TransformerEncoderLayer``); the triplane tokens come out as three
feature planes, each token unpatchified into ``upsample x upsample`` texels.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class TriplaneNetwork(nn.Module):
    """``network(batch) -> {"planes": [B, 3, C, R, R]}`` (xy, xz, yz planes over [-bound, bound]).

    Args:
        layers, width, heads: transformer size.
        patch_size: pixels per side of an image token (H, W must be multiples).
        plane_tokens: tokens per side of each plane (3 x plane_tokens^2 learned tokens).
        upsample: texels per side of each token in its plane (R = plane_tokens x upsample).
        channels: feature channels C per plane texel.
    """

    def __init__(self, layers: int, width: int, heads: int, patch_size: int, plane_tokens: int, upsample: int,
                 channels: int, mlp_ratio: float = 4.0, gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.p = patch_size
        self.t = plane_tokens
        self.up = upsample
        self.c = channels
        self.gradient_checkpointing = gradient_checkpointing
        self.embed = nn.Linear(patch_size * patch_size * 9, width, bias=False)
        self.plane_tokens = nn.Parameter(torch.randn(3 * plane_tokens * plane_tokens, width) * 0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, int(width * mlp_ratio), dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True, bias=False)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(width, bias=False)
        self.head = nn.Linear(width, upsample * upsample * channels, bias=False)
        # A learned triplane every prediction starts from (the prior of the data); the transformer
        # predicts the object-specific residual.
        self.base = nn.Parameter(torch.zeros(3, channels, plane_tokens * upsample, plane_tokens * upsample))

    def forward(self, batch: dict) -> dict:
        images, rays = batch["images"], batch["rays"]
        B, V, _, H, W = images.shape
        p = self.p
        if H % p or W % p:
            raise ValueError(f"image size {H}x{W} is not a multiple of patch_size {p}")
        x = torch.cat([images * 2.0 - 1.0, rays], dim=2)  # [B, V, 9, H, W]
        hp, wp = H // p, W // p
        x = x.reshape(B, V, 9, hp, p, wp, p).permute(0, 1, 3, 5, 4, 6, 2).reshape(B, V * hp * wp, p * p * 9)
        tokens = torch.cat([self.embed(x), self.plane_tokens.expand(B, -1, -1)], dim=1)
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                tokens = checkpoint(block, tokens, use_reentrant=False)
            else:
                tokens = block(tokens)
        planes = self.head(self.norm(tokens[:, V * hp * wp:]))  # [B, 3 t^2, up^2 C]
        t, up, c = self.t, self.up, self.c
        planes = planes.reshape(B, 3, t, t, up, up, c).permute(0, 1, 6, 2, 4, 3, 5).reshape(B, 3, c, t * up, t * up)
        return {"planes": planes + self.base}


class TriplaneDecoder(nn.Module):
    """A small MLP: the sum of a point's three plane features -> density (pre-activation) and RGB."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 4))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``features [..., C]`` -> (raw density ``[...]``, rgb ``[..., 3]`` in (0, 1))."""
        out = self.mlp(features)
        return out[..., 0], torch.sigmoid(out[..., 1:])


class TriplaneLRMNetwork(nn.Module):
    """The whole network: the triplane transformer and its decoder (weights trained together)."""

    def __init__(self, backbone: TriplaneNetwork, decoder: TriplaneDecoder) -> None:
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder

    def forward(self, batch: dict) -> dict:
        """``{"planes": [B, 3, C, R, R]}``; the model's renderer queries :attr:`decoder` with them."""
        return self.backbone(batch)

"""LPIPS (Zhang et al., CVPR 2018), VGG variant, as the ``lpips`` package v0.1 computes it.

``d(x, y) = sum_l mean_hw( w_l . (f_l(x) / |f_l(x)| - f_l(y) / |f_l(y)|)^2 )`` over the VGG-16
activations relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 of inputs in [-1, 1] shifted and scaled
by the package's ``ScalingLayer``; ``|.|`` is the norm over channels (+1e-10) and ``w_l`` the
learned non-negative 1x1 "linear heads".

Two local files, both loaded strictly: the package's heads (``lpips/weights/v0.1/vgg.pth``, keys
``lin{0..4}.model.1.weight``) and a torchvision VGG-16 state dict (``vgg16-*.pth``) for the trunk.
Written here because the ``lpips`` package is not installable on this project's machines and
needs torchvision built for the exact torch; the computation is the package's, step for step.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from lrmzero.plugins.trainers.lightning.vgg import load_strict, load_vgg_features, read_state_dict

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in VGG-16 `features`
CHANNELS = (64, 128, 256, 512, 512)


class LinearHeads(nn.Module):
    """The five 1x1 convolutions (no bias) named as in the lpips package's state dict."""

    def __init__(self) -> None:
        super().__init__()
        for i, c in enumerate(CHANNELS):
            # the package wraps each conv as Sequential(Dropout, Conv2d): key lin{i}.model.1.weight
            self.add_module(f"lin{i}", nn.Module())
            getattr(self, f"lin{i}").model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))

    def head(self, i: int) -> nn.Conv2d:
        return getattr(self, f"lin{i}").model[1]


class LPIPSVGG(nn.Module):
    """``lpips(x, y)`` for ``[N, 3, H, W]`` images in [0, 1] -> ``[N]`` distances (frozen, eval)."""

    def __init__(self, heads_path: str | Path, trunk_path: str | Path) -> None:
        super().__init__()
        self.heads = LinearHeads()
        load_strict(self.heads, read_state_dict(heads_path, "--lpips-weights"), "--lpips-weights", heads_path,
                    "the lpips package's VGG linear heads (lin0..lin4.model.1.weight)")
        self.features = load_vgg_features("vgg16", trunk_path, "--vgg16-weights")
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None])
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = ((x * 2 - 1) - self.shift) / self.scale
        y = ((y * 2 - 1) - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        tap = 0
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i == TAPS[tap]:
                fx = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                fy = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                total = total + self.heads.head(tap)((fx - fy) ** 2).mean((1, 2, 3))
                tap += 1
                if tap == len(TAPS):
                    break
        return total

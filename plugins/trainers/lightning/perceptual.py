"""Perceptual loss: L1 between VGG-19 features (relu1_2 ... relu5_4) of prediction and target.

The VGG-19 layers (:mod:`.vgg`) load a torchvision-format state dict (``features.N.weight``)
from a local file, strictly; nothing is downloaded.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from lrmzero.plugins.trainers.lightning.vgg import load_vgg_features

TAPS = (3, 8, 17, 26, 35)  # indices of relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 in `features`
TAP_WEIGHTS = (1.0 / 2.6, 1.0 / 4.8, 1.0 / 3.7, 1.0 / 5.6, 10.0 / 1.5)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class PerceptualLoss(nn.Module):
    """``loss(pred, target)`` for ``[B, 3, H, W]`` images in [0, 1]; frozen VGG-19 features."""

    def __init__(self, weights_path: str) -> None:
        super().__init__()
        # channels-last (NHWC): cuDNN's tensor-core convolutions take it as it is; NCHW ones transpose
        # around each (the term is ~20% of the paper step with it on, 53 ms on an H100 in NCHW)
        self.features = load_vgg_features("vgg19", weights_path, "loss.vgg_weights").to(
            memory_format=torch.channels_last)
        self.register_buffer("mean", torch.tensor(MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(STD)[None, :, None, None])

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = ((pred - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        y = ((target - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        loss = pred.new_zeros(())
        tap = 0
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i == TAPS[tap]:
                loss = loss + TAP_WEIGHTS[tap] * (x - y).abs().mean()
                tap += 1
                if tap == len(TAPS):
                    break
        return loss

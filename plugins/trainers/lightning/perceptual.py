"""Perceptual loss: L1 between VGG-19 features (relu1_2 ... relu5_4) of prediction and target.

The VGG-19 layers are defined here (torchvision is not required) and load a torchvision-format
state dict (``features.N.weight``) from a local file; nothing is downloaded.
"""

from __future__ import annotations

import torch
import torch.nn as nn

# VGG-19 (configuration "E") feature layers; "M" is max-pooling.
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
TAPS = (3, 8, 17, 26, 35)  # indices of relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 in `features`
TAP_WEIGHTS = (1.0 / 2.6, 1.0 / 4.8, 1.0 / 3.7, 1.0 / 5.6, 10.0 / 1.5)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def vgg19_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in VGG19:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=False)]
            channels = v
    return nn.Sequential(*layers)


class PerceptualLoss(nn.Module):
    """``loss(pred, target)`` for ``[B, 3, H, W]`` images in [0, 1]; frozen VGG-19 features."""

    def __init__(self, weights_path: str) -> None:
        super().__init__()
        self.features = vgg19_features()
        state = torch.load(weights_path, map_location="cpu")
        if "state_dict" in state:
            state = state["state_dict"]
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        try:
            missing, _ = self.features.load_state_dict(feats, strict=False)
        except RuntimeError as exc:
            raise ValueError(f"{weights_path}: not a VGG-19 state dict ({str(exc).splitlines()[-1].strip()})") from None
        if missing:
            raise ValueError(f"{weights_path}: not a VGG-19 state dict (missing {missing[0]})")
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(STD)[None, :, None, None])

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (pred - self.mean) / self.std
        y = (target - self.mean) / self.std
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

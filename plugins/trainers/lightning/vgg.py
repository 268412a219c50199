"""VGG feature stacks (VGG-16, VGG-19) that load torchvision-format weight files strictly.

Written here, not taken from torchvision, because only the convolution stack is needed and
torchvision's wheel must match the exact torch build; the layer indices are torchvision's, so its
``vgg16-*.pth`` / ``vgg19-*.pth`` state dicts (``features.N.weight``) load unchanged. Nothing is
downloaded: the user names a local file.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from lrmzero.errors import ConfigError

# channel counts per convolution; "M" is 2x2 max-pooling (torchvision's configurations "D" and "E")
CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg_features(name: str) -> nn.Sequential:
    """torchvision's ``vgg16().features`` / ``vgg19().features`` layout: conv 3x3 (pad 1), ReLU, pools."""
    layers: list[nn.Module] = []
    channels = 3
    for v in CONFIGS[name]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=False)]
            channels = v
    return nn.Sequential(*layers)


def read_state_dict(path: str | Path, option: str) -> dict[str, torch.Tensor]:
    """A tensor state dict from a local file (``torch.load(weights_only=True)``; a top-level
    ``state_dict`` entry is unwrapped). Raises ConfigError naming ``option`` and the file."""
    if not Path(path).is_file():
        raise ConfigError(f"{option}: {str(path)!r} is not a file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise ConfigError(f"{option}: {str(path)!r} is not a readable weights file ({type(exc).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{option}: {str(path)!r} holds no tensor state dict")
    return state


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], option: str, path: str | Path,
                what: str, key_prefix: str = "") -> None:
    """Load every parameter and buffer of ``module`` from ``state`` (extra keys are ignored);
    a missing key or a shape that differs is a ConfigError naming them as the file names them
    (``key_prefix`` + the module's key)."""
    own = module.state_dict()
    missing = [key_prefix + k for k in own if k not in state]
    wrong = [f"{key_prefix}{k} {tuple(state[k].shape)} (needs {tuple(v.shape)})" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or wrong:
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} of {len(own)} keys: {', '.join(missing[:6])}"
                            + (", ..." if len(missing) > 6 else ""))
        if wrong:
            problems.append(f"wrong shapes: {', '.join(wrong[:4])}")
        raise ConfigError(f"{option}: {str(path)!r} is not {what} ({'; '.join(problems)})")
    module.load_state_dict({k: state[k] for k in own}, strict=True)


def load_vgg_features(name: str, path: str | Path, option: str) -> nn.Sequential:
    """``vgg_features(name)`` with every weight from a torchvision-format file, frozen, eval mode."""
    state = read_state_dict(path, option)
    feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    features = vgg_features(name)
    load_strict(features, feats, option, path, f"a torchvision {name.upper()} state dict", "features.")
    return features.requires_grad_(False).eval()

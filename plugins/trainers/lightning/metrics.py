"""Image metrics: PSNR, SSIM (Gaussian window, as Wang et al. and scikit-image), LPIPS when local
weights are given."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

log = logging.getLogger("lrmzero")


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of images in [0, 1], ``[..., C, H, W]`` -> ``[...]``."""
    mse = ((pred - target) ** 2).flatten(-3).mean(-1)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of images in [0, 1], ``[..., C, H, W]`` -> ``[...]``: Gaussian window (11, 1.5),
    K1 0.01, K2 0.03, sample covariances, 'valid' region (scikit-image's ``gaussian_weights=True,
    use_sample_covariance=False`` matches up to its border handling)."""
    lead = pred.shape[:-3]
    C, H, W = pred.shape[-3:]
    x = pred.reshape(-1, C, H, W).double()
    y = target.reshape(-1, C, H, W).double()
    w = _gaussian_window(window, sigma, x.dtype, x.device)[None, None].expand(C, 1, window, window)

    def filt(t):
        return F.conv2d(t, w, groups=C)

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(-1).reshape(lead).to(pred.dtype)


class LPIPS:
    """LPIPS (VGG) from two local files (see :mod:`.lpips_vgg`); without both, ``available`` is
    False and the reason is logged once, at the first call (so a run refused for another reason
    does not print it first). A file that is given but wrong is a ConfigError."""

    def __init__(self, heads: str | None, trunk: str | None = None) -> None:
        from pathlib import Path

        from lrmzero.errors import ConfigError

        self.model = None
        self.reason = ""
        self._reason_logged = False
        for option, path in (("--lpips-weights", heads), ("--vgg16-weights", trunk)):
            if path and not Path(path).is_file():
                raise ConfigError(f"{option}: {str(path)!r} is not a file")
        if not heads or not trunk:
            needed = [opt for opt, path in (("--lpips-weights PATH (the lpips package's vgg.pth)", heads),
                                            ("--vgg16-weights PATH (torchvision's vgg16 state dict)", trunk))
                      if not path]
            self.reason = f"LPIPS is reported as null: it needs {' and '.join(needed)}"
        else:
            from lrmzero.plugins.trainers.lightning.lpips_vgg import LPIPSVGG

            self.model = LPIPSVGG(heads, trunk)

    @property
    def available(self) -> bool:
        return self.model is not None

    @torch.no_grad()
    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
        if self.model is None:
            if not self._reason_logged:
                log.warning(self.reason)
                self._reason_logged = True
            return None
        lead = pred.shape[:-3]
        self.model.to(pred.device)
        out = self.model(pred.reshape(-1, *pred.shape[-3:]), target.reshape(-1, *target.shape[-3:]))
        return out.reshape(lead)

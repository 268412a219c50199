"""gsplat (CUDA) behind the same arguments and outputs as the torch rasterizer."""

from __future__ import annotations

import torch

# Tile size chosen by the Gaussians' footprint (tile_size=0) from their median projected 3-sigma
# radius: 32 px tiles from WIDE_RADIUS_PX up, 8 px below NARROW_RADIUS_PX, else 16 (gsplat's default).
# Wide Gaussians pair with many small tiles, and sorting and compositing those pairs dominates; narrow
# ones waste a large tile's threads. Measured on an H200 (2026-11-27), forward + backward of 64 views at
# 256 px: GS-LRM's initial Gaussians (median radius 75 px) 58-60 ms with 32 px tiles against 169-173 ms
# with 16 (benchmarks/gpu_check.sh, the paper step); random scenes (benchmarks/rasterize.py) with radii
# of 10-34 px are 1.2-1.7x slower with 32 px tiles than with 16, at 48 px the two are even (144 vs 148 ms);
# at 2.4 px 8 px tiles take 27 ms against 37, at 4.8 px 25 against 27, at 9.7 px 39 against 30; the paper
# step's pixel-sized Gaussians (5 px) 43.6 ms with 8 px tiles, 45.1 with 16.
WIDE_RADIUS_PX = 40.0
NARROW_RADIUS_PX = 6.0


def typical_radius_px(means: torch.Tensor, scales: torch.Tensor, viewmats: torch.Tensor, Ks: torch.Tensor,
                      sample: int = 4096) -> float:
    """Median projected 3-sigma radius, in pixels, of the largest axis of an evenly strided sample of
    at most ``sample`` Gaussians per scene (``means``/``scales`` ``[B, N, 3]``), seen from each scene's
    first camera (``viewmats [B, C, 4, 4]`` OpenCV w2c, ``Ks [B, C, 3, 3]``); 0 if none is in front."""
    with torch.no_grad():
        step = max(1, means.shape[1] // sample)
        m, s = means[:, ::step].float(), scales[:, ::step].float().amax(-1)  # [B, n, 3], [B, n]
        R, t = viewmats[:, 0, :3, :3].float(), viewmats[:, 0, :3, 3].float()
        z = torch.einsum("bij,bnj->bni", R, m)[..., 2] + t[:, None, 2]
        radius = 3.0 * Ks[:, 0, 0, 0].float()[:, None] * s / z.clamp_min(1e-6)
        front = radius[z > 0.01]
        return float(front.median()) if front.numel() else 0.0


def choose_tile_size(means, scales, viewmats, Ks) -> int:
    """32 px tiles for wide Gaussians, 8 px for narrow ones, else 16 (see ``WIDE_RADIUS_PX``)."""
    radius = typical_radius_px(means, scales, viewmats, Ks)
    return 32 if radius >= WIDE_RADIUS_PX else 8 if radius < NARROW_RADIUS_PX else 16


class TileSizeChooser:
    """:func:`choose_tile_size` on the first of every ``every`` calls, the same choice in between.

    Choosing reads the Gaussians' median radius on the host: a wait for the device, whose queue then
    drains and idles while the host prepares the rendering. Gaussians' sizes change slowly over
    training, so one read per ``every`` renders is enough (the tile size changes gsplat's speed, not
    its images: every pixel composites the same Gaussians in the same depth order)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.calls = 0
        self.choice = 0

    def __call__(self, means, scales, viewmats, Ks) -> int:
        if self.calls % self.every == 0:
            self.choice = choose_tile_size(means, scales, viewmats, Ks)
        self.calls += 1
        return self.choice


def rasterize_gaussians_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                               background=None, tile_size: int = 16, with_depth: bool = True, **_unused):
    """Same shapes as :func:`lrmzero.plugins.models.gaussians.torch_rasterizer.rasterize_gaussians`:
    B scenes ``[B, N, ...]`` into C cameras each ``[B, C, ...]``, in one gsplat call (gsplat takes
    leading batch dimensions), classic mode; rgb composited over ``background`` (``[3]`` or ``[B, 3]``).
    ``tile_size`` 0 chooses 8, 16 or 32 px tiles from the Gaussians' footprint (:func:`choose_tile_size`).
    ``with_depth=False``: gsplat's "RGB" mode, three channels composited instead of four; depth is None."""
    from gsplat import rasterization

    if tile_size == 0:
        tile_size = choose_tile_size(means, scales, viewmats, Ks)
    # packed=False: gsplat 1.5.3's packed projection reads opacities[gaussian] without the scene's
    # offset, so with B > 1 every scene's opacity-aware boxes and culling use scene 0's opacities
    # (measured: 8 to 188 of 55,296 values off by up to 2.6e-3 in scenes 1 and 2, none in scene 0).
    out, alpha, _ = rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                                  render_mode="RGB+ED" if with_depth else "RGB", rasterize_mode="classic",
                                  packed=False, backgrounds=None, tile_size=tile_size)
    rgb, depth = out[..., :3], out[..., 3:4] if with_depth else None  # [B, C, H, W, *]
    if background is not None:
        bg = background.to(rgb.dtype).expand(means.shape[0], 3)
        rgb = rgb + (1 - alpha) * bg[:, None, None, None, :]
    return rgb, alpha, depth

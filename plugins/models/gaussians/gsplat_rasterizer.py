"""gsplat (CUDA) behind the same arguments and outputs as the torch rasterizer."""

from __future__ import annotations

import torch

# Tile size chosen by the Gaussians' typical footprint (tile_size=0): 32 px tiles once their median
# projected 3-sigma radius reaches this many pixels, 16 px (gsplat's default) below. Wide Gaussians
# pair with many 16 px tiles, and sorting and compositing those pairs dominates: GS-LRM's initial
# Gaussians (0.1 wide, ~37 px radius) render the paper step's 64 views in 58 ms with 32 px tiles
# against 169 ms with 16 px (H200, benchmarks/rasterize.py and benchmarks/gpu_check.sh).
WIDE_RADIUS_PX = 8.0


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
    """32 px tiles for wide Gaussians, 16 px otherwise (see ``WIDE_RADIUS_PX``)."""
    return 32 if typical_radius_px(means, scales, viewmats, Ks) >= WIDE_RADIUS_PX else 16


def rasterize_gaussians_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                               background=None, tile_size: int = 16, **_unused):
    """Same shapes as :func:`lrmzero.plugins.models.gaussians.torch_rasterizer.rasterize_gaussians`:
    B scenes ``[B, N, ...]`` into C cameras each ``[B, C, ...]``, in one gsplat call (gsplat takes
    leading batch dimensions), classic mode; rgb composited over ``background`` (``[3]`` or ``[B, 3]``).
    ``tile_size`` 0 chooses 16 or 32 px tiles from the Gaussians' footprint (:func:`choose_tile_size`)."""
    from gsplat import rasterization

    if tile_size == 0:
        tile_size = choose_tile_size(means, scales, viewmats, Ks)
    # packed=False: gsplat 1.5.3's packed projection reads opacities[gaussian] without the scene's
    # offset, so with B > 1 every scene's opacity-aware boxes and culling use scene 0's opacities
    # (measured: 8 to 188 of 55,296 values off by up to 2.6e-3 in scenes 1 and 2, none in scene 0).
    out, alpha, _ = rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                                  render_mode="RGB+ED", rasterize_mode="classic", packed=False,
                                  backgrounds=None, tile_size=tile_size)
    rgb, depth = out[..., :3], out[..., 3:4]  # [B, C, H, W, *]
    if background is not None:
        bg = background.to(rgb.dtype).expand(means.shape[0], 3)
        rgb = rgb + (1 - alpha) * bg[:, None, None, None, :]
    return rgb, alpha, depth

"""gsplat (CUDA) behind the same arguments and outputs as the torch rasterizer."""

from __future__ import annotations

import torch


def rasterize_gaussians_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                               background=None, **_unused):
    """Same shapes as :func:`lrmzero.plugins.models.gaussians.torch_rasterizer.rasterize_gaussians`."""
    from gsplat import rasterization

    B, C = viewmats.shape[:2]
    rgbs, alphas, depths = [], [], []
    for b in range(B):
        bg = None
        if background is not None:
            bg_b = background if background.dim() == 1 else background[b]
            bg = bg_b.expand(C, 3)
        out, alpha, _ = rasterization(
            means[b], quats[b], scales[b], opacities[b], colors[b], viewmats[b], Ks[b], width, height,
            render_mode="RGB+ED", backgrounds=None,
        )
        rgb, depth = out[..., :3], out[..., 3:4]
        if bg is not None:
            rgb = rgb + (1 - alpha) * bg[:, None, None, :]
        rgbs.append(rgb)
        alphas.append(alpha)
        depths.append(depth)
    return torch.stack(rgbs), torch.stack(alphas), torch.stack(depths)

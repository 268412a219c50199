"""Rays of pinhole cameras (torch): per-pixel origins and directions, and the Plucker ``rays`` of
the model contract's batch."""

from __future__ import annotations

import torch


def pixel_rays(c2w: torch.Tensor, K: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """World rays through the pixel centres (+0.5) of OpenCV cameras.

    Args:
        c2w: ``[..., 4, 4]`` OpenCV camera-to-world; K: ``[..., 3, 3]`` pixel intrinsics for this size.

    Returns:
        origins and unit directions, each ``[..., H, W, 3]``.
    """
    dtype, device = c2w.dtype, c2w.device
    v, u = torch.meshgrid(torch.arange(height, dtype=dtype, device=device) + 0.5,
                          torch.arange(width, dtype=dtype, device=device) + 0.5, indexing="ij")
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1)  # [H, W, 3]
    # inv_ex, not inv: inv checks for singular matrices by reading a flag from the device, a wait for the GPU
    # at every training step's start (intrinsics are checked when cameras are read: fx, fy > 0)
    cam = torch.einsum("...ij,hwj->...hwi", torch.linalg.inv_ex(K).inverse, pix)
    d = torch.einsum("...ij,...hwj->...hwi", c2w[..., :3, :3], cam)
    d = d / d.norm(dim=-1, keepdim=True)
    return c2w[..., None, None, :3, 3].expand_as(d), d


def plucker_rays(c2w: torch.Tensor, K: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Per-pixel Plucker coordinates ``(o x d, d)`` with unit ``d`` through pixel centres (+0.5).

    Args:
        c2w: ``[V, 4, 4]`` OpenCV camera-to-world; K: ``[V, 3, 3]`` pixel intrinsics for this size.

    Returns:
        ``[V, 6, H, W]``.
    """
    o, d = pixel_rays(c2w, K, height, width)
    return torch.cat([torch.cross(o, d, dim=-1), d], dim=-1).permute(0, 3, 1, 2).contiguous()

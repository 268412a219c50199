"""NeRF volume rendering of a triplane inside the object box ``[-bound, bound]^3``: rays through
pixel centres, stratified samples between the box entry and exit, alpha compositing, expected depth."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lrmzero.rays import pixel_rays


def sample_planes(planes: torch.Tensor, points: torch.Tensor, bound: float) -> torch.Tensor:
    """Features at ``points``: the sum of the bilinear samples of the xy, xz and yz planes.

    Args:
        planes: ``[B, 3, C, R, R]``.
        points: ``[B, N, 3]`` world points (inside ``[-bound, bound]^3``; outside reads the border).

    Returns:
        ``[B, N, C]``.
    """
    B, _, C, R, _ = planes.shape
    uv = points / bound
    coords = torch.stack([uv[..., [0, 1]], uv[..., [0, 2]], uv[..., [1, 2]]], dim=1)  # [B, 3, N, 2]
    feats = F.grid_sample(planes.reshape(B * 3, C, R, R), coords.reshape(B * 3, 1, -1, 2), mode="bilinear",
                          padding_mode="border", align_corners=False)  # [B*3, C, 1, N]
    return feats.reshape(B, 3, C, -1).sum(dim=1).transpose(1, 2)


def box_interval(o: torch.Tensor, d: torch.Tensor, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit distances ``[...]`` of rays with the box ``[-bound, bound]^3`` (slab method);
    ``near >= far`` where a ray misses it."""
    inv = 1.0 / torch.where(d.abs() < 1e-9, torch.full_like(d, 1e-9), d)
    t0, t1 = (-bound - o) * inv, (bound - o) * inv
    near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(0.0)
    far = torch.maximum(t0, t1).amin(dim=-1)
    return near, far


def render_triplane(planes: torch.Tensor, decoder, w2c: torch.Tensor, K: torch.Tensor, size: int,
                    background: torch.Tensor, bound: float, samples: int, density_bias: float,
                    chunk: int = 1 << 18, jitter: bool = False) -> dict:
    """Volume-render ``[B, T]`` cameras of a triplane.

    Args:
        planes: ``[B, 3, C, R, R]``; decoder: features ``[..., C]`` -> (raw density, rgb).
        w2c: ``[B, T, 4, 4]`` OpenCV world-to-camera; K: ``[B, T, 3, 3]`` for ``size``-pixel images.
        background: ``[3]`` composited where the rays see nothing.
        samples: samples per ray between the box entry and exit (midpoints of equal bins, or
            uniform within each bin when ``jitter``).
        density_bias: added to the raw density before softplus (negative: starts mostly empty).

    Returns:
        rgb ``[B, T, 3, S, S]``, alpha ``[B, T, 1, S, S]``, depth ``[B, T, 1, S, S]`` (expected
        distance along the ray of the visible surface, 0 where empty).
    """
    B, T = w2c.shape[:2]
    c2w = torch.linalg.inv_ex(w2c).inverse  # inv would read a singularity flag from the device: a wait per render
    o, d = (x.reshape(B, T, -1, 3) for x in pixel_rays(c2w, K, size, size))  # [B, T, P, 3]
    near, far = box_interval(o, d, bound)
    hit = far > near
    far = torch.where(hit, far, near)
    steps = torch.arange(samples, device=o.device, dtype=o.dtype)
    offset = torch.rand(*near.shape, samples, device=o.device, dtype=o.dtype) if jitter else 0.5
    t = near[..., None] + (far - near)[..., None] * (steps + offset) / samples  # [B, T, P, S]
    delta = ((far - near) / samples)[..., None].expand_as(t)
    points = (o[..., None, :] + t[..., None] * d[..., None, :]).reshape(B, -1, 3)
    raw, rgb = [], []
    for start in range(0, points.shape[1], chunk):
        feats = sample_planes(planes, points[:, start:start + chunk], bound)
        r, c = decoder(feats)
        raw.append(r)
        rgb.append(c)
    sigma = F.softplus(torch.cat(raw, dim=1) + density_bias).reshape(t.shape)
    color = torch.cat(rgb, dim=1).reshape(*t.shape, 3)
    alpha_s = 1.0 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha_s[..., :1]), 1.0 - alpha_s[..., :-1] + 1e-10], -1), -1)
    w = alpha_s * trans  # [B, T, P, S]
    acc = w.sum(-1, keepdim=True)
    out_rgb = (w[..., None] * color).sum(-2) + (1.0 - acc) * background.to(color.dtype)
    depth = (w * t).sum(-1, keepdim=True)

    def image(x: torch.Tensor) -> torch.Tensor:  # [B, T, P, k] -> [B, T, k, S, S]
        return x.reshape(B, T, size, size, -1).permute(0, 1, 4, 2, 3)

    return {"rgb": image(out_rgb), "alpha": image(acc), "depth": image(depth)}

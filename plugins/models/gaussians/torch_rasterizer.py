"""`rasterize_gaussians`: a pure-PyTorch, tiled, differentiable 3D Gaussian splatting rasterizer.

It follows the 3DGS recipe (EWA projection with a 0.3 px low-pass, 3-sigma radius, per-view depth
sort, front-to-back compositing with alpha clamped at 0.99 and alpha < 1/255 dropped) and never
materializes pixels x Gaussians: each Gaussian is paired only with the 16x16 tiles its 3-sigma
box touches, and pairs are composited in bounded chunks. Written by hand because gsplat has no
CPU path; it is the reference the CUDA path is tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
LOW_PASS = 0.3
NEAR = 0.01


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[..., 4]`` (w, x, y, z) -> rotation matrices ``[..., 3, 3]``."""
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*quats.shape[:-1], 3, 3)


def project_gaussians(means, quats, scales, viewmat, K):
    """Project N Gaussians into one camera.

    Args:
        means ``[N, 3]``, quats ``[N, 4]`` wxyz, scales ``[N, 3]``; viewmat ``[4, 4]`` OpenCV
        world-to-camera; K ``[3, 3]`` pixel intrinsics (pixel centres at +0.5).

    Returns:
        mean2d ``[N, 2]`` pixels, conic ``[N, 3]`` (a, b, c of the inverse 2D covariance
        [[a, b], [b, c]]), depth ``[N]`` camera z, radius ``[N]`` 3-sigma pixels (0 if culled).
    """
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ R.T + t
    z = p[:, 2]
    valid = z > NEAR
    zs = torch.where(valid, z, torch.ones_like(z))
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    u = fx * p[:, 0] / zs + cx
    v = fy * p[:, 1] / zs + cy
    rot = quat_to_rotmat(quats)
    M = rot * scales[:, None, :]  # R S
    cov3 = M @ M.transpose(1, 2)
    cov_cam = R @ cov3 @ R.T
    # Clamp the Jacobian's position like 3DGS does (1.3 x the half field of view) for stability.
    lim_x = 1.3 * (cx / fx)
    lim_y = 1.3 * (cy / fy)
    tx = (p[:, 0] / zs).clamp(-lim_x, lim_x) * zs
    ty = (p[:, 1] / zs).clamp(-lim_y, lim_y) * zs
    zero = torch.zeros_like(zs)
    J = torch.stack(
        [fx / zs, zero, -fx * tx / (zs * zs), zero, fy / zs, -fy * ty / (zs * zs)], dim=-1
    ).reshape(-1, 2, 3)
    cov2 = J @ cov_cam @ J.transpose(1, 2)
    a = cov2[:, 0, 0] + LOW_PASS
    b = cov2[:, 0, 1]
    c = cov2[:, 1, 1] + LOW_PASS
    det = (a * c - b * b).clamp_min(1e-12)
    conic = torch.stack([c / det, -b / det, a / det], dim=-1)
    mid = 0.5 * (a + c)
    lam = mid + torch.sqrt((mid * mid - det).clamp_min(0.01))
    radius = torch.ceil(3.0 * torch.sqrt(lam)).detach()
    radius = torch.where(valid, radius, torch.zeros_like(radius))
    return torch.stack([u, v], -1), conic, z, radius


def _tile_pairs(mean2d, radius, depth, width, height, tile):
    """(tile id, Gaussian id) pairs for the tiles each Gaussian's 3-sigma box touches, sorted by
    tile then depth. Returns (tile_ids [P], gauss_ids [P], tiles_x, tiles_y)."""
    tx_n = (width + tile - 1) // tile
    ty_n = (height + tile - 1) // tile
    with torch.no_grad():
        on = radius > 0
        x0 = ((mean2d[:, 0] - radius) / tile).floor().clamp(0, tx_n - 1).long()
        x1 = ((mean2d[:, 0] + radius) / tile).floor().clamp(0, tx_n - 1).long()
        y0 = ((mean2d[:, 1] - radius) / tile).floor().clamp(0, ty_n - 1).long()
        y1 = ((mean2d[:, 1] + radius) / tile).floor().clamp(0, ty_n - 1).long()
        outside = (mean2d[:, 0] + radius < 0) | (mean2d[:, 0] - radius > width) | \
                  (mean2d[:, 1] + radius < 0) | (mean2d[:, 1] - radius > height)
        on = on & ~outside
        nx = torch.where(on, x1 - x0 + 1, torch.zeros_like(x0))
        ny = torch.where(on, y1 - y0 + 1, torch.zeros_like(y0))
        counts = nx * ny
        gauss = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
        if gauss.numel() == 0:
            return gauss, gauss, tx_n, ty_n
        start = torch.cumsum(counts, 0) - counts
        local = torch.arange(gauss.numel(), device=counts.device) - start[gauss]
        gx = x0[gauss] + local % nx[gauss]
        gy = y0[gauss] + local // nx[gauss]
        tile_id = gy * tx_n + gx
        # sort by depth, then stably by tile: each tile's list is front to back
        order = torch.argsort(depth.detach()[gauss], stable=True)
        tile_id, gauss = tile_id[order], gauss[order]
        order = torch.argsort(tile_id, stable=True)
        return tile_id[order], gauss[order], tx_n, ty_n


def _composite_view(mean2d, conic, depth, radius, opacities, colors, width, height, background,
                    tile, max_pairs):
    """Composite one view. Returns rgb ``[H, W, 3]``, alpha ``[H, W, 1]``, depth ``[H, W, 1]``."""
    device, dtype = mean2d.device, mean2d.dtype
    tile_id, gauss, tx_n, ty_n = _tile_pairs(mean2d, radius, depth, width, height, tile)
    n_tiles = tx_n * ty_n
    T2 = tile * tile
    out = torch.zeros(n_tiles, T2, 5, device=device, dtype=dtype)  # rgb, depth-weighted, alpha
    if gauss.numel():
        counts = torch.bincount(tile_id, minlength=n_tiles)
        occupied = torch.nonzero(counts).flatten()
        starts = torch.cumsum(counts, 0) - counts
        # pixel centres of every tile, [n_tiles, T2, 2]
        ly, lx = torch.meshgrid(torch.arange(tile, device=device), torch.arange(tile, device=device), indexing="ij")
        local = torch.stack([lx.flatten(), ly.flatten()], -1).to(dtype) + 0.5
        # process groups of tiles with similar list lengths in chunks of bounded size
        order = occupied[torch.argsort(counts[occupied])]
        i = 0
        while i < len(order):
            length = int(counts[order[i]])
            # tiles of similar list lengths (within 25%) share a chunk, so little is padding
            similar = int(torch.searchsorted(counts[order[i:]].contiguous(), int(length * 1.25) + 1))
            n_chunk = max(1, min(similar, max_pairs // max(1, int(length * 1.25) * T2)))
            chunk = order[i : i + n_chunk]
            L = int(counts[chunk].max())
            idx = starts[chunk][:, None] + torch.arange(L, device=device)[None]  # [C, L]
            valid = torch.arange(L, device=device)[None] < counts[chunk][:, None]
            idx = torch.where(valid, idx, torch.zeros_like(idx))
            g = gauss[idx]  # [C, L]
            origin = torch.stack([(chunk % tx_n) * tile, (chunk // tx_n) * tile], -1).to(dtype)
            pix = origin[:, None, :] + local[None]  # [C, T2, 2]
            d = pix[:, :, None, :] - mean2d[g][:, None, :, :]  # [C, T2, L, 2]
            cn = conic[g][:, None]  # [C, 1, L, 3]
            power = -0.5 * (cn[..., 0] * d[..., 0] ** 2 + cn[..., 2] * d[..., 1] ** 2) - cn[..., 1] * d[..., 0] * d[..., 1]
            alpha = (opacities[g][:, None] * torch.exp(power.clamp(max=0.0))).clamp(max=ALPHA_MAX)
            # support: the 3-sigma box (as in 3DGS), whatever tiles the Gaussian was paired with
            in_box = (d.abs() <= radius[g][:, None, :, None]).all(-1)
            keep = valid[:, None] & in_box & (power <= 0) & (alpha >= ALPHA_MIN)
            alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
            trans = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1 - alpha[..., :-1]], -1), -1)
            w = alpha * trans  # [C, T2, L]
            feats = torch.cat([colors[g], depth[g][..., None]], -1)  # [C, L, 4]
            acc = torch.einsum("ctl,clf->ctf", w, feats)
            out = out.index_put((chunk,), torch.cat([acc, w.sum(-1, keepdim=True)], -1))
            i += n_chunk
    img = out.reshape(ty_n, tx_n, tile, tile, 5).permute(0, 2, 1, 3, 4).reshape(ty_n * tile, tx_n * tile, 5)
    img = img[:height, :width]
    alpha = img[..., 4:5]
    rgb = img[..., :3] + (1 - alpha) * background
    exp_depth = img[..., 3:4] / alpha.clamp_min(1e-10)
    return rgb, alpha, exp_depth


def rasterize_gaussians(
    means: torch.Tensor,  # [B, N, 3]
    quats: torch.Tensor,  # [B, N, 4] wxyz (need not be normalized)
    scales: torch.Tensor,  # [B, N, 3]
    opacities: torch.Tensor,  # [B, N]
    colors: torch.Tensor,  # [B, N, 3]
    viewmats: torch.Tensor,  # [B, C, 4, 4] OpenCV world-to-camera
    Ks: torch.Tensor,  # [B, C, 3, 3]
    width: int,
    height: int,
    background: torch.Tensor | None = None,  # [3] or [B, 3]
    tile_size: int = 16,
    max_pairs: int = 4_000_000,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render B scenes of N Gaussians into C cameras each.

    Returns:
        rgb ``[B, C, H, W, 3]`` (composited over ``background``), alpha ``[B, C, H, W, 1]``,
        expected depth ``[B, C, H, W, 1]`` (sum of weights x camera z / alpha).

    Example::

        rgb, alpha, depth = rasterize_gaussians(means[None], quats[None], scales[None],
                                                opacities[None], colors[None],
                                                w2c[None], K[None], 64, 64)
    """
    if means.device.type == "cpu":
        torch.set_flush_denormal(True)  # denormals make CPU exp/cumprod ~100x slower
    B, C = viewmats.shape[:2]
    if background is None:
        background = torch.zeros(3, device=means.device, dtype=means.dtype)
    bg = background.to(means.dtype).expand(B, 3) if background.dim() == 1 else background
    rgbs, alphas, depths = [], [], []
    for b in range(B):
        for c in range(C):
            m2, conic, z, radius = project_gaussians(means[b], quats[b], scales[b], viewmats[b, c], Ks[b, c])
            rgb, a, d = _composite_view(m2, conic, z, radius, opacities[b], colors[b], width, height,
                                        bg[b], tile_size, max_pairs)
            rgbs.append(rgb)
            alphas.append(a)
            depths.append(d)
    shape = (B, C, height, width)
    return (torch.stack(rgbs).reshape(*shape, 3), torch.stack(alphas).reshape(*shape, 1),
            torch.stack(depths).reshape(*shape, 1))

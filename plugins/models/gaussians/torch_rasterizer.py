"""`rasterize_gaussians`: a pure-PyTorch, tiled, differentiable 3D Gaussian splatting rasterizer
that computes gsplat's classic-mode function.

The rules, each as gsplat 1.5 applies them (EWA projection, ``rasterize_mode="classic"``):

- projection: camera-space means behind ``NEAR`` (or beyond ``FAR``) are culled; the Jacobian's
  position is clamped to the image's field of view plus 30 % on each side; 0.3 px^2 is added to
  the 2D covariance (low-pass);
- support: a Gaussian reaches a pixel where ``sigma = 0.5 d^T conic d >= 0`` and
  ``alpha = min(0.999, opacity * exp(-sigma)) >= 1/255``. Its opacity-aware box (per axis
  ``ceil(extend * sqrt(cov2d_ii))`` with ``extend = min(3.33, sqrt(2 ln(255 opacity)))``) only
  decides which tiles it is paired with: every pixel with ``alpha >= 1/255`` lies inside it;
- compositing: front to back by camera depth; a pixel stops before the Gaussian that would take
  its transmittance to ``<= 1e-4`` (that one and all behind it are left out).

It never materializes pixels x Gaussians: each Gaussian is paired only with the tiles its box
touches, and pairs are composited in chunks of at most ``max_pairs`` (pixel, Gaussian) values.
The compositing's backward pass is written out (as gsplat's is) and recomputes each chunk's
weights from the chunk's inputs, so peak memory under autograd stays bounded by the chunk, not by
the scene. Written by hand because gsplat has no CPU path; it is the reference the CUDA path is
tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
TRANSMITTANCE_MIN = 1e-4
LOW_PASS = 0.3
NEAR = 0.01
FAR = 1e10
MAX_EXTEND = 3.33


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


def covariances(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """3D covariances ``R S S R^T`` ``[..., 3, 3]`` of quaternions ``[..., 4]`` (wxyz) and scales ``[..., 3]``."""
    M = quat_to_rotmat(quats) * scales[..., None, :]  # R S
    return M @ M.transpose(-1, -2)


def project_gaussians(means, cov3, opacities, viewmats, Ks, width, height):
    """Project the Gaussians of V views (each view its own copy of a scene's Gaussians).

    Args:
        means ``[V, N, 3]``, cov3 ``[V, N, 3, 3]`` world covariances, opacities ``[V, N]``;
        viewmats ``[V, 4, 4]`` OpenCV world-to-camera; Ks ``[V, 3, 3]`` pixel intrinsics (pixel
        centres at +0.5); the image size in pixels.

    Returns:
        mean2d ``[V, N, 2]`` pixels, conic ``[V, N, 3]`` (a, b, c of the inverse 2D covariance
        [[a, b], [b, c]]), depth ``[V, N]`` camera z, radii ``[V, N, 2]`` the opacity-aware box's
        half sides in pixels (x, y), both 0 where the Gaussian is culled.
    """
    R, t = viewmats[:, :3, :3], viewmats[:, :3, 3]
    p = means @ R.transpose(1, 2) + t[:, None, :]
    z = p[..., 2]
    valid = (z >= NEAR) & (z <= FAR)
    zs = torch.where(valid, z, torch.ones_like(z))
    fx, fy, cx, cy = (Ks[:, i, j, None] for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))  # [V, 1] each
    u = fx * p[..., 0] / zs + cx
    v = fy * p[..., 1] / zs + cy
    Rn = R[:, None]  # [V, 1, 3, 3]
    cov_cam = Rn @ cov3 @ Rn.transpose(-1, -2)
    # The Jacobian is taken at the position clamped to the field of view plus 30 % of its half
    # width on each side (gsplat's persp_proj), which keeps far off-screen Gaussians stable.
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    tx = torch.clamp(p[..., 0] / zs, -(cx / fx + 0.3 * tan_x), (width - cx) / fx + 0.3 * tan_x) * zs
    ty = torch.clamp(p[..., 1] / zs, -(cy / fy + 0.3 * tan_y), (height - cy) / fy + 0.3 * tan_y) * zs
    zero = torch.zeros_like(zs)
    J = torch.stack(
        [fx / zs, zero, -fx * tx / (zs * zs), zero, fy / zs, -fy * ty / (zs * zs)], dim=-1
    ).reshape(*zs.shape, 2, 3)
    cov2 = J @ cov_cam @ J.transpose(-1, -2)
    a = cov2[..., 0, 0] + LOW_PASS
    b = cov2[..., 0, 1]
    c = cov2[..., 1, 1] + LOW_PASS
    det = a * c - b * b
    valid = valid & (det > 0) & (opacities >= ALPHA_MIN)
    det = torch.where(valid, det, torch.ones_like(det))
    conic = torch.stack([c / det, -b / det, a / det], dim=-1)
    with torch.no_grad():
        extend = torch.sqrt(2.0 * torch.log(opacities.clamp_min(ALPHA_MIN) / ALPHA_MIN)).clamp(max=MAX_EXTEND)
        radii = torch.ceil(extend[..., None] * torch.stack([a, c], -1).clamp_min(0).sqrt())
        mean2d = torch.stack([u, v], -1)
        size = torch.stack([zs.new_tensor(width), zs.new_tensor(height)])
        on_image = ((mean2d + radii > 0) & (mean2d - radii < size)).all(-1)
        valid = valid & on_image & (radii > 0).any(-1)
        radii = torch.where(valid[..., None], radii, torch.zeros_like(radii))
    return torch.stack([u, v], -1), conic, z, radii


def _tile_pairs(mean2d, radii, depth, view, width, height, tile):
    """(tile id, Gaussian id) pairs for the tiles each Gaussian's box touches, sorted by tile
    then depth; tile ids count over all views (``view [G]`` is each Gaussian's view, ``tiles_x x
    tiles_y`` tiles per view). Returns (tile_ids [P], gauss_ids [P], tiles_x, tiles_y)."""
    tx_n = (width + tile - 1) // tile
    ty_n = (height + tile - 1) // tile
    with torch.no_grad():
        on = (radii > 0).any(-1)
        x0 = ((mean2d[:, 0] - radii[:, 0]) / tile).floor().clamp(0, tx_n - 1).long()
        x1 = ((mean2d[:, 0] + radii[:, 0]) / tile).floor().clamp(0, tx_n - 1).long()
        y0 = ((mean2d[:, 1] - radii[:, 1]) / tile).floor().clamp(0, ty_n - 1).long()
        y1 = ((mean2d[:, 1] + radii[:, 1]) / tile).floor().clamp(0, ty_n - 1).long()
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
        tile_id = view[gauss] * (tx_n * ty_n) + gy * tx_n + gx
        # one sort of the pairs by (tile, depth rank): each tile's list front to back, equal depths
        # in Gaussian order; the keys are unique, since a Gaussian meets a tile at most once
        rank = torch.empty_like(counts)
        rank[torch.argsort(depth.detach(), stable=True)] = torch.arange(len(counts), device=counts.device)
        order = torch.argsort(tile_id * len(counts) + rank[gauss])
        return tile_id[order], gauss[order], tx_n, ty_n


def _chunk_weights(pix, mean2d, conic, opacity, listed):
    """The compositing weights of C tiles and what their gradients need (see :func:`composite_chunk`).

    Returns ``(dx, dy, falloff, alpha, trans, w, used)``, each ``[C, P, L]``: pixel minus mean (x, y),
    ``exp(-sigma)``, alpha as composited, the transmittance before each Gaussian, the weights
    ``alpha * trans``, and where alpha depends on the inputs (used, and below its clamp). In-place
    operations where a value is not needed again: each [C, P, L] array is up to ``max_pairs`` values.
    """
    dx = pix[:, :, None, 0] - mean2d[:, None, :, 0]  # [C, P, L]
    dy = pix[:, :, None, 1] - mean2d[:, None, :, 1]
    half_a, b, half_c = 0.5 * conic[:, None, :, 0], conic[:, None, :, 1], 0.5 * conic[:, None, :, 2]  # [C, 1, L]
    sigma = torch.addcmul(b * dy, half_a, dx).mul_(dx).addcmul_(half_c * dy, dy)  # 0.5 d^T conic d
    keep = (sigma >= 0) & listed[:, None]
    falloff = sigma.clamp_(min=0.0).neg_().exp_()
    raw = falloff * opacity[:, None]
    keep &= raw >= ALPHA_MIN  # alpha = min(ALPHA_MAX, raw) >= ALPHA_MIN
    used = raw <= ALPHA_MAX
    alpha = raw.clamp_(max=ALPHA_MAX).masked_fill_(~keep, 0.0)
    # early stop: the prefix of the list whose transmittance after it stays above the floor
    after = torch.cumprod(1 - alpha, -1)
    alive = after > TRANSMITTANCE_MIN
    alpha.masked_fill_(~alive, 0.0)
    used &= keep & alive
    # the transmittance before each Gaussian: `after`, shifted (equal wherever alive, as alive is a prefix)
    trans = torch.empty_like(after)
    trans[..., 0] = 1.0
    trans[..., 1:] = after[..., :-1]
    return dx, dy, falloff, alpha, trans, alpha * trans, used


class _CompositeTiles(torch.autograd.Function):
    """Front-to-back compositing with its backward pass written out, as 3DGS and gsplat do, instead of
    autograd through two cumulative products and a dozen [C, P, L] operations (the tiny preset's
    rendering on a 2-core CPU: 265 -> 156 ms per step, with the in-place arithmetic and the single
    sort). The backward recomputes the weights from the chunk's inputs (``keep=False``: memory
    bounded by one chunk) or reuses the forward's (``keep=True``: faster, keeps [C, P, L] arrays)."""

    @staticmethod
    def forward(ctx, pix, rows, listed, keep: bool):
        mean2d, conic, opacity, feats = _unpack(rows)
        parts = _chunk_weights(pix, mean2d, conic, opacity, listed)
        w = parts[5]
        ctx.save_for_backward(pix, rows, listed, *(parts if keep else ()))
        return torch.cat([torch.einsum("cpl,clf->cpf", w, feats), w.sum(-1, keepdim=True)], -1)

    @staticmethod
    def backward(ctx, grad):  # grad [C, P, F + 1]
        pix, rows, listed, *parts = ctx.saved_tensors
        mean2d, conic, opacity, feats = _unpack(rows)
        dx, dy, falloff, alpha, trans, w, used = parts or _chunk_weights(pix, mean2d, conic, opacity, listed)
        g_feat, g_alpha = grad[..., :-1], grad[..., -1:]
        # what each Gaussian's weight adds to the loss at each pixel: c_i = g . f_i + g_alpha
        c = torch.einsum("cpf,clf->cpl", g_feat, feats).add_(g_alpha)
        # dL/dalpha_i = T_i c_i - sum_{k > i} w_k c_k / (1 - alpha_i)
        # the sum behind each Gaussian as a suffix sum (not total - prefix sum: in float32 that
        # cancels where little is left behind, and 1 / (1 - alpha) magnifies it up to 1000x)
        suffix = (w * c).flip(-1).cumsum_(-1).flip(-1)
        behind = torch.zeros_like(suffix)
        behind[..., :-1] = suffix[..., 1:]
        g_raw = c.mul_(trans).sub_(behind.div_(1 - alpha)).masked_fill_(~used, 0.0)
        # raw = opacity * exp(-sigma): d/dopacity = exp(-sigma), d/dsigma = -raw
        g_falloff = g_raw.mul_(falloff)
        g_opacity = g_falloff.sum(1)
        g_sigma = g_falloff.mul_(-opacity[:, None])
        # sigma = 0.5 a dx^2 + b dx dy + 0.5 c dy^2 with d = pixel - mean; a, b, c are constant over pixels
        gx, gy = g_sigma * dx, g_sigma * dy
        sx, sy = gx.sum(1), gy.sum(1)  # [C, L]
        a, b, cc = conic.unbind(-1)
        g_rows = torch.empty_like(rows)
        g_rows[..., 0] = -(a * sx + b * sy)  # mean2d
        g_rows[..., 1] = -(b * sx + cc * sy)
        g_rows[..., 2] = 0.5 * (gx * dx).sum(1)  # conic
        g_rows[..., 3] = (gx * dy).sum(1)
        g_rows[..., 4] = 0.5 * (gy * dy).sum(1)
        g_rows[..., 5] = g_opacity
        g_rows[..., 6:] = torch.einsum("cpl,cpf->clf", w, g_feat)  # feats
        return None, g_rows, None, None


def _unpack(rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``[..., 6 + F]`` rows -> mean2d ``[..., 2]``, conic ``[..., 3]``, opacity ``[...]``, feats ``[..., F]``."""
    return rows[..., 0:2], rows[..., 2:5], rows[..., 5], rows[..., 6:]


def composite_chunk(pix, rows, listed, keep_intermediates: bool = False):
    """Front-to-back compositing of C tiles, each with its depth-sorted list of L Gaussians.

    Args:
        pix ``[C, P, 2]`` pixel centres; rows ``[C, L, 6 + F]`` the listed Gaussians, each its
        mean2d (2), conic (3), opacity (1) and what is composited (F: colour, depth), in one
        tensor so that a chunk is one gather and its gradient one scatter; listed ``[C, L]``
        False for padding. ``keep_intermediates``: the backward pass reuses the forward's
        ``[C, P, L]`` arrays instead of recomputing them (faster, more memory).

    Returns:
        ``[C, P, F + 1]``: the weighted sum of ``feats`` and, last, alpha (the sum of weights).
    """
    return _CompositeTiles.apply(pix, rows, listed, keep_intermediates)


def _composite_views(mean2d, conic, depth, radii, opacities, colors, width, height, tile, max_pairs,
                     recompute_chunks=True, with_depth=True):
    """Composite V views at once: every view's tiles in one list, so a step is a few large chunks
    rather than many small ones per view.

    Args: the :func:`project_gaussians` outputs ``[V, N, ...]``, opacities ``[V, N]``, colors
    ``[V, N, 3]``. Returns ``[V, H, W, 5]``: weighted colour (3), weighted depth, alpha; without
    ``with_depth`` ``[V, H, W, 4]`` (no depth channel: a quarter less compositing work).
    """
    V, N = depth.shape
    device, dtype = mean2d.device, mean2d.dtype
    view = torch.arange(V, device=device).repeat_interleave(N)
    mean2d, conic, depth, radii = mean2d.reshape(-1, 2), conic.reshape(-1, 3), depth.reshape(-1), radii.reshape(-1, 2)
    # per Gaussian: mean2d, conic, opacity, colour, depth (see composite_chunk)
    feats = [colors.reshape(-1, 3)] + ([depth[:, None]] if with_depth else [])
    packed = torch.cat([mean2d, conic, opacities.reshape(-1, 1), *feats], -1)
    channels = packed.shape[1] - 6 + 1  # composited features and alpha
    tile_id, gauss, tx_n, ty_n = _tile_pairs(mean2d, radii, depth, view, width, height, tile)
    per_view = tx_n * ty_n
    T2 = tile * tile
    out = torch.zeros(V * per_view, T2, channels, device=device, dtype=dtype)
    if gauss.numel():
        counts = torch.bincount(tile_id, minlength=V * per_view)
        starts = torch.cumsum(counts, 0) - counts
        ly, lx = torch.meshgrid(torch.arange(tile, device=device), torch.arange(tile, device=device), indexing="ij")
        local = torch.stack([lx.flatten(), ly.flatten()], -1).to(dtype) + 0.5
        chunks, results = [], []
        for chunk, L in _plan_chunks(counts, T2, max_pairs):
            chunk = chunk.to(device)
            idx = starts[chunk][:, None] + torch.arange(L, device=device)[None]  # [C, L]
            listed = torch.arange(L, device=device)[None] < counts[chunk][:, None]
            g = gauss[torch.where(listed, idx, torch.zeros_like(idx))]  # [C, L]
            in_view = chunk % per_view
            origin = torch.stack([(in_view % tx_n) * tile, (in_view // tx_n) * tile], -1).to(dtype)
            pix = origin[:, None, :] + local[None]  # [C, T2, 2]
            # recompute_chunks: the backward pass keeps this chunk's inputs, not its [C, T2, L]
            # intermediates, so memory is bounded by one chunk (without autograd nothing is kept)
            chunks.append(chunk)
            results.append(composite_chunk(pix, _gather(packed, g), listed, keep_intermediates=not recompute_chunks))
        out = out.index_put((torch.cat(chunks),), torch.cat(results))  # one scatter for every chunk
    img = out.reshape(V, ty_n, tx_n, tile, tile, channels).permute(0, 1, 3, 2, 4, 5)
    img = img.reshape(V, ty_n * tile, tx_n * tile, channels)
    return img[:, :height, :width]


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[index]`` through ``index_select``: its backward (``index_add``) sums in a fixed
    order, where advanced indexing's backward adds in parallel with atomics on a CPU, so the
    gradients (and a resumed run's weights) would change from run to run."""
    return values.index_select(0, index.reshape(-1)).reshape(*index.shape, *values.shape[1:])


def _plan_chunks(counts: torch.Tensor, pixels_per_tile: int, max_pairs: int) -> list[tuple[torch.Tensor, int]]:
    """(tile ids, longest list) of groups of occupied tiles with similar list lengths (within
    25 %, so little is padding), each at most ``max_pairs`` pixel x Gaussian values (one tile at
    least). Planned on the host from one copy of ``counts``: no device sync per chunk."""
    counts = counts.cpu()
    occupied = torch.nonzero(counts).flatten()
    order = occupied[torch.argsort(counts[occupied], stable=True)]
    lengths = counts[order].tolist()
    chunks, i = [], 0
    while i < len(order):
        cap = int(lengths[i] * 1.25) + 1
        n = max(1, max_pairs // (cap * pixels_per_tile))
        j = i + 1
        while j < len(order) and j - i < n and lengths[j] <= cap:
            j += 1
        chunks.append((order[i:j], lengths[j - 1]))
        i = j
    return chunks


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
    recompute_chunks: bool = True,
    with_depth: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Render B scenes of N Gaussians into C cameras each (all B x C views in one pass).

    ``recompute_chunks``: under autograd, recompute each chunk's weights in the backward pass, so
    memory is bounded by ``max_pairs`` (rendering takes ~25 % longer); off, the backward pass keeps
    every chunk's ``[tiles, pixels, Gaussians]`` arrays (faster for small scenes, e.g. the tiny
    preset on a CPU). ``with_depth=False`` skips the depth channel (returned as None).

    Returns:
        rgb ``[B, C, H, W, 3]`` (composited over ``background``), alpha ``[B, C, H, W, 1]``,
        expected depth ``[B, C, H, W, 1]`` (sum of weights x camera z / alpha) or None.

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

    def per_view(t: torch.Tensor) -> torch.Tensor:  # [B, N, ...] -> [B * C, N, ...]: each camera its copy
        return t[:, None].expand(B, C, *t.shape[1:]).reshape(B * C, *t.shape[1:])

    cov3 = covariances(quats, scales)  # once per scene, not per camera
    m2, conic, z, radii = project_gaussians(per_view(means), per_view(cov3), per_view(opacities),
                                            viewmats.reshape(B * C, 4, 4), Ks.reshape(B * C, 3, 3), width, height)
    img = _composite_views(m2, conic, z, radii, per_view(opacities), per_view(colors), width, height,
                           tile_size, max_pairs, recompute_chunks, with_depth)
    img = img.reshape(B, C, height, width, img.shape[-1])
    alpha = img[..., -1:]
    rgb = img[..., :3] + (1 - alpha) * bg[:, None, None, None, :]
    depth = img[..., 3:4] / alpha.clamp_min(1e-10) if with_depth else None
    return rgb, alpha, depth

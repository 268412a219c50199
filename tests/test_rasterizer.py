"""The pure-torch Gaussian rasterizer against a dense brute-force compositor, gradcheck, and an
analytic footprint; gsplat against torch where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrmzero.cameras import intrinsics_from_fov, look_at
from lrmzero.plugins.models.gaussians.torch_rasterizer import (
    ALPHA_MAX,
    ALPHA_MIN,
    project_gaussians,
    rasterize_gaussians,
)


def scene(n=60, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype) * 0.3
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.06 + 0.01
    opac = torch.rand(n, generator=g, dtype=dtype) * 0.9 + 0.05
    cols = torch.rand(n, 3, generator=g, dtype=dtype)
    return means, quats, scales, opac, cols


def cameras(width, height, dtype=torch.float32):
    c2w = look_at(np.array([[2.0, 0.5, 0.8], [-1.2, 1.5, -0.4]]))
    w2c = torch.tensor(np.linalg.inv(c2w), dtype=dtype)
    K = torch.tensor(intrinsics_from_fov(width, height, 50.0), dtype=dtype).expand(2, 3, 3)
    return w2c, K


def dense_reference(means, quats, scales, opac, cols, w2c, K, width, height, bg):
    """Every pixel against every Gaussian, front to back, same support rule (3-sigma box)."""
    m2, conic, z, radius = project_gaussians(means, quats, scales, w2c, K)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    pix = torch.stack([xs, ys], -1).to(means.dtype) + 0.5
    img = torch.zeros(height, width, 3, dtype=means.dtype)
    T = torch.ones(height, width, dtype=means.dtype)
    for i in torch.argsort(z).tolist():
        if radius[i] <= 0:
            continue
        d = pix - m2[i]
        power = -0.5 * (conic[i, 0] * d[..., 0] ** 2 + conic[i, 2] * d[..., 1] ** 2) - conic[i, 1] * d[..., 0] * d[..., 1]
        a = (opac[i] * torch.exp(power)).clamp(max=ALPHA_MAX)
        keep = (power <= 0) & (a >= ALPHA_MIN) & (d.abs() <= radius[i]).all(-1)
        a = torch.where(keep, a, torch.zeros_like(a))
        img = img + (T * a)[..., None] * cols[i]
        T = T * (1 - a)
    return img + T[..., None] * bg, 1 - T


@pytest.mark.parametrize("tile", [4, 16])
def test_matches_dense_compositor(tile):
    W, H = 48, 40
    means, quats, scales, opac, cols = scene()
    w2c, K = cameras(W, H)
    bg = torch.tensor([1.0, 0.5, 0.0])
    rgb, alpha, _ = rasterize_gaussians(means[None], quats[None], scales[None], opac[None], cols[None],
                                        w2c[None], K[None], W, H, bg, tile_size=tile, max_pairs=20000)
    assert rgb.shape == (1, 2, H, W, 3) and alpha.shape == (1, 2, H, W, 1)
    for v in range(2):
        ref, ref_alpha = dense_reference(means, quats, scales, opac, cols, w2c[v], K[v], W, H, bg)
        torch.testing.assert_close(rgb[0, v], ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(alpha[0, v, ..., 0], ref_alpha, atol=1e-5, rtol=0)
        assert ref_alpha.max() > 0.5  # the scene is actually in view


def test_batched_scenes_are_independent():
    W, H = 32, 32
    a = scene(seed=1)
    b = scene(seed=2)
    w2c, K = cameras(W, H)
    batched = rasterize_gaussians(*(torch.stack([x, y]) for x, y in zip(a, b)), torch.stack([w2c, w2c]),
                                  torch.stack([K, K]), W, H)
    single = rasterize_gaussians(*(x[None] for x in b), w2c[None], K[None], W, H)
    torch.testing.assert_close(batched[0][1], single[0][0])


def test_gradcheck_float64():
    W, H = 12, 10
    means, quats, scales, opac, cols = scene(n=5, seed=3, dtype=torch.float64)
    w2c, K = cameras(W, H, torch.float64)
    scales = scales * 4  # a few pixels wide at this size
    inputs = [t.clone().requires_grad_() for t in (means, scales, opac, cols)]

    def f(m, s, o, c):
        rgb, alpha, depth = rasterize_gaussians(m[None], quats[None], s[None], o[None], c[None],
                                                w2c[:1][None], K[:1][None], W, H)
        return rgb, alpha

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)


def test_isotropic_gaussian_footprint_matches_projection():
    W = H = 65
    f = 80.0
    K = torch.tensor([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1.0]], dtype=torch.float64)
    w2c = torch.eye(4, dtype=torch.float64)
    z, sigma = 3.0, 0.05
    means = torch.tensor([[0.0, 0.0, z]], dtype=torch.float64)
    quats = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64)
    scales = torch.full((1, 3), sigma, dtype=torch.float64)
    _, alpha, depth = rasterize_gaussians(means[None], quats[None], scales[None],
                                          torch.tensor([[0.9]], dtype=torch.float64),
                                          torch.ones(1, 1, 3, dtype=torch.float64), w2c[None, None], K[None, None], W, H)
    a = alpha[0, 0, ..., 0]
    # analytic: a 2D Gaussian at the principal point with std f*sigma/z (plus the 0.3 px low-pass)
    s2 = (f * sigma / z) ** 2 + 0.3
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64) + 0.5, torch.arange(W, dtype=torch.float64) + 0.5, indexing="ij")
    expected = 0.9 * torch.exp(-0.5 * ((xs - W / 2) ** 2 + (ys - H / 2) ** 2) / s2)
    radius = 3 * np.sqrt(s2)
    inside = ((xs - W / 2).abs() <= np.ceil(radius)) & ((ys - H / 2).abs() <= np.ceil(radius)) & (expected >= 1 / 255)
    torch.testing.assert_close(a[inside], expected[inside], atol=1e-9, rtol=0)
    assert torch.all(a[~inside] == 0)
    torch.testing.assert_close(depth[0, 0, H // 2, W // 2, 0], torch.tensor(z, dtype=torch.float64))


@pytest.mark.gpu
def test_gsplat_matches_torch():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    pytest.importorskip("gsplat")
    from lrmzero.plugins.models.gaussians.gsplat_rasterizer import rasterize_gaussians_gsplat

    W, H = 64, 48
    args = [t.cuda()[None] for t in scene(n=200)]
    w2c, K = cameras(W, H)
    ref = rasterize_gaussians(*args, w2c.cuda()[None], K.cuda()[None], W, H)
    out = rasterize_gaussians_gsplat(*args, w2c.cuda()[None], K.cuda()[None], W, H)
    torch.testing.assert_close(out[0], ref[0], atol=2e-3, rtol=0)
    torch.testing.assert_close(out[1], ref[1], atol=2e-3, rtol=0)

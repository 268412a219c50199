"""Rendering time of GS-LRM-sized Gaussian scenes by Gaussian width and tile size: forward + backward of
the paper step's rendering (8 scenes x 262,144 Gaussians into 8 cameras each at 256 px by default).

Usage: python benchmarks/rasterize.py [--scales 0.005,0.01,...] [--tiles 8,16,32,0] [--scenes 8]
       [--gaussians 262144] [--cameras 8] [--resolution 256]
Tile 0 is the rasterizer's own choice (``choose_tile_size``). On a CPU it times the torch rasterizer
(use small --gaussians); on CUDA gsplat. Scenes are random: means in a ball of radius 0.6, log-normal
scales around --scales, opacities as GS-LRM's activation gives at initialization (sigmoid(x - 2)).
"""

from __future__ import annotations

import argparse

import torch

from lrmzero.cameras import intrinsics_from_fov, look_at
from lrmzero.plugins.models.gaussians.gsplat_rasterizer import choose_tile_size, typical_radius_px
from timing import seconds_per_call  # benchmarks/timing.py (run as python benchmarks/NAME.py)


def random_scenes(scenes: int, n: int, scale: float, device, seed: int = 0) -> list[torch.Tensor]:
    """Means ``[B, N, 3]``, unit quats ``[B, N, 4]``, scales ``[B, N, 3]``, opacities ``[B, N]``,
    colors ``[B, N, 3]``."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    direction = torch.nn.functional.normalize(torch.randn(scenes, n, 3, generator=g), dim=-1)
    means = direction * 0.6 * torch.rand(scenes, n, 1, generator=g) ** (1 / 3)
    quats = torch.nn.functional.normalize(torch.randn(scenes, n, 4, generator=g), dim=-1)
    scales = scale * torch.exp(0.3 * torch.randn(scenes, n, 3, generator=g))
    opacities = torch.sigmoid(torch.randn(scenes, n, generator=g) - 2.0)
    colors = torch.rand(scenes, n, 3, generator=g)
    return [t.to(device) for t in (means, quats, scales, opacities, colors)]


def cameras(scenes: int, views: int, res: int, device, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenCV w2c ``[B, C, 4, 4]`` at distance 2.2 looking at the origin, K ``[B, C, 3, 3]`` (50 deg)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    d = torch.nn.functional.normalize(torch.randn(scenes * views, 3, generator=g, dtype=torch.float64), dim=-1)
    c2w = torch.tensor(look_at((d * 2.2).numpy()), dtype=torch.float32).reshape(scenes, views, 4, 4)
    K = torch.tensor(intrinsics_from_fov(res, res, 50.0), dtype=torch.float32).expand(scenes, views, 3, 3)
    return torch.linalg.inv(c2w).to(device), K.contiguous().to(device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scales", default="0.005,0.01,0.02,0.04,0.07,0.1")
    p.add_argument("--tiles", default="8,16,32,0")
    p.add_argument("--scenes", type=int, default=8)
    p.add_argument("--gaussians", type=int, default=None, help="per scene (default: 4 views x resolution^2)")
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        from lrmzero.plugins.models.gaussians.gsplat_rasterizer import rasterize_gaussians_gsplat as rasterize
    else:
        from lrmzero.plugins.models.gaussians.torch_rasterizer import rasterize_gaussians as rasterize
    res = args.resolution
    n = args.gaussians or 4 * res * res
    w2c, K = cameras(args.scenes, args.cameras, res, device)
    bg = torch.ones(3, device=device)
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}  {args.scenes} scenes x {n} Gaussians "
          f"-> {args.cameras} cameras each at {res} px, forward + backward, ms per call")
    for scale in (float(s) for s in args.scales.split(",")):
        inputs = random_scenes(args.scenes, n, scale, device)
        radius = typical_radius_px(inputs[0], inputs[2], w2c, K)
        row = []
        for tile in (int(t) for t in args.tiles.split(",")):
            chosen = tile or choose_tile_size(inputs[0], inputs[2], w2c, K)
            kwargs = {"tile_size": chosen} if cuda else {"tile_size": min(chosen, 16)}

            def call():
                leaves = [t.detach().requires_grad_() for t in inputs]
                rgb, alpha, depth = rasterize(*leaves, w2c, K, res, res, bg, **kwargs)
                (rgb.mean() + alpha.mean() + depth.mean()).backward()

            call()  # warm-up (gsplat builds on its first call)
            ms = 1000 * seconds_per_call(call, args.repeats, cuda)
            row.append(f"tile {tile or f'auto={chosen}'}: {ms:.1f}")
        print(f"scale {scale:<6} (median radius {radius:5.1f} px)  " + "  ".join(row), flush=True)


if __name__ == "__main__":
    main()

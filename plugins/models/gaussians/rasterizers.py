"""Gaussian rasterizer components (the Gaussian family's own kind, ``rasterizers``): configs and
dispatch to the torch reference or gsplat."""

from __future__ import annotations

from dataclasses import dataclass

from lrmzero import param
from lrmzero.components import Component, RendererUnavailable


class TorchRasterizer(Component):
    """Pure-PyTorch tiled Gaussian rasterizer (differentiable; CPU and GPU). The reference."""

    name = "torch"

    @dataclass
    class Config:
        tile_size: int = param(8, "pixels per side of a compositing tile", ge=1, le=256)
        max_pairs: int = param(4_000_000, "tile x Gaussian pairs composited at once (bounds memory)", ge=1024)
        recompute: bool = param(True, "recompute each chunk's weights in the backward pass: memory bounded by "
                                "max_pairs, ~25 % slower rendering (off: faster for small scenes on a CPU)")

    def __call__(self, *args, **kwargs):
        from lrmzero.plugins.models.gaussians.torch_rasterizer import rasterize_gaussians

        return rasterize_gaussians(*args, tile_size=self.cfg.tile_size, max_pairs=self.cfg.max_pairs,
                                   recompute_chunks=self.cfg.recompute, **kwargs)


class GsplatRasterizer(Component):
    """gsplat's CUDA rasterizer (optional extra `lrmzero[gsplat]`), same arguments and outputs."""

    name = "gsplat"

    @dataclass
    class Config:
        tile_size: int = param(0, "pixels per side of gsplat's tiles; 0: by the Gaussians' median projected "
                               "radius, 32 from 40 px (as at GS-LRM's initialization: ~3x faster there), 8 below "
                               "6 px, else 16", ge=0, le=32)
        choose_every: int = param(100, "with tile_size 0, choose the tile size again every this many renders "
                                  "(choosing reads the Gaussians' sizes on the host: a wait for the GPU)", ge=1)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        try:
            import gsplat  # noqa: F401
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError("CUDA is not available")
        except Exception as exc:  # noqa: BLE001
            raise RendererUnavailable(f"gsplat: {type(exc).__name__}: {exc}") from None
        from lrmzero.plugins.models.gaussians.gsplat_rasterizer import TileSizeChooser

        self.choose_tile_size = TileSizeChooser(self.cfg.choose_every)

    def __call__(self, means, quats, scales, opacities, colors, viewmats, Ks, *args, **kwargs):
        from lrmzero.plugins.models.gaussians.gsplat_rasterizer import rasterize_gaussians_gsplat

        tile_size = self.cfg.tile_size or self.choose_tile_size(means, scales, viewmats, Ks)
        return rasterize_gaussians_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, *args,
                                          tile_size=tile_size, **kwargs)

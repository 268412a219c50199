"""Builtin Gaussian rasterizers: `torch` (pure PyTorch reference, CPU and GPU) and `gsplat` (CUDA).

The classes registered here are light: torch is imported only when one is used, so that
`lrmzero generate` never pays for it.
"""

from lrmzero import hookimpl

from lrmzero.plugins.rasterizers.backends import GsplatRasterizer, TorchRasterizer


@hookimpl
def register_rasterizers() -> list[type]:
    return [TorchRasterizer, GsplatRasterizer]

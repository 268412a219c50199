"""The Gaussian model family: GS-LRM (posed views + Plucker rays -> transformer -> per-pixel 3D
Gaussians) and its Gaussian rasterizers, a kind of component this family declares (``rasterizers``:
the pure-torch reference and gsplat on CUDA; outside packages may add more).

The registered classes are light; torch is imported when a network is built or a rasterizer used.
"""

from lrmzero import hookimpl

from lrmzero.plugins.models.gaussians.gs_lrm import GSLRM
from lrmzero.plugins.models.gaussians.rasterizers import GsplatRasterizer, TorchRasterizer

RASTERIZERS = "rasterizers"


@hookimpl
def register_models() -> list[type]:
    return [GSLRM]


@hookimpl
def register_kinds() -> list[str]:
    return [RASTERIZERS]


@hookimpl
def register_components(kind: str) -> list[type]:
    return [TorchRasterizer, GsplatRasterizer] if kind == RASTERIZERS else []

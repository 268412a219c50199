"""Builtin models: GS-LRM (posed views + Plucker rays -> transformer -> per-pixel 3D Gaussians).

The registered class is light; torch is imported when a network is built.
"""

from lrmzero import hookimpl

from lrmzero.plugins.models.gs_lrm import GSLRM


@hookimpl
def register_models() -> list[type]:
    return [GSLRM]

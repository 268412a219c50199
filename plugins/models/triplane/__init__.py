"""The triplane model family: `triplane_lrm` (the OpenLRM / Instant3D backbone) with its NeRF volume
renderer and mesh export. Trains through the same trainer as any model: ``model.name=triplane_lrm``.
"""

from lrmzero import hookimpl

from lrmzero.plugins.models.triplane.triplane_lrm import TriplaneLRM


@hookimpl
def register_models() -> list[type]:
    return [TriplaneLRM]

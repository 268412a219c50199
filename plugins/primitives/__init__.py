"""Builtin primitives: cube (cuboid), sphere (ellipsoid), cylinder, cone, torus."""

from lrmzero import hookimpl

from lrmzero.plugins.primitives.cone import Cone
from lrmzero.plugins.primitives.cube import Cube
from lrmzero.plugins.primitives.cylinder import Cylinder
from lrmzero.plugins.primitives.sphere import Sphere
from lrmzero.plugins.primitives.torus import Torus


@hookimpl
def register_primitives() -> list[type]:
    return [Cube, Sphere, Cylinder, Cone, Torus]

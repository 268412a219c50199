"""Builtin renderers (gl, raycast, cycles) and camera samplers (zeroverse, uniform_sphere, orbit)."""

from lrmzero import hookimpl

from lrmzero.plugins.renderers.camera_samplers import Orbit, UniformSphere, ZeroverseCameras
from lrmzero.plugins.renderers.cycles import CyclesRenderer
from lrmzero.plugins.renderers.gl import GLRenderer
from lrmzero.plugins.renderers.raycast import RaycastRenderer


@hookimpl
def register_renderers() -> list[type]:
    return [GLRenderer, RaycastRenderer, CyclesRenderer]


@hookimpl
def register_camera_samplers() -> list[type]:
    return [ZeroverseCameras, UniformSphere, Orbit]

"""Builtin texture sources: procedural patterns and a user's own folder of images."""

from lrmzero import hookimpl

from lrmzero.plugins.textures.image_folder import ImageFolder
from lrmzero.plugins.textures.procedural import Blend, Cellular, Checker, Fbm, Gradient, Stripes


@hookimpl
def register_textures() -> list[type]:
    return [Fbm, Cellular, Stripes, Checker, Gradient, Blend, ImageFolder]

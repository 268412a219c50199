"""Builtin texture sources: procedural PBR materials, procedural patterns, a user's own folder of
images or MatSynth materials."""

from lrmzero import hookimpl

from lrmzero.plugins.textures.image_folder import ImageFolder
from lrmzero.plugins.textures.pbr import PBRMaterials
from lrmzero.plugins.textures.procedural import Blend, Cellular, Checker, Fbm, Gradient, Stripes


@hookimpl
def register_textures() -> list[type]:
    return [PBRMaterials, Fbm, Cellular, Stripes, Checker, Gradient, Blend, ImageFolder]

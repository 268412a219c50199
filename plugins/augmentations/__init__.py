"""Builtin augmentations: height fields, boolean difference and wireframes (Zeroverse)."""

from lrmzero import hookimpl

from lrmzero.plugins.augmentations.boolean_difference import BooleanDifference
from lrmzero.plugins.augmentations.height_field import HeightField
from lrmzero.plugins.augmentations.wireframe import Wireframe


@hookimpl
def register_augmentations() -> list[type]:
    return [HeightField, BooleanDifference, Wireframe]

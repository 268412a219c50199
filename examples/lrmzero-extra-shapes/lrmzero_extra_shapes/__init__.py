"""lrmzero-extra-shapes: a capsule primitive and a twist augmentation, registered as plugins."""

from lrmzero import hookimpl

from lrmzero_extra_shapes.capsule import Capsule
from lrmzero_extra_shapes.twist import Twist


@hookimpl
def register_primitives() -> list[type]:
    return [Capsule]


@hookimpl
def register_augmentations() -> list[type]:
    return [Twist]

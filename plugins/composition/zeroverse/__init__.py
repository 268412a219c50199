"""The Zeroverse composition (LRM-Zero): the shape sampler, material slots and atlas, and the
object builder, as the ``zeroverse`` composer."""

from lrmzero import hookimpl

from lrmzero.plugins.composition.zeroverse.composer import ZeroverseComposer


@hookimpl
def register_composers() -> list[type]:
    return [ZeroverseComposer]

"""The dataset generation pipeline: ``lrmzero generate`` (compose, augment, render and write
objects through the run's executor, resumably and sharded) and ``lrmzero render`` (existing meshes
into the same layout), and the ``procedural`` data source (the same objects made inside a
trainer's loader). It uses the other kinds only through the registries and core's contracts.
"""

from lrmzero import hookimpl

from lrmzero.plugins.generation.commands import GenerateCommand, RenderCommand


@hookimpl
def register_commands() -> list[type]:
    return [GenerateCommand, RenderCommand]


@hookimpl
def register_data_sources() -> list[type]:
    from lrmzero.plugins.generation.procedural import ProceduralSource

    return [ProceduralSource]

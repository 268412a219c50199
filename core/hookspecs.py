"""Hook specifications: what a plugin module may implement to contribute components.

Every hook is called once per process, when the registries are built (see
:func:`lrmzero.get_registries`), never per object. Each returns a list of component classes.
A component class has:

- ``name: str`` — the registry name that configs use (``{kind}.{name}``), unique within its kind;
- ``Config`` — a dataclass whose fields are built with :func:`lrmzero.param` (default, help, bounds);
- ``__init__(self, cfg: Config)`` — the factory: the registry builds one instance per process.

The methods each kind must provide are documented on the base classes in
:mod:`lrmzero.components`.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("lrmzero")


@hookspec
def register_composers() -> list[type]:
    """Composer classes (:class:`lrmzero.components.Composer`): the rules that build one object from
    (seed, index) out of the run's primitives, textures and augmentations (Zeroverse's, or others).
    ``compose.composer`` selects one; its ``Config`` fields are top-level config sections."""


@hookspec
def register_primitives() -> list[type]:
    """Primitive classes (:class:`lrmzero.components.Primitive`): build a closed, outward-oriented,
    UV-mapped mesh that fits the box ``[-size, size]``."""


@hookspec
def register_textures() -> list[type]:
    """Texture source classes (:class:`lrmzero.components.TextureSource`): paint an ``[S, S, 3]``
    uint8 base-colour tile, or a whole PBR :class:`lrmzero.components.Material`, from a given
    generator."""


@hookspec
def register_augmentations() -> list[type]:
    """Augmentation classes (:class:`lrmzero.components.Augmentation`): change an assembled
    object's parts and record what they did."""


@hookspec
def register_renderers() -> list[type]:
    """Renderer classes: turn a textured mesh and cameras into images."""


@hookspec
def register_camera_samplers() -> list[type]:
    """Camera sampler classes: choose the views an object is rendered from."""


@hookspec
def register_executors() -> list[type]:
    """Executor classes (:class:`lrmzero.components.Executor`): where ``generate`` and ``render``
    run their per-object jobs (``execute.executor``: local processes, a Dask cluster, ...)."""


@hookspec
def register_data_sources() -> list[type]:
    """Data source classes (:class:`lrmzero.components.DataSource`): objects a trainer reads that
    are not dataset folders or shards, named as ``--data NAME:key=value,...`` (objects made on the
    fly by the generation pipeline, say)."""


@hookspec
def register_models() -> list[type]:
    """Reconstruction model classes (:class:`lrmzero.components.ReconstructionModel`): a network
    and how its outputs become images (``render``) and files (``export``). Trainers, ``eval`` and
    ``reconstruct`` use models only through that contract, so backbones swap by ``model.name``."""


@hookspec
def register_commands() -> list[type]:
    """CLI subcommand classes (:class:`lrmzero.components.Command`): ``lrmzero NAME ...``. Core
    ships ``generate``, ``render``, ``gallery`` and ``plugins``; a trainer plugin adds ``train``,
    ``eval`` and ``reconstruct`` this way."""


@hookspec
def register_kinds() -> list[str]:
    """Names of component kinds a plugin family introduces for its own parts (the Gaussian model
    family's ``rasterizers``, say). Called once, after the core kinds are filled; other plugins
    then contribute components of those kinds through :func:`register_components`."""


@hookspec
def register_components(kind: str) -> list[type]:
    """Component classes of a kind declared through :func:`register_kinds`.

    Args:
        kind: the kind being filled; return ``[]`` for kinds this plugin does not contribute to.
    """

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
def register_primitives() -> list[type]:
    """Primitive classes (:class:`lrmzero.components.Primitive`): build a closed, outward-oriented,
    UV-mapped mesh that fits the box ``[-size, size]``."""


@hookspec
def register_textures() -> list[type]:
    """Texture source classes (:class:`lrmzero.components.TextureSource`): paint an ``[S, S, 3]``
    uint8 tile from a given generator."""


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
def register_rasterizers() -> list[type]:
    """Gaussian rasterizer classes: callables with the arguments of
    :func:`lrmzero.plugins.rasterizers.torch_rasterizer.rasterize_gaussians`."""


@hookspec
def register_models() -> list[type]:
    """Model classes: reconstruction networks trained by ``lrmzero train``.

    A model class gives ``build_network() -> torch.nn.Module`` and may give
    ``check_resolution(resolution: int, key: str)``, which raises
    :class:`lrmzero.ConfigError` (naming ``key``) for an image size the network cannot take; it is
    called when a config is loaded, before any work starts."""

"""Base classes for components. Plugins subclass these (or just match their shape: duck typing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lrmzero.mesh import PartMesh

if TYPE_CHECKING:
    from lrmzero.cameras import Cameras
    from lrmzero.views import ShadingSettings, Views


@dataclass
class NoConfig:
    """A component without parameters."""


class Component:
    """A named, configurable component. ``Config`` is its dataclass of parameters."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg if cfg is not None else self.Config()


class Primitive(Component):
    """Builds one part that fits the axis-aligned box ``[-size, size]`` (size: half-extents).

    Subclasses set ``surfaces`` (names of the surface ids they emit, in id order) and implement
    :meth:`build`. They may implement :meth:`analytic_volume` for tests.
    """

    surfaces: ClassVar[tuple[str, ...]] = ()

    def build(self, size: np.ndarray, rng: np.random.Generator) -> PartMesh:
        """Args: size ``[3]`` half-extents (> 0); rng: the only source of randomness.

        Returns a closed, outward-oriented PartMesh with ``material == surface``.
        """
        raise NotImplementedError

    def analytic_volume(self, mesh: PartMesh) -> float | None:
        """The exact volume of the smooth solid ``mesh`` approximates (from ``mesh.params``)."""
        return None


class TextureSource(Component):
    """Paints one square texture tile."""

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Returns ``[size, size, 3]`` uint8 RGB (row 0 is the top, i.e. v = 1)."""
        raise NotImplementedError


class Augmentation(Component):
    """Changes an assembled, normalized object's parts (largest side ``normalized_size``, centred)
    and says what it did. The object is normalized again afterwards.

    If its ``Config`` has a ``probability`` field, the pipeline draws against it and calls
    :meth:`apply` only on success.
    """

    def apply(
        self, parts: list[PartMesh], rng: np.random.Generator, context: "AugmentContext"
    ) -> tuple[list[PartMesh], dict[str, Any]]:
        """Returns the new parts and a JSON-serializable record for meta.json."""
        raise NotImplementedError


class CameraSampler(Component):
    """Chooses the views an object is rendered from."""

    def sample(self, views: int, width: int, height: int, rng: np.random.Generator) -> "Cameras":
        """Returns ``views`` OpenCV cameras (see :class:`lrmzero.cameras.Cameras`) of that size."""
        raise NotImplementedError


class Renderer(Component):
    """Turns an :class:`~lrmzero.asset.Asset` and cameras into :class:`~lrmzero.views.Views`.

    An instance is made once per worker process and reused for every object; it may hold a
    graphics context. If it cannot run on this machine, its constructor raises
    :class:`RendererUnavailable` (``auto`` then tries the next renderer).
    """

    def render(self, asset: Any, cameras: "Cameras", settings: "ShadingSettings", on_view=None) -> "Views":
        """Render every camera. ``on_view(i, rgba [H, W, 4], depth [H, W], normal [H, W, 3])``, if
        given, is called as soon as view ``i`` is done (the caller encodes it meanwhile)."""
        raise NotImplementedError


class RendererUnavailable(RuntimeError):
    """This renderer cannot run here (e.g. no EGL); the message says why."""


@dataclass
class AugmentContext:
    """What an augmentation may use besides the parts.

    Attributes:
        primitives: name -> Primitive instance as configured for this run (e.g. for cutters).
        primitive_registry: the primitives :class:`~lrmzero.registry.Registry`, to build one with
            other parameters (e.g. a coarse tessellation).
        new_material: ``() -> int``, allocates a fresh material slot (it gets its own texture).
    """

    primitives: Any
    primitive_registry: Any
    new_material: Any

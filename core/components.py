"""Base classes for components. Plugins subclass these (or just match their shape: duck typing)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from lrmzero.mesh import PartMesh

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    import torch

    from lrmzero.asset import Asset
    from lrmzero.cameras import Cameras
    from lrmzero.registry import Registries, Registry
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

    def use_components(self, components: Mapping[str, Mapping[str, "Component"]]) -> None:
        """Receive the run's instances of every selected component (kind -> name -> instance),
        once per process before use: how a component uses others it names in ``names_of`` fields
        (a blended texture its sources), as the user configured them. Default: nothing."""


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

    def coarse(self, segments: int) -> "Primitive":
        """This primitive with a coarse tessellation: about ``segments`` segments around its curved
        directions and as few as possible elsewhere (a wireframe turns every edge into a strut).
        The default returns the primitive unchanged."""
        return self

    def analytic_volume(self, mesh: PartMesh) -> float | None:
        """The exact volume of the smooth solid ``mesh`` approximates (from ``mesh.params``)."""
        return None


@dataclass
class Material:
    """One square PBR material tile; every map is uint8 with row 0 at the top (v = 1).

    Attributes:
        base_color: ``[S, S, 3]`` sRGB (decoded with the sRGB curve for shading).
        roughness: ``[S, S]`` linear, 255 = 1; None: the composition's default.
        metallic: ``[S, S]`` linear, 255 = fully metallic; None: 0.
        normal: ``[S, S, 3]`` tangent-space normal, ``(n * 0.5 + 0.5) * 255``, OpenGL/glTF
            convention (+X = +u, +Y = +v); None: the geometric normal.
    """

    base_color: np.ndarray
    roughness: np.ndarray | None = None
    metallic: np.ndarray | None = None
    normal: np.ndarray | None = None


class TextureSource(Component):
    """Paints one square texture tile: a base colour (:meth:`paint`) or a whole PBR material
    (:meth:`paint_material`, which by default is the base colour alone)."""

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Returns ``[size, size, 3]`` uint8 RGB (row 0 is the top, i.e. v = 1)."""
        raise NotImplementedError

    def paint_material(self, size: int, rng: np.random.Generator) -> Material:
        """A PBR material of ``size`` texels per side; sources with more than a colour override it."""
        return Material(self.paint(size, rng))


class Augmentation(Component):
    """Changes an assembled, normalized object's parts (largest side ``normalized_size``, centred)
    and says what it did. It is not normalized again afterwards (as in the official code),
    unless the composition asks for it.

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
        given, is called as soon as view ``i`` is done (the caller encodes it meanwhile). Back faces
        may be skipped unless ``asset.double_sided`` (then each face shows from both sides)."""
        raise NotImplementedError


class ReconstructionModel(Component):
    """A reconstruction model family: its network, and how the network's outputs become images and
    files. Trainers, ``eval`` and ``reconstruct`` know models only through this contract.

    **Batch** (what a trainer gives ``network(batch)``): a dict with
    ``images [B, V, 3, H, W]`` (input views in [0, 1], composited over the background),
    ``rays [B, V, 6, H, W]`` (Plucker rays ``(d, o x d)`` of every input pixel, world frame),
    ``c2w [B, V, 4, 4]`` (OpenCV camera-to-world) and ``K [B, V, 3, 3]`` (pixel intrinsics).
    Other keys (targets) may be present and must be ignored.

    **Outputs**: a dict of tensors, batch-first (``[B, ...]``), whatever the family needs.
    """

    def build_network(self) -> "torch.nn.Module":
        """A new ``torch.nn.Module``; ``network(batch) -> outputs``. Weights are the trainer's."""
        raise NotImplementedError

    def prepare(self, device: "torch.device", strict: bool = True) -> None:
        """Called once per process before :meth:`render` runs on ``device`` (e.g. to choose a
        rasterizer that runs there).

        ``strict`` (training): a kernel or renderer the config names that cannot run on ``device``
        is a :class:`~lrmzero.errors.ConfigError`. ``strict=False`` (a checkpoint loaded for
        inference, maybe on another machine than it was trained on): such a setting, one that
        chooses how the network runs but not what it computes, falls back to what runs here, with
        a warning."""

    def render(self, outputs: dict, w2c: "torch.Tensor", K: "torch.Tensor", size: int,
               background: "torch.Tensor", with_depth: bool = True) -> dict:
        """Render outputs into cameras, differentiably.

        Args:
            outputs: what the network returned for ``B`` objects.
            w2c: ``[B, T, 4, 4]`` OpenCV world-to-camera of ``T`` cameras per object.
            K: ``[B, T, 3, 3]`` pixel intrinsics for ``size x size`` images.
            size: image side in pixels.
            background: ``[3]`` RGB where nothing is drawn.
            with_depth: False when the caller needs no depth (a trainer without a depth loss,
                evaluation): a model may then skip computing it and leave ``depth`` out.

        Returns:
            ``{"rgb": [B, T, 3, S, S], "alpha": [B, T, 1, S, S], "depth": [B, T, 1, S, S]}`` in float32.
        """
        raise NotImplementedError

    def export(self, outputs: dict, folder: "Path") -> dict[str, "Path"]:
        """Write object 0 of ``outputs`` as files other tools open (3DGS ``.ply``, a ``.glb`` mesh);
        returns ``{what: path}``."""
        raise NotImplementedError

    def check_resolution(self, resolution: int, key: str) -> None:
        """Raise :class:`lrmzero.ConfigError` naming ``key`` if the network cannot take
        ``resolution``-pixel images. Called when a config is loaded, before any work."""

    def flops_per_object(self, input_views: int, resolution: int) -> "float | None":
        """Optional: the forward FLOPs (multiply-adds x 2) of the network for one object of
        ``input_views`` views at ``resolution`` pixels, counted as the model's paper counts them (for
        a transformer: its matmuls and attention). Trainers log model FLOP utilization as 3x this
        (forward + backward) per object per second over the device's peak; None: not counted."""
        return None


def render_model(model, outputs: dict, w2c: "torch.Tensor", K: "torch.Tensor", size: int,
                 background: "torch.Tensor", with_depth: bool = True) -> dict:
    """``model.render(...)`` as :meth:`ReconstructionModel.render`, passing ``with_depth`` only to
    models whose ``render`` takes it: a model written before the argument existed keeps working
    (it renders depth as it always did)."""
    if _render_takes_with_depth(type(model)):
        return model.render(outputs, w2c, K, size, background, with_depth=with_depth)
    return model.render(outputs, w2c, K, size, background)


@functools.lru_cache(maxsize=None)
def _render_takes_with_depth(model_type: type) -> bool:
    try:
        parameters = inspect.signature(model_type.render).parameters
    except (TypeError, ValueError):  # no Python signature: pass the argument and let it say
        return True
    return "with_depth" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class Command(Component):
    """An ``lrmzero NAME`` subcommand contributed by a plugin (``register_commands``).

    ``name`` is the subcommand; ``help`` its one-line description; ``config_sections`` the config
    dataclasses it reads, by section name (listed in docs/configs.md).
    """

    help: ClassVar[str] = ""
    config_sections: ClassVar[dict[str, type]] = {}

    def add_arguments(self, parser: "argparse.ArgumentParser") -> None:
        """Declare the subcommand's options on its own parser."""

    def run(self, args: "argparse.Namespace") -> int:
        """Do the work; return the exit code. Raise :class:`lrmzero.LrmzeroError` for bad input."""
        raise NotImplementedError


class RendererUnavailable(RuntimeError):
    """This renderer cannot run here (e.g. no EGL); the message says why."""


@dataclass
class AugmentContext:
    """What an augmentation may use besides the parts.

    Attributes:
        primitives: name -> Primitive instance as configured for this run (cutters, wireframe
            bases: every primitive the run's config names).
        primitive_registry: the primitives registry, to build one with other parameters.
        new_material: ``() -> int``, allocates a fresh material slot (it gets its own texture).
    """

    primitives: Mapping[str, Primitive]
    primitive_registry: "Registry"
    new_material: Callable[[], int]


@dataclass
class ComposeContext:
    """What a composer builds objects from, made once per worker process.

    Attributes:
        components: kind -> name -> instance of every component the run's config selects
            (``primitives``, ``textures``, ``augmentations``; e.g. the primitives its own config
            names and those augmentations name as cutters).
        augmentations: ``augment.apply``: (name, instance) in order.
        normalized_size: the largest side every finished object must have.
        config_hash: the run's config hash (goes to meta.json).
        registries: the process's registries (to build a component with other parameters).
    """

    components: Mapping[str, Mapping[str, Component]]
    augmentations: Sequence[tuple[str, "Augmentation"]]
    normalized_size: float
    config_hash: str
    registries: "Registries"


class Composer(Component):
    """Builds one object of a run from (seed, index): which parts, their poses and materials, the
    augmentations, normalization and textures. ``compose.composer`` selects one; the fields of its
    ``Config`` are top-level config sections (Zeroverse's: ``shape``, ``materials``); fields
    declared with ``param(..., names_of=KIND)`` select the components it uses.
    """

    def setup(self, context: ComposeContext) -> None:
        """Called once per worker process before :meth:`build`."""
        self.context = context

    def build(self, seed: int, index: int) -> "Asset":
        """Object ``index`` of seed ``seed``: an :class:`lrmzero.asset.Asset` (one mesh, one UV
        set, one atlas, normalized to ``normalized_size``, centred) whose ``meta`` holds what was
        drawn and a ``timings`` dict. Its randomness comes only from
        :func:`lrmzero.objects.object_streams` ``(seed, index)``."""
        raise NotImplementedError


@dataclass(frozen=True)
class ObjectJobSpec:
    """Everything a worker needs to make objects of a run; picklable, sent to every worker.

    ``spec(index)`` makes and writes object ``index`` and returns its manifest record.

    Attributes:
        make: ``make(spec, index) -> record``, a module-level function (pickled by reference) that
            keeps whatever it builds per process (components, a GL context) for the next index.
        run: the validated :class:`lrmzero.config.RunConfig`.
        seed: the dataset seed.
        out: the dataset folder.
        inputs: mesh files to render instead of composing objects (``lrmzero render``), or None.
        retries: how often a failing object is tried again before it is recorded as failed.
    """

    make: Callable[["ObjectJobSpec", int], dict]
    run: Any
    seed: int
    out: str
    inputs: tuple[str, ...] | None
    retries: int = 1

    def __call__(self, index: int) -> dict:
        return self.make(self, index)


class DataSource(Component):
    """Objects for training and evaluation that are made or fetched rather than read from a
    dataset folder: ``--data NAME:key=value,...`` builds this component with those parameters.

    :meth:`objects` returns picklable handles, one per object, in a fixed order (the trainer's
    stream indexes them, so the order must depend only on the parameters). Each handle has
    ``name`` (its object id), ``views`` (how many views it has, known without making it) and
    ``read(rel_path) -> bytes``, the file an object folder would hold at that path
    (``opencv_cameras.json``, ``rgba/000.png``, ...); a handle may make its object on first read,
    in whatever process reads it.
    """

    def objects(self) -> Sequence[Any]:
        raise NotImplementedError


class Executor(Component):
    """Runs a run's per-object jobs: here, in worker processes, or on a cluster.

    :meth:`run` calls ``spec(index)`` for every index (in any process; it builds and writes the
    object and returns its manifest record), hands each result to ``record`` in the calling thread,
    retries a failing index ``spec.retries`` times and then records ``failed(index, exc)``. On
    Ctrl-C it cancels queued work and re-raises ``KeyboardInterrupt``.
    """

    def check(self) -> None:
        """Raise :class:`lrmzero.ConfigError` if this executor cannot run here (a missing extra);
        called before anything is written."""

    def run(self, spec: ObjectJobSpec, indices: list[int], workers: int,
            record: Callable[[dict], None], failed: Callable[[int, BaseException], dict]) -> None:
        raise NotImplementedError

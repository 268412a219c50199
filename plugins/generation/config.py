"""The generation run's configuration: the packaged defaults, a user file and ``key=value``
overrides, merged and validated by core's loader (:mod:`lrmzero.config`).

Layout of a config (see ``configs/default.yaml``)::

    compose:     which composer plugin builds each object; the final object size   (ComposeConfig)
    <sections of the composer's own Config>   e.g. Zeroverse's ``shape`` and ``materials``
    augment:     which augmentations run, in order                                   (AugmentConfig)
    render:      renderer, camera sampler, views, resolution, shading                (RenderConfig)
    output:      how files are written                                               (OutputConfig)
    execute:     which executor runs the per-object jobs                             (ExecuteConfig)
    <kind>:      {name: {param: value}}  parameters of components of that kind (primitives, ...)

A composer's ``Config`` fields are top-level sections, so ``shape.half_axis_max=1.5`` reads as it
always did while this module names no composer. Every component is validated against its own
``Config`` dataclass, and every value that names another component (``names_of`` fields, e.g.
cutter kinds) is checked against the registries, before any output is written. The defaults that
name components live in the packaged YAML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Sequence

from omegaconf import DictConfig, OmegaConf

from lrmzero.config import load_yaml_file, merge_layers, parse_overrides, select_components
from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_params, check_references, param
from lrmzero.registry import Registries

DEFAULT_CONFIG = "default"  # configs/default.yaml: the layer under every --config
# Kinds whose components a run config may parameterize under ``<kind>.<name>``.
COMPONENT_KINDS = ("composers", "primitives", "textures", "augmentations", "renderers", "camera_samplers",
                   "executors")
# Where and how objects are made, not what they are: left out of the config hash, so that a run
# may resume with another executor and give the same bytes.
EXECUTION_ONLY = ("execute", "executors")
CONFIGS = resources.files("lrmzero.plugins.generation") / "configs"


@dataclass
class ComposeConfig:
    composer: str = param("", "composer plugin that builds each object (its Config's fields are "
                          "top-level sections)", names_of="composers")
    normalized_size: float = param(1.8, "largest side of every object's bounding box (composed and "
                                   "rendered meshes alike)", gt=0.0)
    mesh_up: str = param("auto", "lrmzero render: the mesh files' up axis. y: +Y is up, turned (x, y, z) -> "
                         "(x, -z, y) as Blender imports glTF and OBJ files (the official renders); z: their "
                         "coordinates are the world's (Z up); auto: as Blender's importer of each file's format "
                         "(glTF and OBJ y, lrmzero's own mesh.glb and PLY, STL, OFF z)", choices=["auto", "z", "y"])


@dataclass
class AugmentConfig:
    apply: List[str] = param([], "augmentations applied to each object, in order", names_of="augmentations")


@dataclass
class RenderConfig:
    enabled: bool = param(True, "render views (false: write meshes only)")
    renderer: str = param("auto", "renderer plugin, or auto: the first of auto_order that can run here")
    auto_order: List[str] = param([], "renderers tried in order by renderer=auto", names_of="renderers")
    cameras: str = param("", "camera sampler plugin", names_of="camera_samplers")
    views: int = param(32, "views per object", ge=1, le=1024)
    resolution: int = param(512, "image width and height in pixels", ge=8, le=4096)
    shading: str = param("ao", "unlit, lambert, or ao (Zeroverse's white environment: occlusion, one bounce, "
                         "specular)", choices=["unlit", "lambert", "ao"])
    background: List[float] = param([1.0, 1.0, 1.0], "RGB the object is composited over (all of it where alpha "
                                    "is 0)", ge=0.0, le=1.0)
    ao_rays: int = param(16, "rays per vertex when baking ambient occlusion (each vertex turns them its own way)", ge=1, le=1024)
    ao_distance: float = param(1.0, "occluders farther than this do not darken", gt=0.0)
    ao_smoothing: int = param(0, "neighbour-averaging passes over the baked occlusion (less noise, but blurs "
                              "contact shadows: 0 matches Cycles best)", ge=0, le=20)
    ao_split_creases: bool = param(True, "bake occlusion per side of sharp edges (struts' inner faces dark as in "
                                   "Cycles: at 256 px SSIM vs cycles 0.892 -> 0.915, PSNR 25.73 -> 25.87; off: "
                                   "once per position, as before)")
    ao_bounce: str = param("traced", "light along occluded directions: traced (the colour and light of the "
                           "surfaces the rays hit: a pocket in a dark part stays dark) or uniform (one grey value per "
                           "object: vs cycles 28.19 against 28.39 dB; the bake ~20% faster, per object no measurable "
                           "difference)", choices=["uniform", "traced"])
    ao_bounce_stride: int = param(4, "with ao_bounce=traced, trace every this-th ray of a vertex to what it hits, "
                                  "the others only say whether they are occluded (1: all, 28.42 dB vs cycles with "
                                  "twice the bake time; 4: 28.39)", ge=1, le=64)
    ao_max_edge: float = param(0.25, "split mesh edges longer than this before baking occlusion per vertex (0: "
                               "never): a long strut is lit along its length, not from its two ends (gl vs "
                               "cycles at 256 px: 26.26 -> 27.04 dB at 0.3, a strut cage 20.4 -> 24.7; 0.25: "
                               "+0.14 dB more, on wireframes, at up to 1.5x their faces and no measurable time)",
                               ge=0.0)
    levels: bool = param(True, "official per-object auto-levels: 1st/99th percentiles of opaque pixels over "
                         "all views to 0..1, before gamma 1/2.2")
    depth_format: str = param("png16", "png16: 16-bit PNG in units of depth_scale; npz: float32", choices=["png16", "npz"])
    depth_scale: float = param(1e-4, "metres (object units) per png16 depth step", gt=0.0)


@dataclass
class OutputConfig:
    png_compress_level: int = param(1, "zlib level for PNGs (1 fast ... 9 small)", ge=0, le=9)
    mesh_texture: str = param(
        "jpeg", "how mesh.glb embeds the atlas (renders always use the exact atlas; a rendered mesh's "
        "table of vertex or face colours is always PNG)", choices=["jpeg", "png"]
    )
    jpeg_quality: int = param(95, "JPEG quality of the atlas in mesh.glb", ge=1, le=100)


@dataclass
class ExecuteConfig:
    executor: str = param("", "executor plugin that runs the per-object jobs", names_of="executors")
    retries: int = param(1, "tries again of a failing object before it is recorded as failed", ge=0, le=10)


@dataclass
class GenerateConfig:
    compose: ComposeConfig = field(default_factory=ComposeConfig)
    execute: ExecuteConfig = field(default_factory=ExecuteConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    composers: Dict[str, Any] = field(default_factory=dict)
    primitives: Dict[str, Any] = field(default_factory=dict)
    textures: Dict[str, Any] = field(default_factory=dict)
    augmentations: Dict[str, Any] = field(default_factory=dict)
    renderers: Dict[str, Any] = field(default_factory=dict)
    camera_samplers: Dict[str, Any] = field(default_factory=dict)
    executors: Dict[str, Any] = field(default_factory=dict)


CORE_SECTIONS = ("compose", "execute", "augment", "render", "output")


@dataclass
class RunConfig:
    """A validated config: core sections plus every selected plugin's Config instance."""

    generate: GenerateConfig
    components: dict[str, dict[str, Any]]  # kind -> name -> Config instance

    @property
    def composer_name(self) -> str:
        return self.generate.compose.composer

    @property
    def composer(self) -> Any:
        """The composer's Config instance (its fields are the top-level sections it owns)."""
        return self.components["composers"][self.composer_name]

    def to_dict(self) -> dict:
        """Plain, fully resolved dict (defaults filled in), as written to config.yaml."""
        out = dataclasses.asdict(self.generate)
        for kind, comps in self.components.items():
            out[kind] = {name: dataclasses.asdict(c) for name, c in sorted(comps.items())}
        return out

    def hash(self) -> str:
        """What the objects depend on: everything but where they are made (``EXECUTION_ONLY``)."""
        content = {k: v for k, v in self.to_dict().items() if k not in EXECUTION_ONLY}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def packaged_configs() -> list[str]:
    """Names of the configs shipped with the generation plugin (``lrmzero generate --config NAME``)."""
    return sorted(p.name[:-5] for p in CONFIGS.iterdir() if p.name.endswith(".yaml"))


def _load_yaml(source: str | Path) -> DictConfig:
    path = Path(source)
    if not path.exists() and str(source) in packaged_configs():
        return OmegaConf.create((CONFIGS / f"{source}.yaml").read_text())
    if not path.is_file():
        raise ConfigError(
            f"--config: {str(source)!r} is neither a file nor a packaged config; packaged configs: "
            f"{', '.join(packaged_configs())}"
        )
    return load_yaml_file(path)


def load_config(
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    registries: Registries | None = None,
    command_defaults: Sequence[str] = (),
) -> RunConfig:
    """Packaged defaults <- ``command_defaults`` (``key=value``, a command's own defaults, e.g.
    ``lrmzero render``'s) <- ``config`` file (or packaged name) <- ``key=value`` overrides.

    Raises:
        ConfigError: a wrong type, an out-of-range value or an unknown key, naming the key path.
        PluginError: an unknown component name, listing the known ones.
    """
    from lrmzero.plugin_manager import get_registries

    registries = registries or get_registries()
    layers = [_load_yaml(DEFAULT_CONFIG)]
    if command_defaults:
        layers.append(parse_overrides(command_defaults, "render.views=8"))
    if config is not None:
        layers.append(_load_yaml(config))
    layers.append(parse_overrides(overrides, "render.views=8"))
    composer = _chosen_composer(layers, registries)
    whole = merge_layers(run_schema(composer.config_cls), layers)
    gen = GenerateConfig(**{f.name: getattr(whole, f.name) for f in dataclasses.fields(GenerateConfig)})
    composer_cfg = composer.config_cls(**{f.name: getattr(whole, f.name)
                                          for f in dataclasses.fields(composer.config_cls)})
    return validate(gen, composer_cfg, registries)


def _chosen_composer(layers: list, registries: Registries):
    """The registry entry of ``compose.composer`` as the layers set it (read before the schema,
    which depends on it)."""
    name: Any = ""
    for layer in layers:
        section = layer.get("compose") if isinstance(layer, DictConfig) else None
        if isinstance(section, DictConfig) and "composer" in section:
            name = section.get("composer")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"compose.composer: got {name!r}; allowed: the name of a registered composer "
                          f"({', '.join(registries.composers.names()) or 'none installed'})")
    if name not in registries.composers:
        raise PluginError(f"compose.composer: unknown composers {name!r}; known composers: "
                          f"{', '.join(registries.composers.names())}")
    return registries.composers.get(name)


def run_schema(composer_config: type) -> type:
    """The whole run's schema: core's sections plus the composer's Config fields as top-level sections.

    Raises:
        PluginError: a composer field that clashes with a core section or a component kind.
    """
    core = {f.name for f in dataclasses.fields(GenerateConfig)}
    hints = typing.get_type_hints(composer_config)
    extra = []
    for f in dataclasses.fields(composer_config):
        if f.name in core:
            raise PluginError(f"composer Config field {f.name!r} clashes with core's section of that name")
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = field(default_factory=f.default_factory, metadata=f.metadata)  # type: ignore[misc]
        else:
            default = field(default=f.default, metadata=f.metadata)
        extra.append((f.name, hints[f.name], default))
    core_fields = [(f.name, typing.get_type_hints(GenerateConfig)[f.name], field(default_factory=f.default_factory))
                   for f in dataclasses.fields(GenerateConfig)]
    return dataclasses.make_dataclass("RunConfigSchema", core_fields + extra)


def validate(gen: GenerateConfig, composer_cfg: Any, registries: Registries) -> RunConfig:
    """Check the run's sections and the composer's, select every component the config names (and,
    following ``names_of`` fields, every component those name), and validate each one's config.

    Raises:
        ConfigError / PluginError: naming the key, the value and what is allowed.
    """
    for name in CORE_SECTIONS:
        check_params(getattr(gen, name), name)
    check_params(composer_cfg, "")
    if len(gen.render.background) != 3:
        raise ConfigError(f"render.background: got {gen.render.background}; allowed: three numbers in [0, 1]")
    r = gen.render
    if not r.cameras:
        raise ConfigError("render.cameras: got ''; allowed: the name of a registered camera sampler "
                          f"({', '.join(registries.camera_samplers.names())})")
    if r.renderer == "auto" and r.enabled and not r.auto_order:
        raise ConfigError("render.auto_order: got []; allowed: renderers to try with render.renderer=auto")
    for name in CORE_SECTIONS:
        check_references(getattr(gen, name), name, registries)
    if r.renderer != "auto" and r.renderer not in registries.renderers:
        raise PluginError(f"render.renderer: unknown renderers {r.renderer!r}; known renderers: "
                          f"{', '.join(['auto'] + registries.renderers.names())}")
    if not gen.execute.executor:
        raise ConfigError("execute.executor: got ''; allowed: the name of a registered executor "
                          f"({', '.join(registries.executors.names())})")
    check_references(composer_cfg, "", registries)
    selected = [("augmentations", n) for n in gen.augment.apply]
    selected += [("camera_samplers", r.cameras), ("executors", gen.execute.executor)]
    selected += [("renderers", n) for n in ([] if r.renderer == "auto" else [r.renderer])]
    selected += [("renderers", n) for n in (r.auto_order if r.renderer == "auto" else [])]
    params = {kind: getattr(gen, kind) or {} for kind in COMPONENT_KINDS}
    components = select_components(selected, params, COMPONENT_KINDS, registries,
                                   given={"composers": {gen.compose.composer: composer_cfg}})
    return RunConfig(gen, components)


def config_yaml(run: RunConfig) -> str:
    """The fully resolved config as YAML (written beside a dataset as run.yaml)."""
    return OmegaConf.to_yaml(OmegaConf.create(run.to_dict()))

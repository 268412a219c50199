"""Run configuration: the packaged defaults, a user file and ``key=value`` overrides, validated
by one loader for every command.

Layout of a config (see ``configs/default.yaml``)::

    compose:     which composer plugin builds each object; the final object size   (ComposeConfig)
    <sections of the composer's own Config>   e.g. Zeroverse's ``shape`` and ``materials``
    augment:     which augmentations run, in order                                   (AugmentConfig)
    render:      renderer, camera sampler, views, resolution, shading                (RenderConfig)
    output:      how files are written                                               (OutputConfig)
    <kind>:      {name: {param: value}}  parameters of components of that kind (primitives, ...)

A composer's ``Config`` fields are top-level sections, so ``shape.half_axis_max=1.5`` reads as it
always did while core names no composer. Every component is validated against its own ``Config``
dataclass, and every value that names another component (``names_of`` fields, e.g. cutter kinds) is
checked against the registries, before any output is written. Core names no plugin: the defaults
that name components live in the packaged YAML.
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
from omegaconf.errors import OmegaConfBaseException

from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_params, check_references, param, referenced_names
from lrmzero.registry import Registries

DEFAULT_CONFIG = "default"  # configs/default.yaml: the layer under every --config
# Kinds whose components a run config may parameterize under ``<kind>.<name>``.
COMPONENT_KINDS = ("composers", "primitives", "textures", "augmentations", "renderers", "camera_samplers",
                   "executors")
# Where and how objects are made, not what they are: left out of the config hash, so that a run
# may resume with another executor and give the same bytes.
EXECUTION_ONLY = ("execute", "executors")


@dataclass
class ComposeConfig:
    composer: str = param("", "composer plugin that builds each object (its Config's fields are "
                          "top-level sections)", names_of="composers")
    normalized_size: float = param(1.8, "largest side of every object's bounding box (composed and "
                                   "rendered meshes alike)", gt=0.0)


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
    shading: str = param("ao", "unlit, lambert, or ao (albedo x ambient occlusion)", choices=["unlit", "lambert", "ao"])
    background: List[float] = param([1.0, 1.0, 1.0], "RGB written where alpha is 0", ge=0.0, le=1.0)
    ao_rays: int = param(12, "rays per vertex when baking ambient occlusion", ge=1, le=1024)
    ao_distance: float = param(0.5, "occluders farther than this do not darken", gt=0.0)
    depth_format: str = param("png16", "png16: 16-bit PNG in units of depth_scale; npz: float32", choices=["png16", "npz"])
    depth_scale: float = param(1e-4, "metres (object units) per png16 depth step", gt=0.0)


@dataclass
class OutputConfig:
    png_compress_level: int = param(1, "zlib level for PNGs (1 fast ... 9 small)", ge=0, le=9)
    mesh_texture: str = param(
        "jpeg", "how mesh.glb embeds the atlas (renders always use the exact atlas)", choices=["jpeg", "png"]
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
    """Names of the configs shipped in the package (``lrmzero generate --config NAME``)."""
    folder = resources.files("lrmzero") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def _load_yaml(source: str | Path) -> DictConfig:
    path = Path(source)
    if not path.exists() and str(source) in packaged_configs():
        text = (resources.files("lrmzero") / "configs" / f"{source}.yaml").read_text()
        return OmegaConf.create(text)
    if not path.is_file():
        raise ConfigError(
            f"--config: {str(source)!r} is neither a file nor a packaged config; packaged configs: "
            f"{', '.join(packaged_configs())}"
        )
    return load_yaml_file(path)


def load_yaml_file(path: str | Path, option: str = "--config") -> DictConfig:
    """A YAML file holding a mapping, as a DictConfig; the one loader every command uses.

    Raises:
        ConfigError: naming the option and file, with the parser's whole message on one line
            (e.g. ``found duplicate key views ... line 4``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{option}: {str(path)!r} is not a file")
    try:
        loaded = OmegaConf.load(path)
    except Exception as exc:  # noqa: BLE001 - YAML and OmegaConf errors come in many types
        raise ConfigError(f"{option}: {str(path)!r} is not valid YAML: {one_line(str(exc))}") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(
            f"{option}: {str(path)!r} holds a list; allowed: a mapping of "
            "config sections at the top level"
        )
    return loaded


def one_line(text: str) -> str:
    """A multi-line message (YAML errors, for instance) folded into one line."""
    return " ".join(text.split())


def parse_overrides(overrides: Sequence[str], example: str) -> DictConfig:
    """``key=value`` strings as a DictConfig layer.

    Raises:
        ConfigError: naming the first override that is not ``key=value``.
    """
    bad = [o for o in overrides if "=" not in o or o.startswith("=")]
    if bad:
        raise ConfigError(f"override {bad[0]!r}: expected key=value, e.g. {example}")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"overrides: {one_line(str(exc))}") from None


def check_layer_shape(layer: Any, schema: type, prefix: str = "") -> None:
    """Refuse a scalar or list where ``schema`` has a section (a dataclass or a mapping of plugin
    parameters) before OmegaConf merges it, which would only say "Merge error".

    Raises:
        ConfigError: naming the key, the value and the keys that section allows.
    """
    if not isinstance(layer, DictConfig):
        return
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if f.name not in layer:
            continue
        value = layer._get_node(f.name)
        key = f"{prefix}{f.name}"
        hint = hints[f.name]
        is_section = dataclasses.is_dataclass(hint)
        is_mapping = typing.get_origin(hint) in (dict, Dict) or hint in (dict, Dict)
        if not (is_section or is_mapping) or OmegaConf.is_missing(layer, f.name):
            continue
        if value is None or (not isinstance(value, DictConfig)) or value._is_none():
            if value is not None and not isinstance(value, DictConfig):
                shown = OmegaConf.to_container(value) if OmegaConf.is_list(value) else value._value()
            else:
                shown = None
            allowed = (f"a mapping with keys {', '.join(x.name for x in dataclasses.fields(hint))}"
                       if is_section else "a mapping of component name -> parameters")
            raise ConfigError(f"{key}: got {shown!r}; allowed: {allowed}")
        if is_section:
            check_layer_shape(value, hint, key + ".")


def load_config(
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    registries: Registries | None = None,
) -> RunConfig:
    """Packaged defaults <- ``config`` file (or packaged name) <- ``key=value`` overrides.

    Raises:
        ConfigError: a wrong type, an out-of-range value or an unknown key, naming the key path.
        PluginError: an unknown component name, listing the known ones.
    """
    from lrmzero.plugin_manager import get_registries

    registries = registries or get_registries()
    layers = [_load_yaml(DEFAULT_CONFIG)]
    if config is not None:
        layers.append(_load_yaml(config))
    layers.append(parse_overrides(overrides, "render.views=8"))
    composer = _chosen_composer(layers, registries)
    schema = run_schema(composer.config_cls)
    for layer in layers:
        check_layer_shape(layer, schema)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), *layers)
        whole = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(_describe_for(exc, schema)) from None
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
    """Check the core sections and the composer's, select every component the config names (and,
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

    components: dict[str, dict[str, Any]] = {kind: {} for kind in COMPONENT_KINDS}
    composer = gen.compose.composer
    components["composers"][composer] = composer_cfg
    check_references(composer_cfg, "", registries)
    pending: list[tuple[str, str]] = [("augmentations", n) for n in gen.augment.apply]
    pending += [("camera_samplers", r.cameras)]
    if not gen.execute.executor:
        raise ConfigError("execute.executor: got ''; allowed: the name of a registered executor "
                          f"({', '.join(registries.executors.names())})")
    pending += [("executors", gen.execute.executor)]
    pending += [("renderers", n) for n in ([] if r.renderer == "auto" else [r.renderer])]
    pending += [("renderers", n) for n in (r.auto_order if r.renderer == "auto" else [])]
    pending += referenced_names(composer_cfg)
    for kind in COMPONENT_KINDS:  # every component given parameters is validated too
        section: dict = getattr(gen, kind) or {}
        registry = registries.kind(kind)
        for name in section:
            if name not in registry:
                raise PluginError(f"{kind}: unknown {kind} {name!r}; known {kind}: {', '.join(registry.names())}")
            pending.append((kind, name))
    while pending:
        kind, name = pending.pop(0)
        if name in components[kind]:
            continue
        values = (getattr(gen, kind) or {}).get(name) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{kind}.{name}: got {values!r}; allowed: a mapping of that plugin's parameters")
        cfg = registries.kind(kind).make_config(name, values, f"{kind}.{name}")
        check_references(cfg, f"{kind}.{name}", registries)
        components[kind][name] = cfg
        pending += referenced_names(cfg)
    return RunConfig(gen, components)


def _describe_for(exc: OmegaConfBaseException, schema: type) -> str:
    """One line naming the key, the problem and, for unknown keys, the allowed ones."""
    key = getattr(exc, "full_key", "") or "?"
    msg = str(exc).splitlines()[0]
    if "not in struct" in msg or ("Key '" in msg and "not" in msg):
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        allowed = _allowed_keys(parent, schema)
        return f"{key}: unknown key; allowed keys{' under ' + parent if parent else ''}: {allowed}"
    return f"{key}: {msg}"


def _allowed_keys(parent: str, schema: type = GenerateConfig) -> str:
    cls: Any = schema
    for part in [p for p in parent.split(".") if p]:
        f = {f.name: f for f in dataclasses.fields(cls)}.get(part)
        if f is None or not dataclasses.is_dataclass(f.default_factory()):  # type: ignore[misc]
            return "(see docs/configs.md)"
        cls = type(f.default_factory())  # type: ignore[misc]
    return ", ".join(f.name for f in dataclasses.fields(cls))


def config_yaml(run: RunConfig) -> str:
    """The fully resolved config as YAML (written beside a dataset as run.yaml)."""
    return OmegaConf.to_yaml(OmegaConf.create(run.to_dict()))

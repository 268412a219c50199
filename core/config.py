"""Run configuration: the packaged defaults, a user file and ``key=value`` overrides, validated.

Layout of a config (see ``configs/zeroverse.yaml``)::

    shape:       which primitives are drawn and how they are composed     (ShapeConfig)
    materials:   which texture sources paint the surfaces, atlas layout    (MaterialsConfig)
    augment:     which augmentations run, in order                         (AugmentConfig)
    output:      how files are written                                      (OutputConfig)
    primitives:    {name: {param: value}}  parameters of primitive plugins
    textures:      {name: {param: value}}  parameters of texture plugins
    augmentations: {name: {param: value}}  parameters of augmentation plugins

Each plugin section is validated against that plugin's own ``Config`` dataclass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
import typing
from typing import Any, Dict, List, Optional, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_params, check_references, param
from lrmzero.registry import Registries

DEFAULT_CONFIG = "zeroverse"


@dataclass
class ShapeConfig:
    primitives: List[str] = param(
        ["cube", "sphere", "cylinder", "cone", "torus"], "primitive kinds drawn for the parts", nonempty=True
    )
    primitive_weights: Optional[List[float]] = param(
        None, "relative weight of each kind in `primitives` (null: uniform)", ge=0.0
    )
    count_weights: List[float] = param(
        [5, 5, 5, 4, 4, 3, 2, 1, 1], "relative weight of 1, 2, ... parts per object", ge=0.0, nonempty=True
    )
    half_axis_min: float = param(0.25, "smallest half-axis of a part", gt=0.0)
    half_axis_max: float = param(2.0, "largest half-axis of a part", gt=0.0)
    max_rotation_deg: float = param(180.0, "rotations are U(0, this) about x, y and z", ge=0.0, le=360.0)
    translation_fraction: float = param(
        0.5, "translations are U(0, this * largest side of the new part) per axis", ge=0.0, le=10.0
    )
    material_jitter: float = param(
        0.25, "material-boundary jitter, as a fraction of the part's size", ge=0.0, le=1.0
    )
    normalized_size: float = param(1.8, "largest side of the final bounding box", gt=0.0)


@dataclass
class MaterialsConfig:
    sources: List[str] = param(
        ["fbm", "cellular", "stripes", "checker", "gradient", "blend"], "texture sources drawn", nonempty=True
    )
    source_weights: Optional[List[float]] = param(
        None, "relative weight of each source in `sources` (null: uniform)", ge=0.0
    )
    sampling: str = param(
        "per_surface",
        "per_surface: a texture per material slot (paper); per_object: one per object (released code)",
        choices=["per_surface", "per_object"],
    )
    tile_size: int = param(256, "texels per side of each material's tile in the atlas", ge=8, le=4096)
    gutter: int = param(4, "texels of border kept between tiles against bleeding", ge=0, le=64)


@dataclass
class AugmentConfig:
    apply: List[str] = param([], "augmentations applied to each object, in order")


@dataclass
class RenderConfig:
    enabled: bool = param(True, "render views (false: write meshes only)")
    renderer: str = param("auto", "renderer plugin; auto: gl when an EGL context can be made, else raycast")
    cameras: str = param("zeroverse", "camera sampler plugin")
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
class GenerateConfig:
    shape: ShapeConfig = field(default_factory=ShapeConfig)
    materials: MaterialsConfig = field(default_factory=MaterialsConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    primitives: Dict[str, Any] = field(default_factory=dict)
    textures: Dict[str, Any] = field(default_factory=dict)
    augmentations: Dict[str, Any] = field(default_factory=dict)
    renderers: Dict[str, Any] = field(default_factory=dict)
    camera_samplers: Dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """A validated config: core sections plus every selected plugin's Config instance."""

    generate: GenerateConfig
    components: dict[str, dict[str, Any]]  # kind -> name -> Config instance

    def to_dict(self) -> dict:
        """Plain, fully resolved dict (defaults filled in): what the config hash covers."""
        out = dataclasses.asdict(self.generate)
        for kind, comps in self.components.items():
            out[kind] = {name: dataclasses.asdict(c) for name, c in sorted(comps.items())}
        return out

    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def packaged_configs() -> list[str]:
    """Names of the configs shipped in the package (``lrmzero generate --config NAME``)."""
    folder = resources.files("lrmzero") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".yaml") and not p.name.startswith("train-"))


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
    layers.append(parse_overrides(overrides, "shape.half_axis_max=1.5"))
    for layer in layers:
        check_layer_shape(layer, GenerateConfig)
    schema = OmegaConf.structured(GenerateConfig)
    try:
        merged = OmegaConf.merge(schema, *layers)
        gen: GenerateConfig = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        raise ConfigError(_describe(exc)) from None
    return validate(gen, registries)


def validate(gen: GenerateConfig, registries: Registries) -> RunConfig:
    """Range checks on the core sections and plugin-schema checks on the component sections."""
    for name in ("shape", "materials", "augment", "render", "output"):
        check_params(getattr(gen, name), name)
    s, m = gen.shape, gen.materials
    if s.half_axis_min > s.half_axis_max:
        raise ConfigError(
            f"shape.half_axis_min: got {s.half_axis_min}, larger than shape.half_axis_max "
            f"{s.half_axis_max}; allowed: half_axis_min <= half_axis_max"
        )
    _check_weights("shape.count_weights", s.count_weights, None)
    _check_weights("shape.primitive_weights", s.primitive_weights, s.primitives)
    _check_weights("materials.source_weights", m.source_weights, m.sources)
    if not s.primitives:
        raise ConfigError("shape.primitives: got []; allowed: a non-empty list of primitive names")
    if not m.sources:
        raise ConfigError("materials.sources: got []; allowed: a non-empty list of texture names")
    if len(gen.render.background) != 3:
        raise ConfigError(f"render.background: got {gen.render.background}; allowed: three numbers in [0, 1]")

    r = gen.render
    selected = {
        "primitives": list(s.primitives),
        "textures": list(m.sources),
        "augmentations": list(gen.augment.apply),
        "renderers": [] if r.renderer == "auto" else [r.renderer],
        "camera_samplers": [r.cameras],
    }
    where = {
        "primitives": "shape.primitives",
        "textures": "materials.sources",
        "augmentations": "augment.apply",
        "renderers": "render.renderer",
        "camera_samplers": "render.cameras",
    }
    components: dict[str, dict[str, Any]] = {}
    for kind, names in selected.items():
        registry = registries.kind(kind)
        section: dict = getattr(gen, kind) or {}
        for key, listed in ((where[kind], names), (kind, section)):
            for name in listed:
                if name not in registry:
                    known = registry.names() + (["auto"] if kind == "renderers" else [])
                    raise PluginError(f"{key}: unknown {kind} {name!r}; known {kind}: {', '.join(known)}")
        components[kind] = {}
        names = list(names) + (registry.names() if kind == "renderers" and r.renderer == "auto" else [])
        for name in sorted(set(names) | set(section)):
            values = section.get(name) or {}
            if not isinstance(values, dict):
                raise ConfigError(
                    f"{kind}.{name}: got {values!r}; allowed: a mapping of that plugin's parameters"
                )
            components[kind][name] = registry.make_config(name, values, f"{kind}.{name}")
            check_references(components[kind][name], f"{kind}.{name}", registries)
    return RunConfig(gen, components)


def _check_weights(key: str, weights: list | None, names: list | None) -> None:
    if weights is None:
        return
    if names is not None and len(weights) != len(names):
        raise ConfigError(
            f"{key}: got {len(weights)} weights for {len(names)} names {names}; allowed: one "
            "weight per name, or null for uniform"
        )
    if not weights or sum(weights) <= 0:
        raise ConfigError(f"{key}: got {weights}; allowed: non-negative numbers with a positive sum")


def _describe(exc: OmegaConfBaseException) -> str:
    return _describe_for(exc, GenerateConfig)


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

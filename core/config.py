"""Config loading for every command: YAML files and ``key=value`` overrides merged over a schema
of dataclasses, and the components a config names selected and validated against the registries.

A command's own module declares its schema (the generation plugin's run sections, a trainer's
presets) and calls these; so every command reads files, reports errors and follows component
references the same way, before any output is written. Core names no component: defaults that
name components live in the plugins' packaged YAML.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_references, describe_allowed, field_at, is_list_type, referenced_names
from lrmzero.registry import Registries


def load_yaml_file(path: str | Path, option: str = "--config") -> DictConfig:
    """A YAML file holding a mapping, as a DictConfig; the one loader every command uses.

    Raises:
        ConfigError: naming the option and file, with the parser's whole message on one line
            (e.g. ``found duplicate key views ... line 4``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{option}: {str(path)!r} is not a file")
    import yaml  # to see the top level as written: OmegaConf reads a bare string as a mapping key

    try:
        top = yaml.safe_load(path.read_bytes())
        if not isinstance(top, (dict, type(None))):
            what = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"
                    }.get(type(top), f"a {type(top).__name__}")
            raise ConfigError(f"{option}: {str(path)!r} holds {what}; allowed: a mapping of config sections at "
                              "the top level")
        loaded = OmegaConf.load(path)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - YAML and OmegaConf errors come in many types
        raise ConfigError(f"{option}: {str(path)!r} is not valid YAML: {one_line(str(exc))}") from None
    return loaded


def one_line(text: str) -> str:
    """A multi-line message (YAML errors, for instance) folded into one line."""
    return " ".join(text.split())


def parse_overrides(overrides: Sequence[str], example: str, what: str = "override") -> DictConfig:
    """``key=value`` strings (each value YAML) as a DictConfig layer.

    Args:
        example: a valid ``key=value`` shown in errors.
        what: how errors name one of them (``override``; ``--cameras orbit:`` for a component spec).

    Raises:
        ConfigError: naming the first one that is not ``key=value`` or whose value is not YAML.
    """
    import yaml  # OmegaConf parses each value as YAML and lets the parser's errors through

    for override in overrides:
        if "=" not in override or override.startswith("="):
            raise ConfigError(f"{what} {override!r}: expected key=value, e.g. {example}")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except (OmegaConfBaseException, yaml.YAMLError) as together:
        for override in overrides:  # one at a time, so that the error names its override
            try:
                OmegaConf.from_dotlist([override])
            except (OmegaConfBaseException, yaml.YAMLError) as exc:
                value = override.split("=", 1)[1]
                flow_colon = re.search(r"[{,]\s*[\w.]+:[^\s/]", value)
                hint = " (a mapping needs a space after each colon: {a: 1})" if flow_colon else ""
                raise ConfigError(f"{what} {override!r}: {one_line(str(exc))}; allowed: key=value with a YAML "
                                  f"value, e.g. {example}{hint}") from None
        # each parses alone; together they clash
        raise ConfigError(f"{what}s {' '.join(overrides)!r}: {one_line(str(together))}") from None


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
        if isinstance(value, DictConfig) and is_list_type(hint):  # OmegaConf: a bare TypeError
            raise ConfigError(f"{key}: got {OmegaConf.to_container(value)!r}; allowed: "
                              f"{describe_allowed(schema, f.name)}")
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


def merge_layers(schema: type, layers: Sequence[DictConfig]) -> Any:
    """``layers`` merged over the dataclass ``schema`` (later layers win), as an instance of it.

    Raises:
        ConfigError: a scalar where a section belongs, an unknown key (listing the allowed ones), or
            a value of the wrong type, naming the key.
    """
    for layer in layers:
        check_layer_shape(layer, schema)
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), *layers))
    except OmegaConfBaseException as exc:
        raise ConfigError(_describe_for(exc, schema)) from None


def select_components(selected: Sequence[tuple[str, str]], params: Mapping[str, Mapping[str, Any]],
                      kinds: Sequence[str], registries: Registries,
                      given: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Validated Config instances of every component a config uses: the ``selected`` (kind, name)
    pairs, every component given parameters in ``params[kind][name]``, and, following their
    ``names_of`` fields, every component those name (a cutter kind, a blend source, ...).

    Args:
        given: Config instances already made (kind -> name -> instance); their references are followed.

    Raises:
        PluginError: a name no registry holds, listing the known ones.
        ConfigError: parameters that are not a mapping, or that the component's Config refuses.
    """
    components: dict[str, dict[str, Any]] = {kind: {} for kind in kinds}
    pending = list(selected)
    for kind, by_name in (given or {}).items():
        for name, cfg in by_name.items():
            components[kind][name] = cfg
            pending += referenced_names(cfg)
    for kind in kinds:  # every component given parameters is validated too
        registry = registries.kind(kind)
        for name in params.get(kind) or {}:
            if name not in registry:
                raise PluginError(f"{kind}: unknown {kind} {name!r}; known {kind}: {', '.join(registry.names())}")
            pending.append((kind, name))
    while pending:
        kind, name = pending.pop(0)
        if name in components[kind]:
            continue
        values = (params.get(kind) or {}).get(name) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{kind}.{name}: got {values!r}; allowed: a mapping of that plugin's parameters")
        cfg = registries.kind(kind).make_config(name, values, f"{kind}.{name}")
        check_references(cfg, f"{kind}.{name}", registries)
        components[kind][name] = cfg
        pending += referenced_names(cfg)
    return components


def _describe_for(exc: OmegaConfBaseException, schema: type) -> str:
    """One line naming the key, the problem and, for unknown keys, the allowed ones."""
    key = getattr(exc, "full_key", "") or "?"
    msg = str(exc).splitlines()[0]
    if "not in struct" in msg or ("Key '" in msg and "not" in msg):
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        allowed = _allowed_keys(parent, schema)
        return f"{key}: unknown key; allowed keys{' under ' + parent if parent else ''}: {allowed}"
    return f"{key}: {describe_value_error(exc, schema, key) or msg}"


def describe_value_error(exc: OmegaConfBaseException, schema: type, key: str) -> str:
    """``got VALUE; allowed: WHAT`` for a value OmegaConf could not convert to its field's type
    (``render.resolution=abc``: "got 'abc'; allowed: an integer >= 8 and <= 4096"); "" for other
    errors or a key that names no dataclass field (the caller then keeps OmegaConf's message)."""
    allowed = describe_allowed(schema, key) if isinstance(exc, ValidationError) else ""
    if not allowed or getattr(exc, "value", None) is None:
        return ""
    value = exc.value
    shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return f"got {shown!r}; allowed: {allowed}"


def _allowed_keys(parent: str, schema: type) -> str:
    found = field_at(schema, parent) if parent else (None, schema)
    if found is None or not dataclasses.is_dataclass(found[1]):
        return "(see docs/configs.md)"
    return ", ".join(f.name for f in dataclasses.fields(found[1]))
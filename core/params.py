"""`param()`: a dataclass field that carries help text and what values are allowed, and the one
validation layer every config passes through (:func:`check_params`, :func:`check_references`)."""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import re
import typing
from typing import Any, Sequence

from lrmzero.errors import ConfigError


def param(
    default: Any,
    help: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    nonempty: bool = False,
    names_of: str | None = None,
) -> Any:
    """A dataclass field with a one-line help and the values it allows, checked by :func:`check_params`.

    Mutable defaults (lists, dicts) are copied per instance. Numbers are always required to be finite
    (NaN and infinity are refused everywhere).

    Args:
        default: the default value.
        help: one line shown by ``lrmzero plugins`` and in docs/configs.md.
        ge, le, gt, lt: inclusive / exclusive bounds for numbers (applied to every element of a list).
        choices: the allowed values (of every element of a list).
        nonempty: a list must hold at least one element.
        names_of: every element (or the value) must be the name of a registered component of this
            kind (e.g. ``"primitives"``); checked by :func:`check_references` against the registries.
    """
    metadata = {"help": help, "ge": ge, "le": le, "gt": gt, "lt": lt, "choices": choices,
                "nonempty": nonempty, "names_of": names_of}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def describe_bounds(meta: dict) -> str:
    """Human-readable description of a field's allowed values, e.g. ``>= 3 and <= 1000``."""
    parts = []
    if meta.get("choices") is not None:
        parts.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
    if meta.get("names_of"):
        parts.append(f"names of registered {meta['names_of']}")
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    if meta.get("nonempty"):
        parts.append("at least one element")
    return " and ".join(parts)


_TYPE_WORDS = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
               str: ("a string", "strings")}


def is_list_type(hint: Any) -> bool:
    """``List[...]``, ``Sequence[...]`` (or a bare list or tuple), or either of them optional."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        hint = args[0]
    return typing.get_origin(hint) in (list, tuple, collections.abc.Sequence) or hint in (list, tuple)


def describe_type(hint: Any) -> str:
    """What a field's type allows, in words: ``int`` -> "an integer", ``Optional[float]`` -> "null or a
    number", ``List[str]`` -> "a list of strings"; "" for a type it has no words for."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union:
        inner = describe_type(args[0]) if len(args) == 1 else ""
        return f"null or {inner}" if inner else ""
    if is_list_type(hint):
        words = _TYPE_WORDS.get(args[0]) if args else None
        return f"a list of {words[1]}" if words else "a list"
    if typing.get_origin(hint) is dict or hint is dict:
        return "a mapping"
    return _TYPE_WORDS.get(hint, ("",))[0]


def field_at(schema: type, key: str) -> tuple[dataclasses.Field, Any] | None:
    """The dataclass field a dotted config key names (``render.resolution``; a list element's key,
    ``shape.count_weights[2]``, names its list) and its type hint, or None where the key leaves the
    dataclasses (a plugin's parameter mapping, an unknown key)."""
    cls: Any = schema
    found = None
    for part in re.sub(r"\[\d+\]", "", key).split("."):
        if not dataclasses.is_dataclass(cls):
            return None
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return None
        try:
            hint = typing.get_type_hints(cls)[part]
        except Exception:  # noqa: BLE001 - an annotation its module cannot resolve: no words for its type
            hint = fields[part].type
        found, cls = (fields[part], hint), hint
    return found


def describe_allowed(schema: type, key: str) -> str:
    """What the field at ``key`` allows, its type in words with its ``param()`` rules ("an integer
    >= 8 and <= 4096", "a list of names of registered textures, at least one"); "" where the key
    names no field."""
    found = field_at(schema, key)
    if found is None:
        return ""
    f, hint = found
    meta = dict(f.metadata or {})
    words = describe_type(hint)
    listed = "a list of" in words
    if meta.get("names_of") or meta.get("choices") is not None:  # the names say what each value is
        what = (f"names of registered {meta['names_of']}" if meta.get("names_of")
                else "values from " + ", ".join(repr(c) for c in meta["choices"]))
        named = f"a list of {what}" if listed else what.replace("names of registered", "the name of a registered")
        named = named.replace("values from", "one of") if not listed else named
        words = f"null or {named}" if words.startswith("null or") else named
        meta.update(names_of=None, choices=None)
    nonempty = meta.pop("nonempty", False)
    bounds = describe_bounds(meta)
    return " ".join(x for x in (words, bounds) if x) + (", at least one" if nonempty else "")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _out_of_bounds(v: float, meta: dict) -> bool:
    return bool(
        (meta.get("ge") is not None and v < meta["ge"])
        or (meta.get("le") is not None and v > meta["le"])
        or (meta.get("gt") is not None and v <= meta["gt"])
        or (meta.get("lt") is not None and v >= meta["lt"])
    )


def _non_finite(value: Any) -> Any:
    """The first NaN or infinite number inside ``value`` (nested lists and dicts), or None."""
    if _number(value):
        return value if not math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        for v in value:
            bad = _non_finite(v)
            if bad is not None:
                return bad
    if isinstance(value, dict):
        return _non_finite(list(value.values()))
    return None


def check_params(cfg: Any, path: str) -> None:
    """Check every field of dataclass instance ``cfg`` against what its ``param()`` allows.

    Every number must be finite, whatever the field (a comparison with NaN is never out of range,
    so range checks alone let it through). Nested dataclasses are checked too, and a dataclass with
    a ``check()`` method then checks its cross-field rules there.

    Raises:
        ConfigError: naming ``path.field``, the value and what is allowed.
    """
    prefix = f"{path}." if path else ""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_params(value, key)
            continue
        bad = _non_finite(value)
        if bad is not None:
            raise ConfigError(f"{key}: got {value!r}; allowed: finite numbers (not {bad})")
        meta = f.metadata
        if not meta:
            continue
        if isinstance(value, (list, tuple)) and not value and meta.get("nonempty"):
            raise ConfigError(f"{key}: got []; allowed: {describe_allowed(type(cfg), f.name)}")
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            if (meta.get("choices") is not None and v not in meta["choices"]) or (
                _number(v) and _out_of_bounds(v, meta)
            ):
                raise ConfigError(f"{key}: got {value!r}; allowed: {describe_allowed(type(cfg), f.name)}")
    check = getattr(cfg, "check", None)
    if callable(check):  # the Config's own cross-field rules (e.g. min <= max), once its fields pass
        check()


def check_references(cfg: Any, path: str, registries: Any) -> None:
    """Check fields declared with ``names_of=KIND`` (in nested sections too): every name must be
    registered in that kind.

    Raises:
        PluginError: naming ``path.field``, the unknown name and the known names.
    """
    from lrmzero.errors import PluginError

    prefix = f"{path}." if path else ""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            check_references(value, f"{prefix}{f.name}", registries)
            continue
        kind = f.metadata.get("names_of") if f.metadata else None
        if not kind:
            continue
        registry = registries.kind(kind)
        for name in value if isinstance(value, (list, tuple)) else [value]:
            if name is not None and name != "" and name not in registry:
                where = f" in {value!r}" if isinstance(value, (list, tuple)) else ""
                raise PluginError(
                    f"{prefix}{f.name}: unknown {kind} {name!r}{where}; known {kind}: "
                    f"{', '.join(registry.names())}"
                )


def referenced_names(cfg: Any) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component that ``cfg``'s ``names_of`` fields name (nested too)."""
    out: list[tuple[str, str]] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out += referenced_names(value)
            continue
        kind = f.metadata.get("names_of") if f.metadata else None
        if kind:
            out += [(kind, n) for n in (value if isinstance(value, (list, tuple)) else [value]) if n]
    return out


def param_table(config_cls: type) -> list[dict]:
    """Rows ``{name, type, default, help, allowed}`` describing a config dataclass."""
    rows = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append(
            {
                "name": f.name,
                "type": type_name,
                "default": default,
                "help": f.metadata.get("help", ""),
                "allowed": describe_bounds(dict(f.metadata)) if f.metadata else "",
            }
        )
    return rows

"""`param()`: a dataclass field that carries help text and an allowed range, for plugin configs."""

from __future__ import annotations

import dataclasses
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
) -> Any:
    """A dataclass field with a one-line help and bounds checked by :func:`check_params`.

    Mutable defaults (lists, dicts) are copied per instance.

    Args:
        default: the default value.
        help: one line shown by ``lrmzero plugins`` and in docs/configs.md.
        ge, le, gt, lt: inclusive / exclusive bounds for numbers (applied to every element of a list).
        choices: the allowed values.
    """
    metadata = {"help": help, "ge": ge, "le": le, "gt": gt, "lt": lt, "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def describe_bounds(meta: dict) -> str:
    """Human-readable description of a field's allowed values, e.g. ``>= 3 and <= 1000``."""
    parts = []
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    return " and ".join(parts)


def check_params(cfg: Any, path: str) -> None:
    """Check every field of dataclass instance ``cfg`` against its ``param()`` bounds.

    Raises:
        ConfigError: naming ``path.field``, the value and what is allowed.
    """
    for f in dataclasses.fields(cfg):
        meta = f.metadata
        value = getattr(cfg, f.name)
        if not meta:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            bad = False
            if meta.get("choices") is not None and v not in meta["choices"]:
                bad = True
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                bad = (
                    (meta.get("ge") is not None and v < meta["ge"])
                    or (meta.get("le") is not None and v > meta["le"])
                    or (meta.get("gt") is not None and v <= meta["gt"])
                    or (meta.get("lt") is not None and v >= meta["lt"])
                )
            if bad:
                raise ConfigError(
                    f"{path}.{f.name}: got {value!r}; allowed: {describe_bounds(meta)}"
                )


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

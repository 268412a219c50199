"""Typed registries: one per component kind, mapping a name to a class and its config dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_params

# The kinds core declares a hook for. A plugin family may add kinds of its own (a model family's
# parts, say) through the ``register_kinds`` hook; those are listed by :meth:`Registries.kinds`.
KINDS = ("composers", "primitives", "textures", "augmentations", "renderers", "camera_samplers", "executors",
         "data_sources", "models", "commands")


@dataclass(frozen=True)
class Provider:
    """Where a component comes from: the distribution, its version and the entry point."""

    distribution: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (entry point {self.entry_point!r})"


@dataclass(frozen=True)
class Entry:
    """One registered component: ``factory(config)`` builds it."""

    name: str
    kind: str
    factory: type
    config_cls: type
    provider: Provider


@dataclass
class BrokenPlugin:
    """An entry point whose import or hook call raised."""

    entry_point: str
    distribution: str
    error: str


class Registry:
    """Name -> component for one kind. Names are unique within the kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, cls: type, provider: Provider) -> None:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"{provider}: {self.kind} class {cls.__qualname__} has no string `name` attribute"
            )
        config_cls = getattr(cls, "Config", None)
        if config_cls is None or not dataclasses.is_dataclass(config_cls):
            raise PluginError(
                f"{provider}: {self.kind} {name!r} ({cls.__qualname__}) needs a dataclass `Config`"
            )
        if name in self._entries:
            other = self._entries[name]
            raise PluginError(
                f"two plugins register the {self.kind} name {name!r}: {other.provider} "
                f"and {provider}; uninstall one or rename it"
            )
        self._entries[name] = Entry(name, self.kind, cls, config_cls, provider)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise PluginError(f"unknown {self.kind} {name!r}; known {self.kind}: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def make_config(self, name: str, values: Mapping[str, Any] | None, path: str) -> Any:
        """Validate ``values`` against component ``name``'s Config; returns a Config instance.

        Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming
        ``path.key``, the value and what is allowed (:func:`~lrmzero.params.check_params`).
        """
        entry = self.get(name)
        schema = OmegaConf.structured(entry.config_cls)
        from lrmzero.config import check_layer_shape  # config imports this module

        try:
            layer = OmegaConf.create(dict(values or {}))
            check_layer_shape(layer, entry.config_cls, f"{path}.")
            merged = OmegaConf.merge(schema, layer)
            cfg = OmegaConf.to_object(merged)
        except OmegaConfBaseException as exc:
            raise ConfigError(_omegaconf_message(exc, path, entry.config_cls)) from None
        check_params(cfg, path)
        return cfg

    def build(self, name: str, values: Mapping[str, Any] | None = None, path: str | None = None):
        """Instantiate component ``name`` with validated config ``values``."""
        entry = self.get(name)
        cfg = self.make_config(name, values, path or f"{self.kind}.{name}")
        return entry.factory(cfg)


def _omegaconf_message(exc: OmegaConfBaseException, path: str, config_cls: type) -> str:
    key = getattr(exc, "full_key", None) or getattr(exc, "key", None) or "?"
    msg = str(exc).splitlines()[0]
    fields = ", ".join(f.name for f in dataclasses.fields(config_cls))
    if "not in struct" in msg or "Key '" in msg and "not" in msg:
        return f"{path}.{key}: unknown key; allowed keys: {fields}"
    from lrmzero.config import describe_value_error  # config imports this module

    return f"{path}.{key}: {describe_value_error(exc, config_cls, str(key)) or msg}"


@dataclass
class Registries:
    """All registries of one process (one per kind), plus the plugins that failed to load."""

    registries: dict[str, Registry] = field(default_factory=lambda: {k: Registry(k) for k in KINDS})
    broken: list[BrokenPlugin] = field(default_factory=list)

    def add_kind(self, kind: str) -> Registry:
        """Declare a kind a plugin family introduces (idempotent); returns its registry."""
        if not isinstance(kind, str) or not kind.isidentifier():
            raise PluginError(f"component kind {kind!r}: allowed: a Python identifier")
        return self.registries.setdefault(kind, Registry(kind))

    def kinds(self) -> list[str]:
        """Core's kinds in their order, then the kinds plugins declared, sorted."""
        return list(KINDS) + sorted(k for k in self.registries if k not in KINDS)

    def kind(self, kind: str) -> Registry:
        if kind not in self.registries:
            raise PluginError(f"unknown component kind {kind!r}; known kinds: {', '.join(self.kinds())}")
        return self.registries[kind]

    def __getattr__(self, kind: str) -> Registry:
        registries = self.__dict__.get("registries")
        if registries is not None and kind in registries:
            return registries[kind]
        raise AttributeError(kind)

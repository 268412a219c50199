"""The plugin host: a pluggy PluginManager over the ``lrmzero`` entry-point group, and the registries."""

from __future__ import annotations

import functools
import importlib.metadata as md
import logging
import traceback
from typing import Iterable

import pluggy

from lrmzero import hookspecs
from lrmzero.registry import KINDS, BrokenPlugin, Provider, Registries

ENTRY_POINT_GROUP = "lrmzero"
hookimpl = pluggy.HookimplMarker("lrmzero")
log = logging.getLogger("lrmzero")


def get_plugin_manager(
    extra_plugins: Iterable[tuple[object, Provider]] = (),
) -> tuple[pluggy.PluginManager, dict[int, Provider], list[BrokenPlugin]]:
    """A fresh plugin manager with every ``lrmzero`` entry point loaded.

    Entry points are loaded one by one rather than with pluggy's ``load_setuptools_entrypoints``,
    because that call stops at the first plugin whose import raises; here a broken plugin is
    recorded (name, distribution, error) and the others still load.

    Returns:
        (plugin manager, id(plugin module) -> Provider, broken plugins)
    """
    pm = pluggy.PluginManager("lrmzero")
    pm.add_hookspecs(hookspecs)
    providers: dict[int, Provider] = {}
    broken: list[BrokenPlugin] = []
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.value, e.name)):
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        try:
            plugin = ep.load()
            if pm.is_registered(plugin):
                continue
            pm.register(plugin, name=f"{dist}:{ep.name}")
        except Exception as exc:  # noqa: BLE001 - any import error of a plugin is reported, not fatal
            broken.append(BrokenPlugin(ep.name, dist, _one_line(exc)))
            log.debug("plugin %s failed:\n%s", ep.name, traceback.format_exc())
            continue
        providers[id(plugin)] = Provider(dist, version, ep.name)
    for plugin, provider in extra_plugins:
        pm.register(plugin, name=f"{provider.distribution}:{provider.entry_point}")
        providers[id(plugin)] = provider
    pm.check_pending()
    return pm, providers, broken


def build_registries(extra_plugins: Iterable[tuple[object, Provider]] = ()) -> Registries:
    """Call every plugin's ``register_*`` hooks once and fill one registry per kind."""
    pm, providers, broken = get_plugin_manager(extra_plugins)
    registries = Registries(broken=broken)

    def call_each(caller, **kwargs):
        """(provider, result) of each implementation; a raising one is recorded as broken."""
        for impl in caller.get_hookimpls():  # registration order
            provider = providers.get(id(impl.plugin), Provider("?", "?", impl.plugin_name))
            try:
                yield provider, impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, the others load
                registries.broken.append(BrokenPlugin(provider.entry_point, provider.distribution, _one_line(exc)))

    for kind in KINDS:
        for provider, classes in call_each(getattr(pm.hook, f"register_{kind}")):
            for cls in classes or []:
                registries.kind(kind).add(cls, provider)
    for provider, kinds in call_each(pm.hook.register_kinds):
        for kind in kinds or []:
            registries.add_kind(kind)
    for kind in registries.kinds()[len(KINDS):]:
        for provider, classes in call_each(pm.hook.register_components, kind=kind):
            for cls in classes or []:
                registries.kind(kind).add(cls, provider)
    for b in registries.broken:
        log.warning("plugin %r from %s failed to load: %s", b.entry_point, b.distribution, b.error)
    return registries


@functools.lru_cache(maxsize=1)
def get_registries() -> Registries:
    """The registries of this process, built on first use from the installed entry points."""
    return build_registries()


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")

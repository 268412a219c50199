"""Registries: builtins arrive through entry points; duplicates, unknown names and broken plugins."""

from __future__ import annotations

import importlib.metadata as md
import sys
import types
from dataclasses import dataclass

import pytest

from lrmzero import PluginError, hookimpl
from lrmzero import plugin_manager
from lrmzero.components import Primitive
from lrmzero.plugin_manager import build_registries
from lrmzero.registry import Provider


def test_builtins_come_from_the_lrmzero_distribution(registries):
    assert set(registries.primitives.names()) >= {"cube", "sphere", "cylinder", "cone", "torus"}
    assert {"fbm", "cellular", "stripes", "checker", "gradient", "blend", "image_folder"} <= set(
        registries.textures.names()
    )
    for entry in registries.primitives:
        if entry.name == "cube":
            assert entry.provider.distribution == "lrmzero"
            assert entry.provider.entry_point == "primitives"
    assert not registries.broken


def test_core_imports_no_plugin_by_name():
    import pathlib

    import re

    core = pathlib.Path(plugin_manager.__file__).parent
    pattern = re.compile(r"^\s*(from|import)\s+lrmzero\.plugins", re.MULTILINE)
    for path in core.glob("*.py"):
        assert not pattern.search(path.read_text()), f"{path.name} imports a plugin"


def _plugin(*classes, fail: bool = False):
    mod = types.SimpleNamespace()

    @hookimpl
    def register_primitives():
        if fail:
            raise RuntimeError("hook exploded")
        return list(classes)

    mod.register_primitives = register_primitives
    return mod


class Blob(Primitive):
    name = "blob"

    @dataclass
    class Config:
        pass


class FakeCube(Primitive):
    name = "cube"

    @dataclass
    class Config:
        pass


def test_duplicate_name_names_both_distributions():
    with pytest.raises(PluginError, match=r"'cube'.*lrmzero 0\.1\.0.*other-dist 1\.2"):
        build_registries([(_plugin(FakeCube), Provider("other-dist", "1.2", "shapes"))])


def test_unknown_name_lists_known(registries):
    with pytest.raises(PluginError, match=r"unknown primitives 'blobby'; known primitives: .*cube"):
        registries.primitives.get("blobby")


def test_extra_plugin_is_registered_like_builtins():
    regs = build_registries([(_plugin(Blob), Provider("blob-dist", "0.3", "blob"))])
    assert "blob" in regs.primitives
    assert regs.primitives.get("blob").provider.distribution == "blob-dist"


def test_failing_hook_is_reported_and_others_work():
    regs = build_registries([(_plugin(Blob, fail=True), Provider("bad-dist", "9", "bad"))])
    assert "cube" in regs.primitives and "blob" not in regs.primitives
    assert [(b.distribution, b.entry_point) for b in regs.broken] == [("bad-dist", "bad")]
    assert "hook exploded" in regs.broken[0].error


def test_entry_point_whose_import_raises_is_reported(monkeypatch, tmp_path):
    (tmp_path / "broken_plugin_mod.py").write_text("raise ImportError('missing dependency xyz')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = md.entry_points

    def fake_entry_points(group):
        eps = list(real(group=group))
        return eps + [md.EntryPoint("broken", "broken_plugin_mod", group)]

    monkeypatch.setattr(plugin_manager.md, "entry_points", fake_entry_points)
    regs = build_registries()
    assert "cube" in regs.primitives
    assert len(regs.broken) == 1
    assert regs.broken[0].entry_point == "broken"
    assert "missing dependency xyz" in regs.broken[0].error
    sys.modules.pop("broken_plugin_mod", None)


def test_component_without_config_is_rejected():
    class NoConfig:
        name = "nocfg"

    with pytest.raises(PluginError, match="needs a dataclass `Config`"):
        build_registries([(_plugin(NoConfig), Provider("d", "1", "e"))])

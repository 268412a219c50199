"""A real out-of-tree package adds a primitive through the `lrmzero` entry-point group."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "lrmzero-pyramid-test"
version = "0.0.1"

[project.entry-points.lrmzero]
pyramid = "lrmzero_pyramid_test"

[tool.setuptools]
py-modules = ["lrmzero_pyramid_test"]
"""

MODULE = '''
"""A square pyramid primitive: the cone's revolve with four segments."""
from dataclasses import dataclass

import numpy as np

from lrmzero import PartMesh, hookimpl, param
from lrmzero.components import Primitive
from lrmzero.geometry import disk, merge_patches, revolve


class Pyramid(Primitive):
    name = "pyramid"
    surfaces = ("sides", "base")

    @dataclass
    class Config:
        rows: int = param(4, "rows along the sides", ge=1)

    def build(self, size, rng):
        a, b, c = (float(s) for s in size)
        t = np.linspace(0, 1, self.cfg.rows + 1)
        r = 1 - t
        r[-1] = 0.0
        side = revolve(r, -c + 2 * c * t, 4, (a, b))
        base = disk(-c, 4, 1, (a, b), up=False)
        v, f, uv, s = merge_patches([side, base], [0, 1])
        return PartMesh(v, f, uv, s, s.copy(), kind=self.name, params={"size": [a, b, c]})


@hookimpl
def register_primitives():
    return [Pyramid]
'''


def pip_installed(path: Path, distribution: str):
    """Install the package at ``path`` into this environment for the duration of a fixture."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(path)]
    res = subprocess.run(pip, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    yield
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", distribution], capture_output=True)


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    pkg = tmp_path_factory.mktemp("pyramid_pkg")
    (pkg / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (pkg / "lrmzero_pyramid_test.py").write_text(MODULE)
    yield from pip_installed(pkg, "lrmzero-pyramid-test")


@pytest.mark.slow
def test_outside_primitive_listed_and_used_by_config_alone(installed_plugin, tmp_path: Path):
    res = run_cli("plugins")
    assert res.returncode == 0
    line = next(l for l in res.stdout.splitlines() if l.strip().startswith("pyramid"))
    assert "lrmzero-pyramid-test 0.0.1" in line
    out = tmp_path / "ds"
    res = run_cli("generate", "--out", str(out), "--num-objects", "3", "--seed", "0", "--quiet",
                  "--config", "demo", "shape.primitives=[pyramid]", "primitives.pyramid.rows=2")
    assert res.returncode == 0, res.stderr
    for i in range(3):
        meta = json.loads((out / f"{i:08d}" / "meta.json").read_text())
        assert {p["kind"] for p in meta["parts"]} == {"pyramid"}


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lrmzero-extra-shapes"


@pytest.fixture(scope="module")
def example_installed():
    yield from pip_installed(EXAMPLE, "lrmzero-extra-shapes")


@pytest.mark.slow
def test_example_package_tests_pass(example_installed):
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                         capture_output=True, text=True, cwd=EXAMPLE)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_example_package_is_used_by_config_alone(example_installed, tmp_path: Path):
    res = run_cli("plugins", "--check")
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    for name in ("capsule", "twist"):
        line = next(l for l in lines if l.strip().startswith(name))
        assert "lrmzero-extra-shapes 0.1.0" in line
    out = tmp_path / "ds"
    res = run_cli("generate", "--out", str(out), "--num-objects", "2", "--seed", "0", "--quiet",
                  "--config", "demo", "shape.primitives=[capsule]", "augment.apply=[twist]",
                  "augmentations.twist.probability=1", "render.views=2", "render.resolution=32")
    assert res.returncode == 0, res.stderr
    for i in range(2):
        meta = json.loads((out / f"{i:08d}" / "meta.json").read_text())
        assert {p["kind"] for p in meta["parts"]} == {"capsule"}
        twist = meta["augmentations"][0]
        assert twist["name"] == "twist" and twist["applied"] and "angle_deg" in twist


def test_broken_plugin_is_reported_and_the_listing_goes_on(tmp_path):
    """An installed-like distribution whose plugin module raises on import (faked dist-info)."""
    site = tmp_path / "site"
    (site / "broken_dist-1.0.dist-info").mkdir(parents=True)
    (site / "broken_dist-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 1.0\n")
    (site / "broken_dist-1.0.dist-info" / "entry_points.txt").write_text("[lrmzero]\nbroken = broken_plugin_xyz\n")
    (site / "broken_plugin_xyz.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    import os

    env = dict(os.environ, PYTHONPATH=str(site))
    res = run_cli("plugins", env=env)
    assert res.returncode == 0
    assert "broken plugins" in res.stdout and "this plugin is broken on purpose" in res.stdout
    assert "broken-dist" in res.stdout and "  cube" in res.stdout
    res = run_cli("plugins", "--check", env=env)
    assert res.returncode == 1

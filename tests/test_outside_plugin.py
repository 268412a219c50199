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


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    pkg = tmp_path_factory.mktemp("pyramid_pkg")
    (pkg / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (pkg / "lrmzero_pyramid_test.py").write_text(MODULE)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(pkg)]
    res = subprocess.run(pip, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    yield
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "lrmzero-pyramid-test"],
                   capture_output=True)


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

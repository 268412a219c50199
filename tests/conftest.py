"""Shared fixtures: registries, small configs and a CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from lrmzero import get_registries

# A suite started in the background (`nohup bash scripts/test.sh &`, a CI runner without job control)
# inherits Ctrl-C ignored, and so would every command the tests start and then interrupt to test what
# Ctrl-C does. A handled signal goes back to its default in a started program, an ignored one stays ignored.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def small_dataset(root, count: int, seed: int, *overrides: str):
    """``count`` objects of the demo config rendered with the raycast renderer and Lambert shading, no levels
    (no OpenGL needed), ``overrides`` on top, written to ``root``; asserts every object was made."""
    from lrmzero.plugins.generation.config import load_config
    from lrmzero.plugins.generation.runner import generate_dataset

    run = load_config("demo", ["render.renderer=raycast", "render.shading=lambert", "render.levels=false", *overrides])
    assert generate_dataset(run, root, count, seed=seed, progress=False).done == count
    return root


@pytest.fixture(scope="session", autouse=True)
def material_cache(tmp_path_factory):
    """Texture libraries (``textures.pbr.library``) are kept in a folder of the test session, not
    in the user's cache; subprocesses inherit it."""
    os.environ["LRMZERO_CACHE"] = str(tmp_path_factory.mktemp("lrmzero-cache"))
    yield
    os.environ.pop("LRMZERO_CACHE", None)


@pytest.fixture(scope="session")
def registries():
    return get_registries()


def run_cli(*args: str, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run ``lrmzero ARGS`` in a subprocess with this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "lrmzero.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )

"""Shared fixtures: registries, small configs and a CLI runner."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrmzero import get_registries


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

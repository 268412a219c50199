"""lrmzero: Zeroverse-style synthetic 3D data and GS-LRM-style reconstruction, as a plugin toolkit."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names load on first use (PEP 562), so that `lrmzero --help` or a Ctrl-C right after
# start-up does not wait for, or interrupt, numpy/trimesh/omegaconf imports outside the CLI's
# error handling.
_EXPORTS = {
    "ConfigError": "lrmzero.errors",
    "LrmzeroError": "lrmzero.errors",
    "PluginError": "lrmzero.errors",
    "PartMesh": "lrmzero.mesh",
    "param": "lrmzero.params",
    "get_registries": "lrmzero.plugin_manager",
    "hookimpl": "lrmzero.plugin_manager",
    "Registries": "lrmzero.registry",
    "Registry": "lrmzero.registry",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from lrmzero.errors import ConfigError, LrmzeroError, PluginError
    from lrmzero.mesh import PartMesh
    from lrmzero.params import param
    from lrmzero.plugin_manager import get_registries, hookimpl
    from lrmzero.registry import Registries, Registry


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lrmzero' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

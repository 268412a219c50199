"""lrmzero: Zeroverse-style synthetic 3D data and GS-LRM-style reconstruction, as a plugin toolkit."""

from lrmzero.errors import ConfigError, LrmzeroError, PluginError
from lrmzero.mesh import PartMesh
from lrmzero.params import param
from lrmzero.plugin_manager import get_registries, hookimpl
from lrmzero.registry import Registries, Registry

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "LrmzeroError",
    "PartMesh",
    "PluginError",
    "Registries",
    "Registry",
    "get_registries",
    "hookimpl",
    "param",
    "__version__",
]

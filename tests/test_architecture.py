"""Core names no plugin: no builtin component's name, no Gaussian/rasterizer/trainer vocabulary, in
core's code (names and string literals; comments and docstrings may explain)."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

import lrmzero

CORE = Path(lrmzero.__file__).parent
# Words of plugin families that core must not know (beyond the names the registries hold).
FAMILY_WORDS = ("gaussian", "rasteriz", "triplane", "gs_lrm", "gsplat", "lightning", "zeroverse", "dask")


def code_tokens(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every name and string literal of ``path`` that is not a docstring."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                docstrings.add(body[0].lineno)
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME or (tok.type == tokenize.STRING and tok.start[0] not in docstrings):
            out.append((tok.start[0], tok.string))
    return out


def builtin_component_names(registries) -> set[str]:
    names = set()
    for kind in registries.kinds():
        for entry in registries.kind(kind):
            if entry.provider.distribution == "lrmzero" and kind != "commands":
                names.add(entry.name)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_names_no_plugin(path, registries):
    plugin_names = builtin_component_names(registries) - {"torch"}  # the library, not the rasterizer
    found = []
    for line, text in code_tokens(path):
        word = text.strip("'\"").lower()
        if text[0] in "'\"" and word in plugin_names:
            found.append((line, text))
        elif any(w in text.lower() for w in FAMILY_WORDS):
            found.append((line, text))
    assert not found, f"core/{path.name} names plugins: {found}"


def test_core_modules_do_not_import_plugins():
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lrmzero.plugins"):
                pytest.fail(f"core/{path.name} imports {node.module}")
            if isinstance(node, ast.Import) and any(a.name.startswith("lrmzero.plugins") for a in node.names):
                pytest.fail(f"core/{path.name} imports a plugin")

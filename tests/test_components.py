"""`lrmzero.testing` over every registered component of this distribution, kind by kind."""

from __future__ import annotations

import pytest

from lrmzero import testing
from lrmzero.components import RendererUnavailable

KINDS = ("primitives", "augmentations", "textures", "camera_samplers", "renderers", "models")
CASES = [(kind, name) for kind in KINDS for name in testing.component_names(kind, "lrmzero")
         if (kind, name) != ("textures", "image_folder")]  # needs a folder of images: tested in test_textures


@pytest.mark.parametrize("kind,name", CASES, ids=[f"{k}.{n}" for k, n in CASES])
def test_component_properties(kind, name):
    try:
        testing.check_component(kind, name)
    except RendererUnavailable as exc:
        pytest.skip(f"{name} cannot run here: {exc}")


def test_every_kind_has_builtins_under_test():
    assert {k for k, _ in CASES} == set(KINDS)

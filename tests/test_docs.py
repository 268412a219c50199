"""docs/configs.md is generated from the registered dataclasses and must be current."""

from pathlib import Path

from lrmzero.plugins.tools.config_docs import render_configs_md


def test_configs_md_is_current():
    path = Path(__file__).resolve().parents[1] / "docs" / "configs.md"
    assert path.read_text() == render_configs_md(), "stale: run `python -m lrmzero.plugins.tools.config_docs`"


def test_configs_md_names_every_builtin_component():
    text = render_configs_md()
    for name in ("cube", "torus", "height_field", "wireframe", "gl", "raycast", "zeroverse", "gs_lrm"):
        assert f"`{name}`" in text
    assert "`render.resolution`" in text and "`optim.lr`" in text

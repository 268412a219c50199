"""Config loading: merge order, validation errors that name the key, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrmzero import ConfigError, PluginError
from lrmzero.plugins.generation.config import load_config, packaged_configs
from tests.conftest import run_cli


def test_packaged_configs_validate():
    assert {"zeroverse", "zeroverse-code", "demo"} <= set(packaged_configs())
    for name in packaged_configs():
        load_config(name)


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
def test_train_presets_validate(preset):
    from lrmzero import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config

    cfg, model_cfg = load_train_config(preset, None, [], get_registries())
    assert cfg.data.resolution % model_cfg.patch_size == 0
    layers, width, heads = get_registries().models.build("gs_lrm", {"preset": preset}).dims()
    if preset == "paper":
        assert (layers, width, heads) == (24, 1024, 16)


def test_merge_order_file_then_overrides(tmp_path: Path):
    f = tmp_path / "c.yaml"
    f.write_text("shape:\n  half_axis_max: 1.5\n  half_axis_min: 0.3\nprimitives:\n  cube: {segments: 7}\n")
    run = load_config(f, ["shape.half_axis_max=1.2"])
    assert run.composer.shape.half_axis_max == 1.2  # override wins
    assert run.composer.shape.half_axis_min == 0.3  # file wins over default
    assert run.composer.shape.count_weights == [5, 5, 5, 4, 4, 3, 2, 1, 1]  # default kept
    assert run.components["primitives"]["cube"].segments == 7
    assert run.components["primitives"]["torus"].segments == 100  # defaults filled in


def test_config_hash_changes_with_content():
    assert load_config().hash() == load_config().hash()
    assert load_config().hash() != load_config(overrides=["primitives.cube.segments=10"]).hash()


@pytest.mark.parametrize(
    "override,exc,pattern",
    [
        ("shape.half_axis_min=abc", ConfigError, r"shape\.half_axis_min: got 'abc'; allowed: a number > 0\.0$"),
        ("shape.half_axis_max=-1", ConfigError, r"shape\.half_axis_max: got -1.0; allowed: a number > 0\.0$"),
        ("shape.bogus=1", ConfigError, r"shape\.bogus: unknown key; allowed keys under shape: primitives"),
        ("primitives.cube.segments=0", ConfigError, r"primitives\.cube\.segments: got 0; allowed: an integer >= 1 and <= \d+$"),
        ("primitives.cube.segmnts=3", ConfigError, r"primitives\.cube\.segmnts: unknown key; allowed keys: segments"),
        ("primitives.cube.segments=many", ConfigError,
         r"primitives\.cube\.segments: got 'many'; allowed: an integer >= 1 and <= \d+$"),
        ("render.levels=maybe", ConfigError, r"render\.levels: got 'maybe'; allowed: true or false$"),
        ("render.resolution=[256]", ConfigError, r"render\.resolution: got \[256\]; allowed: an integer >= 8"),
        ("shape.count_weights=[1,x]", ConfigError, r"shape\.count_weights\[1\]: got 'x'; allowed: a list of numbers"),
        ("shape.count_weights={a: 1}", ConfigError,  # OmegaConf raised a bare TypeError
         r"shape\.count_weights: got \{'a': 1\}; allowed: a list of numbers >= 0\.0, at least one$"),
        ("materials.sources=pbr", ConfigError,
         r"materials\.sources: got 'pbr'; allowed: a list of names of registered textures, at least one$"),
        ("primitives.cube.segments={a: 1}", ConfigError, r"primitives\.cube\.segments: got \{'a': 1\}; allowed: an integer"),
        ("materials.sampling=per_part", ConfigError, r"materials\.sampling: got 'per_part'; allowed: one of"),
        ("shape.primitives=[cube,blob]", PluginError, r"shape\.primitives: unknown primitives 'blob'.*; known primitives: cone, cube"),
        ("textures.nope.x=1", PluginError, r"textures: unknown textures 'nope'"),
        ("shape.primitive_weights=[1,2]", ConfigError, r"shape\.primitive_weights: got 2 weights for 5 names"),
        ("shape.count_weights=[0,0]", ConfigError, r"shape\.count_weights"),
        ("noequals", ConfigError, r"expected key=value"),
    ],
)
def test_bad_values_name_the_key(override, exc, pattern):
    with pytest.raises(exc, match=pattern):
        load_config(overrides=[override])


def test_field_types_in_words():
    from typing import Dict, List, Optional, Sequence

    from lrmzero.params import describe_type

    assert describe_type(int) == "an integer" and describe_type(float) == "a number"
    assert describe_type(Optional[int]) == "null or an integer"
    assert describe_type(List[str]) == "a list of strings" and describe_type(List[float]) == "a list of numbers"
    assert describe_type(Dict[str, int]) == "a mapping" and describe_type(bool) == "true or false"
    assert describe_type(Optional[List[int]]) == "null or a list of integers"
    assert describe_type(Sequence[float]) == "a list of numbers"


def test_missing_config_file_lists_packaged():
    with pytest.raises(ConfigError, match="neither a file nor a packaged config; packaged configs: default, demo"):
        load_config("/no/such/file.yaml")


def test_min_larger_than_max():
    with pytest.raises(ConfigError, match="half_axis_min"):
        load_config(overrides=["shape.half_axis_min=1.9", "shape.half_axis_max=1.0"])


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["shape.half_axis_max=-1"], "shape.half_axis_max"),
        (["shape.primitives=[blob]"], "known primitives"),
        (["primitives.cube.wat=1"], "unknown key"),
        (["--shard", "2/2"], "--shard"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_cli_bad_input_one_line_no_output(tmp_path, args, pattern):
    out = tmp_path / "ds"
    res = run_cli("generate", "--out", str(out), "--num-objects", "2", "--seed", "0", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and pattern in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    if "--workers" not in args:
        assert not out.exists(), "bad config must fail before any work starts"


def test_component_that_refuses_its_config_fails_before_output(tmp_path):
    res = run_cli("generate", "--out", str(tmp_path / "x"), "--num-objects", "1", "--seed", "0",
                  "--config", "demo", "textures.blend.sources=[nope]")
    assert res.returncode == 2 and "textures.blend.sources" in res.stderr
    assert not (tmp_path / "x").exists()

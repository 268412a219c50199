"""Every shipped config validates and runs end to end at a small size."""

from __future__ import annotations

import pytest

from lrmzero import get_registries
from lrmzero.config import load_config, packaged_configs
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.trainers.lightning.config import load_train_config

SMALL = ["render.views=2", "render.resolution=32", "render.ao_rays=2", "materials.tile_size=32"]


@pytest.mark.parametrize("name", packaged_configs())
def test_generate_config_runs(name, tmp_path):
    summary = generate_dataset(load_config(name, SMALL), tmp_path, 1, seed=0, progress=False)
    assert summary.done == 1, summary.failures


def test_renderer_swap_by_config(tmp_path):
    import json

    generate_dataset(load_config("raycast", SMALL), tmp_path, 1, seed=0, progress=False)
    assert json.loads((tmp_path / "00000000" / "meta.json").read_text())["render"]["renderer"] == "raycast"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfgdata")
    generate_dataset(load_config("demo", ["render.views=4", "render.resolution=32"]), root, 1, seed=0, progress=False)
    return root


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_train_presets_run_a_step(preset, tiny_data, tmp_path):
    from lrmzero.plugins.trainers.lightning.train import train

    cfg, _ = load_train_config(preset, None, ["data.resolution=16", "data.input_views=2", "data.target_views=2",
                                              "data.batch_size=1", "data.num_workers=0", "model.patch_size=8"],
                               get_registries())
    last = train([str(tiny_data)], tmp_path, cfg, max_steps=1, progress=False)
    assert last.is_file()

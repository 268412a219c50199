"""Every shipped config validates and runs end to end at a small size."""

from __future__ import annotations

import pytest

from lrmzero import get_registries
from lrmzero.plugins.generation.config import load_config, packaged_configs
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
    meta = json.loads((tmp_path / "00000000" / "meta.json").read_text())
    assert meta["render"]["renderer"] == "raycast"
    t = meta["timings"]  # the renderer's own steps, inside the render stage's time
    assert min(t["render.bake"], t["render.trace"], t["render.tone"]) >= 0
    assert t["render.bake"] + t["render.trace"] + t["render.tone"] <= t["render_and_encode"]


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


@pytest.mark.parametrize("preset", __import__("lrmzero.plugins.trainers.lightning.config",
                                              fromlist=["presets"]).presets())
def test_every_train_preset_validates(preset):
    cfg, _ = load_train_config(preset, None, [], get_registries())
    assert cfg.data.target_views >= cfg.data.input_views and cfg.optim.max_steps > 0


def test_second_stage_starts_from_the_first_stage_weights(tiny_data, tmp_path):
    import torch

    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.train import train

    small = ["data.input_views=2", "data.target_views=2", "data.batch_size=1", "optim.warmup_steps=1"]

    def cfg(*extra):
        return load_train_config("tiny", None, [*small, *extra], get_registries())[0]

    first = train([str(tiny_data)], tmp_path / "s1", cfg("data.resolution=16"), max_steps=2, progress=False)
    # a larger resolution and an lr too small to move anything: the second stage starts where the first ended
    second = train([str(tiny_data)], tmp_path / "s2", cfg("data.resolution=32", "optim.lr=1e-20"), max_steps=1,
                   progress=False, init=first)
    a = torch.load(first, weights_only=True)["state_dict"]
    b = torch.load(second, weights_only=True)
    assert b["global_step"] == 1
    assert all(torch.allclose(a[k], b["state_dict"][k], atol=1e-7) for k in a if k.startswith("net."))
    with pytest.raises(ConfigError, match="--init: .* model.width"):
        train([str(tiny_data)], tmp_path / "s3", cfg("data.resolution=16", "model.width=48"), max_steps=1,
              progress=False, init=first)
    with pytest.raises(ConfigError, match="--init: given with --resume"):
        train([str(tiny_data)], tmp_path / "s2", cfg("data.resolution=32"), max_steps=2, progress=False,
              init=first, resume=True)


def test_gso_eval_config_places_the_cameras_as_the_official_script():
    """`--config gso-eval`'s cameras are zeroverse_rgba.py's gso_sample_cam_loc (its formula written out
    here): 64 eyes, ring by ring, each looking at the origin with 50 degrees of horizontal field of view."""
    import numpy as np

    from lrmzero.plugin_manager import get_registries

    run = load_config("gso-eval", [])
    r = run.generate.render
    assert (r.cameras, r.views, r.resolution) == ("orbit", 64, 512)
    sampler = get_registries().camera_samplers.get("orbit").factory(run.components["camera_samplers"]["orbit"])
    cams = sampler.sample(r.views, r.resolution, r.resolution, np.random.default_rng(0))
    theta = np.tile(np.linspace(0, 2 * np.pi, 16, endpoint=False), 4)
    phi = np.deg2rad(np.repeat([0, 20, 40, 60], 16))
    official = 2.7 * np.stack([np.cos(phi) * np.cos(theta), np.cos(phi) * np.sin(theta), np.sin(phi)], 1)
    assert np.allclose(cams.c2w[:, :3, 3], official, atol=1e-9)
    forward = cams.c2w[:, :3, 2]  # OpenCV: +z looks into the scene
    assert np.allclose(forward, -official / 2.7, atol=1e-9)
    assert np.allclose(cams.K[:, 0, 0], 256 / np.tan(np.radians(25)))

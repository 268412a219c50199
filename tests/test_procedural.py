"""The procedural data source: objects made inside the loader equal what `generate` writes, and
training on them equals training on the written dataset, interrupted and resumed included."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from lrmzero import get_registries
from lrmzero.plugins.generation.config import CONFIGS, load_config
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.trainers.lightning.config import load_train_config
from lrmzero.plugins.trainers.lightning.data.sources import data_source, find_objects


@pytest.fixture(scope="module")
def small_config(tmp_path_factory):
    """The demo config at a test's size, as a YAML file (what --config and config=... take)."""
    path = tmp_path_factory.mktemp("proc") / "small.yaml"
    cfg = OmegaConf.merge(OmegaConf.create((CONFIGS / "demo.yaml").read_text()), OmegaConf.from_dotlist(
        ["render.views=3", "render.resolution=32", "render.renderer=raycast", "render.shading=lambert"]))
    OmegaConf.save(cfg, path)
    return path


@pytest.fixture(scope="module")
def written(small_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("proc_written")
    assert generate_dataset(load_config(str(small_config)), root, 3, seed=3, progress=False).done == 3
    return root


def spec(small_config, objects=3):
    return f"procedural:objects={objects},seed=3,config={small_config},cache=2"


def test_procedural_objects_equal_generated_files(small_config, written):
    handles = find_objects(spec(small_config))
    assert [h.name for h in handles] == ["00000000", "00000001", "00000002"] and handles[0].views == 3
    for handle in handles:
        folder = written / handle.name
        for path in folder.rglob("*"):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and rel != "meta.json":  # meta holds timings
                assert handle.read(rel) == path.read_bytes(), rel


def test_a_wrong_procedural_spec_is_refused(small_config):
    from lrmzero.errors import ConfigError

    with pytest.raises(ConfigError, match="objects"):
        data_source(f"procedural:objects=0,config={small_config}")
    with pytest.raises(ConfigError, match="nope"):
        data_source("procedural:config=nope")


def test_training_on_the_procedural_source_equals_training_on_the_files_and_resumes(small_config, written, tmp_path):
    from lrmzero.plugins.trainers.lightning.train import train

    def cfg():
        return load_train_config("tiny", None, ["data.batch_size=1", "data.input_views=2", "data.target_views=3",
                                                "data.resolution=16", "optim.warmup_steps=1"], get_registries())[0]

    files = train([str(written)], tmp_path / "files", cfg(), max_steps=4, progress=False)
    made = train([spec(small_config)], tmp_path / "made", cfg(), max_steps=4, progress=False)
    train([spec(small_config)], tmp_path / "half", cfg(), max_steps=4, stop_after_steps=2, progress=False)
    resumed = train([spec(small_config)], tmp_path / "half", cfg(), max_steps=4, resume=True, progress=False)
    a, b, c = (torch.load(p, weights_only=True)["state_dict"] for p in (files, made, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.allclose(b[k], c[k], atol=1e-6) for k in b)


def test_samples_per_object_repeats_each_object_with_other_views():
    from lrmzero.plugins.trainers.lightning.data.sampler import StepSampler

    plain = list(StepSampler(5, seed=1, total_batches=5, batch_size=2))
    assert sorted(i for i, _ in plain[:5]) == list(range(5))  # one epoch: every object once
    repeated = list(StepSampler(5, seed=1, total_batches=15, batch_size=2, repeats=3))
    objects = [i for i, _ in repeated]
    assert objects[::3] == [i for i, _ in plain[:10]]  # the same order of objects, each three times
    assert all(objects[k] == objects[k + 1] == objects[k + 2] for k in range(0, 30, 3))
    draws = [d for _, d in repeated]
    assert all(len({draws[k], draws[k + 1], draws[k + 2]}) == 3 for k in range(0, 30, 3))  # other views

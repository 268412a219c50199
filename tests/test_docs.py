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


def test_training_guide_names_only_real_config_keys_and_presets():
    """docs/training.md's `key=value` settings and presets exist (model keys as any model's parameter)."""
    import re

    from lrmzero.plugins.trainers.lightning.config import presets

    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "training.md").read_text()
    table = render_configs_md()
    keys = set(re.findall(r"^\| `([a-z0-9_.]+)`", table, flags=re.M))
    model_params = {k.split(".", 2)[2] for k in keys if k.startswith("models.")}
    used = set(re.findall(r"(?<![\w/.-])([a-z_]+\.[a-z0-9_.]+)=", guide))
    assert len(used) >= 10, used
    unknown = [k for k in used if k not in keys and not (k.startswith("model.") and k[6:] in model_params)]
    assert not unknown, f"docs/training.md names settings that do not exist: {unknown}"
    for preset in re.findall(r"--preset ([\w-]+)", guide):
        assert preset in presets(), preset


def test_generation_speed_guide_names_only_real_config_keys():
    """docs/generation-speed.md's `key=value` settings and its knobs table's keys exist."""
    import re

    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "generation-speed.md").read_text()
    keys = set(re.findall(r"^\| `([a-z0-9_.]+)`", render_configs_md(), flags=re.M))
    settings = re.findall(r"`([^`]*=[^`]*)`", guide) + re.findall(r"^\| `([^`]+)`", guide, flags=re.M)
    words = [word for span in settings for word in span.split()]
    used = {m.group(1) for m in (re.fullmatch(r"([a-z_]+\.[a-z0-9_.]+)(=\S*)?", w) for w in words) if m}
    assert len(used) >= 9, used
    unknown = sorted(k for k in used if k not in keys)
    assert not unknown, f"docs/generation-speed.md names settings that do not exist: {unknown}"


def test_every_command_line_option_says_what_it_is_for():
    import argparse

    from lrmzero.cli import add_plugin_commands, build_parser
    from lrmzero.plugin_manager import get_registries

    parser = build_parser()
    add_plugin_commands(parser, get_registries())
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    silent = {f"{name} {a.option_strings[0] if a.option_strings else a.dest}"
              for name, command in commands.items() for a in command._actions if not a.help}
    assert len(commands) >= 10 and silent == set()


def test_readme_python_example_runs():
    """The README's in-memory object example runs as written and gives what its comments say."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "ObjectMaker" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["rgba"].shape[0] == 4 and scope["rgba"].shape[-1] == 4 and scope["rgba"].dtype.name == "uint8"
    assert scope["cameras"].c2w.shape == (4, 4, 4) and scope["cameras"].K.shape == (4, 3, 3)
    assert scope["faces"].shape[1] == 3 and scope["obj"].meta["index"] == 3


def test_readme_reconstructor_example_runs(tmp_path, monkeypatch):
    """The README's Reconstructor example runs as written on a run folder of lrmzero train."""
    import re

    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.train import train
    from lrmzero.plugin_manager import get_registries
    from tests.conftest import small_dataset

    data = small_dataset(tmp_path / "data", 2, 0, "render.resolution=32", "render.views=4")
    cfg, _ = load_train_config("tiny", None, ["trainer.accelerator=cpu", "data.input_views=2", "data.target_views=4"],
                               get_registries())
    monkeypatch.chdir(tmp_path)
    train([str(data)], "runs/tiny", cfg, max_steps=1, progress=False)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "Reconstructor(" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["images"].shape == (len(scope["obj"].views.rgba), 128, 128, 3)
    assert (tmp_path / "rec" / "gaussians.ply").is_file()

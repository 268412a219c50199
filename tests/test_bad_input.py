"""Bad input loses nothing and gets one line: the cases of the 206-case probe, by area.

Each case runs the CLI (in-process where a subprocess is not needed, for speed) and asserts the exit
code, one error line naming the key / file / value, no traceback, and that nothing was written or
deleted outside what the command may touch.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lrmzero.cli import main
from lrmzero.plugins.generation.config import load_config
from lrmzero.dataset import DatasetWriter, read_manifest
from lrmzero.plugins.generation.runner import generate_dataset

DEMO = ["--config", "demo", "render.views=4", "render.resolution=32", "render.renderer=raycast",
        "render.shading=lambert", "--quiet"]
TRAIN = ["--quiet", "data.target_views=4", "data.input_views=2", "data.resolution=32",
         "trainer.checkpoint_every=2", "trainer.log_every=1", "trainer.image_every=1000"]


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run ``lrmzero ARGS`` in this process: (exit code, stderr). A traceback would raise here."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def cli_out(capsys, *args: str) -> tuple[int, str]:
    """Run ``lrmzero ARGS`` in this process: (exit code, stdout)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


def error_line(err: str, command: str) -> str:
    """The one ``lrmzero COMMAND: error: ...`` line of stderr (asserting there is exactly one)."""
    lines = [line for line in err.splitlines() if line.startswith(f"lrmzero {command}: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` -> its bytes (to show that nothing changed); a lock file only by its name
    (each run that takes it writes its own pid and start time into it)."""
    return {str(p.relative_to(path)): b"lock" if p.name.startswith(".lock") else p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad_input") / "data"
    run = load_config("demo", DEMO[2:-1])
    assert generate_dataset(run, root, 3, seed=0, progress=False).done == 3
    return root


@pytest.fixture(scope="module")
def checkpoint(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bad_input_run") / "run"
    assert main(["train", "--data", str(dataset), "--out", str(out), "--max-steps", "2", *TRAIN]) == 0
    return out / "checkpoints" / "last.ckpt"


# --- generate: config values refused before any output ---------------------------------------

GENERATE_BAD = [
    # NaN and inf pass comparisons: refused everywhere
    ("camera_samplers.zeroverse.fov_deg=nan", "camera_samplers.zeroverse.fov_deg"),
    ("render.depth_scale=nan", "render.depth_scale"),
    ("render.depth_scale=inf", "render.depth_scale"),
    ("render.ao_distance=nan", "render.ao_distance"),
    ("augmentations.wireframe.probability=nan", "augmentations.wireframe.probability"),
    ("textures.fbm.grain=nan", "textures.fbm.grain"),
    ("shape.half_axis_min=nan", "shape.half_axis_min"),
    ("shape.half_axis_max=inf", "shape.half_axis_max"),
    ("compose.normalized_size=inf", "compose.normalized_size"),
    ("shape.translation_fraction=nan", "shape.translation_fraction"),
    ("shape.max_rotation_deg=nan", "shape.max_rotation_deg"),
    ("shape.material_jitter=nan", "shape.material_jitter"),
    ("camera_samplers.zeroverse.radius_min=nan", "camera_samplers.zeroverse.radius_min"),
    ("camera_samplers.zeroverse.radius_max=inf", "camera_samplers.zeroverse.radius_max"),
    ("augmentations.height_field.max_amplitude=nan", "augmentations.height_field.max_amplitude"),
    ("augmentations.boolean_difference.size_max=inf", "augmentations.boolean_difference.size_max"),
    ("render.background=[nan,1,1]", "render.background"),
    # list elements are type-checked
    ("render.background=[red,1,1]", "render.background[0]"),
    ("shape.count_weights=[1,nan]", "shape.count_weights"),
    ("shape.primitive_weights=[x,1,1,1,1]", "shape.primitive_weights[0]"),
    # lists where emptiness is meaningless
    ("augmentations.boolean_difference.cutters=[]", "augmentations.boolean_difference.cutters"),
    ("augmentations.wireframe.kinds=[]", "augmentations.wireframe.kinds"),
    ("camera_samplers.orbit.elevations_deg=[]", "camera_samplers.orbit.elevations_deg"),
    # cross-references to other registries
    ("augmentations.boolean_difference.cutters=[pyramid]", "augmentations.boolean_difference.cutters"),
    ("augmentations.boolean_difference.cutters=[blob]", "augmentations.boolean_difference.cutters"),
    ("augmentations.wireframe.kinds=[pyramid]", "augmentations.wireframe.kinds"),
    # every value that names a component, checked against its registry at load time
    ("execute.executor=nope", "execute.executor"),
    ("render.renderer=nope", "render.renderer"),
    ("render.cameras=nope", "render.cameras"),
    ("materials.sources=[fbm,nope]", "materials.sources"),
    ("augment.apply=[nope]", "augment.apply"),
    ("compose.composer=nope", "compose.composer"),
    ("textures.blend.sources=[blend]", "textures.blend.sources"),
    # a scalar where a section belongs
    ("shape=5", "shape"),
    ("primitives=5", "primitives"),
]


def test_overrides_that_are_not_yaml_are_named(capsys, tmp_path):
    """A value YAML cannot parse is one line naming the override (it was the parser's traceback)."""
    cases = [("generate", ["--num-objects", "1", "--seed", "0", "primitives={cube:{segments:3}}"],
              "override 'primitives={cube:{segments:3}}': while scanning", "a space after each colon"),
             ("generate", ["--num-objects", "1", "--seed", "0", "render.views=[1,"],
              "override 'render.views=[1,': while parsing", "e.g. render.views=8"),
             ("train", ["--data", tmp_path, "optim.betas=[0.9"], "override 'optim.betas=[0.9'", "e.g. optim.lr=1e-4"),
             ("train", ["--data", "procedural:objects", "--preset", "tiny"],
              "--data procedural: 'objects': expected key=value", "procedural:key=value"),
             ("train", ["--data", "procedural:objects=[1", "--preset", "tiny"],
              "--data procedural: 'objects=[1': while parsing", "allowed: key=value")]
    for command, args, said, hint in cases:
        code, err = cli(capsys, command, "--out", tmp_path / "out", *args)
        line = error_line(err, command)
        assert code == 2 and said in line and hint in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override,key", GENERATE_BAD, ids=[c[0] for c in GENERATE_BAD])
def test_generate_refuses_bad_values_before_any_output(capsys, tmp_path, override, key):
    out = tmp_path / "out"
    code, err = cli(capsys, "generate", "--out", out, "--num-objects", "1", "--seed", "0", *DEMO, override)
    line = error_line(err, "generate")
    assert code == 2 and line.split("error: ", 1)[1].startswith(key), line
    assert "allowed" in line or "unknown" in line
    assert not out.exists()


def test_yaml_errors_keep_their_whole_message(capsys, tmp_path):
    bad = tmp_path / "dup.yaml"
    bad.write_text("render:\n  views: 4\n  views: 8\n")
    for command, extra in (("generate", ["--num-objects", "1", "--seed", "0"]),
                           ("train", ["--data", tmp_path])):
        code, err = cli(capsys, command, "--out", tmp_path / "o", "--config", bad, *extra)
        line = error_line(err, command)
        assert code == 2 and "duplicate key views" in line and "line 3" in line, line
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    for command, extra in (("generate", ["--num-objects", "1", "--seed", "0"]),
                           ("train", ["--data", tmp_path])):
        code, err = cli(capsys, command, "--out", tmp_path / "o", "--config", listed, *extra)
        assert code == 2 and "holds a list" in error_line(err, command)
    for text, what in (("just some text\n", "a string"), ("42\n", "a number")):  # a string read as a key
        listed.write_text(text)
        code, err = cli(capsys, "generate", "--out", tmp_path / "o", "--config", listed, "--num-objects", "1",
                        "--seed", "0")
        assert code == 2 and f"holds {what}; allowed: a mapping" in error_line(err, "generate")
    code, err = cli(capsys, "train", "--data", tmp_path, "--out", tmp_path / "o", "--config", "tiny")
    assert code == 2 and error_line(err, "train").endswith("it is a preset: --preset tiny")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,expect", [
    (["--shard", "-1/2"], "--shard: got '-1/2'"),
    (["--shard", "2/2"], "--shard: got '2/2'"),
    (["--workers", "0"], "--workers: got 0"),
    (["--seed", "-1"], "--seed: got -1; allowed: an integer >= 0"),  # was one failed object per index
    (["--format", "shards", "--workers", "0"], "--workers: got 0"),  # was refused after --out was made
    (["--format", "shards", "--seed", "-2"], "--seed: got -2"),
])
def test_generate_bad_options(capsys, tmp_path, args, expect):
    code, err = cli(capsys, "generate", "--out", tmp_path / "o", "--num-objects", "1", "--seed", "0", *DEMO, *args)
    assert code == 2 and expect in error_line(err, "generate")
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_or_under_a_file(capsys, tmp_path):
    (tmp_path / "f").write_text("mine")
    for out in (tmp_path / "f", tmp_path / "f" / "sub"):
        code, err = cli(capsys, "generate", "--out", out, "--num-objects", "1", "--seed", "0", *DEMO)
        assert code == 2 and "is a file" in error_line(err, "generate")
    assert (tmp_path / "f").read_text() == "mine"


def test_read_only_out_is_refused_before_work(capsys, tmp_path, monkeypatch):
    # As root (CI containers) permission bits do not stop writes, so the check itself is exercised
    # through os.access; a real read-only folder gives the same answer to it.
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    code, err = cli(capsys, "generate", "--out", ro / "data", "--num-objects", "1", "--seed", "0", *DEMO)
    assert code == 2 and "not writable" in error_line(err, "generate")
    assert list(ro.iterdir()) == []


def test_dask_without_the_extra_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    code, err = cli(capsys, "generate", "--out", tmp_path / "o", "--num-objects", "1", "--seed", "0",
                    "--executor", "dask", *DEMO)
    assert code == 2 and "lrmzero[dask]" in error_line(err, "generate")
    assert not (tmp_path / "o").exists()


def test_dask_scheduler_that_cannot_be_reached_is_named(capsys, tmp_path):
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, err = cli(capsys, "generate", "--out", tmp_path / "o", "--num-objects", "1", "--seed", "0",
                        "--executor", "dask", "executors.dask.scheduler=tcp://127.0.0.1:9", *DEMO)
    line = error_line(err, "generate")
    assert code == 2 and line.split("error: ", 1)[1].startswith("executors.dask.scheduler: cannot reach 'tcp://"), line


def fail_writes_with_enospc(monkeypatch, module, after_bytes: int = 3):
    """Make ``open(..., "wb")`` in ``module`` write ``after_bytes`` and then fail as a full disk does."""
    real_open = open

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:after_bytes])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullDisk(f) if "w" in mode and "b" in mode else f

    monkeypatch.setattr(module, "open", fake_open, raising=False)


def test_full_disk_at_run_json_is_one_line_and_leaves_no_temp_file(capsys, tmp_path, monkeypatch):
    import lrmzero.dataset

    fail_writes_with_enospc(monkeypatch, lrmzero.dataset)
    out = tmp_path / "o"
    code, err = cli(capsys, "generate", "--out", out, "--num-objects", "1", "--seed", "0", *DEMO)
    line = error_line(err, "generate")
    assert code == 2 and "No space left on device" in line
    assert [p.name for p in out.iterdir()] == []  # no run.json, no 0-byte temp file


def test_torn_manifest_line_never_swallows_the_next_record(tmp_path):
    writer = DatasetWriter(tmp_path)
    writer.append_manifest({"object_id": "00000000", "status": "done"})
    with open(tmp_path / "manifest.jsonl", "ab") as f:
        f.write(b'{"object_id": "00000001", "sta')  # a full disk cut this append short
    writer.append_manifest({"object_id": "00000002", "status": "done"})
    assert [r["object_id"] for r in read_manifest(tmp_path)] == ["00000000", "00000002"]


def test_torn_manifest_is_healed_by_the_next_run(capsys, tmp_path):
    out = tmp_path / "o"
    assert cli(capsys, "generate", "--out", out, "--num-objects", "2", "--seed", "0", *DEMO)[0] == 0
    lines = (out / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    (out / "manifest.jsonl").write_bytes(lines[0] + lines[1][:10])  # the second record torn, no newline
    assert cli(capsys, "generate", "--out", out, "--num-objects", "3", "--seed", "0", *DEMO)[0] == 0
    done = sorted(r["object_id"] for r in read_manifest(out) if r["status"] == "done")
    assert done == ["00000000", "00000001", "00000002"]


# --- render: object ids from file names ---------------------------------------------------------

def test_render_never_deletes_outside_out(capsys, tmp_path, dataset):
    mesh = next(dataset.glob("*/mesh.glb"))
    meshes = tmp_path / "m"
    meshes.mkdir()
    for name in ("...glb", "..glb", ".hidden.glb", "<img src=x>.glb", "ok.glb"):
        shutil.copy(mesh, meshes / name)
    siblings = tmp_path / "s"
    (siblings / "other_dataset").mkdir(parents=True)
    (siblings / "other_dataset" / "keep.txt").write_text("keep")
    before = tree(siblings)
    code, err = cli(capsys, "render", meshes, "--out", siblings / "out", "render.views=2", *DEMO[2:])
    assert code == 0, err
    after = tree(siblings)
    assert {k: v for k, v in after.items() if not k.startswith("out/")} == before
    ids = sorted(p.name for p in (siblings / "out").iterdir() if p.is_dir())
    assert len(ids) == 5 and all(i[0].isalnum() for i in ids), ids
    # a second run skips all five and still deletes nothing
    assert cli(capsys, "render", meshes, "--out", siblings / "out", "render.views=2", *DEMO[2:])[0] == 0
    assert tree(siblings) == after


def test_render_names_objects_by_what_tells_their_files_apart(tmp_path):
    """GSO's layout (NAME/meshes/model.obj for every object) gives each object its NAME, not model-000017."""
    from lrmzero.plugins.generation.runner import input_object_ids

    gso = [str(tmp_path / "gso" / name / "meshes" / "model.obj") for name in ("Alarm_Clock", "Bowl", "Cup")]
    assert input_object_ids([*gso, str(tmp_path / "gso" / "chair.glb")]) == ["Alarm_Clock", "Bowl", "Cup", "chair"]
    assert input_object_ids([str(tmp_path / "a" / "model.obj"), str(tmp_path / "b" / "sub" / "model.obj")]) \
        == ["a", "b-sub"]
    # files one folder holds twice under one stem: the stem and the index; odd names made safe
    assert input_object_ids([str(tmp_path / "x" / "model.obj"), str(tmp_path / "x" / "model.ply"),
                             str(tmp_path / "x" / "a b.glb")]) == ["model-000000", "model-000001", "a_b"]
    assert input_object_ids([str(tmp_path / "..glb")]) == ["mesh-000000"]


def test_writer_refuses_unsafe_object_ids(tmp_path):
    writer = DatasetWriter(tmp_path / "d")
    (tmp_path / "d").mkdir()
    (tmp_path / "keep").write_text("keep")
    for bad in ("..", ".", "../keep", "/abs", "", ".tmp-x"):
        with pytest.raises(ValueError, match="not a safe folder name"):
            writer.write_object(bad, {"a.txt": b"x"}, {})
    with pytest.raises(ValueError, match="leaves the object folder"):
        writer.write_object("ok", {"../keep": b"x"}, {})
    assert (tmp_path / "keep").read_text() == "keep"


# --- checkpoints: data only, never code ---------------------------------------------------------

class _WritesAFile:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path(self.target).write_text, ("pwned",))


def crafted_checkpoint(path: Path, target: Path) -> Path:
    """A file torch.load(weights_only=False) would execute: it writes ``target`` while loading."""
    payload = {"hyper_parameters": {"model": {"name": "gs_lrm"}}, "state_dict": {}, "x": _WritesAFile(str(target))}
    torch.save(payload, path, pickle_module=pickle)
    return path


@pytest.fixture
def bad_checkpoints(tmp_path, checkpoint) -> dict[str, Path]:
    good = checkpoint.read_bytes()
    files = {
        "truncated": good[: len(good) // 2],
        "random": os.urandom(4096),
        "empty": b"",
        "not lrmzero": None,
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.ckpt"
        if data is None:
            torch.save({"state_dict": {}, "other": 1}, path)
        else:
            path.write_bytes(data)
        out[name] = path
    out["crafted"] = crafted_checkpoint(tmp_path / "crafted.ckpt", tmp_path / "PWNED")
    # hyper-parameters that do not fit the weights (width changed after training)
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt["hyper_parameters"]["model"]["width"] = 64
    torch.save(ckpt, tmp_path / "mismatch.ckpt")
    out["mismatch"] = tmp_path / "mismatch.ckpt"
    return out


@pytest.mark.parametrize("kind", ["truncated", "random", "empty", "not lrmzero", "crafted", "mismatch"])
def test_eval_and_reconstruct_refuse_bad_checkpoints(capsys, tmp_path, dataset, bad_checkpoints, kind):
    ckpt = bad_checkpoints[kind]
    obj = sorted(p for p in dataset.iterdir() if p.is_dir())[0]
    code, err = cli(capsys, "eval", "--checkpoint", ckpt, "--data", dataset, "--json", tmp_path / "e.json")
    line = error_line(err, "eval")
    assert code == 2 and str(ckpt) in line
    code, err = cli(capsys, "reconstruct", "--checkpoint", ckpt, "--images", obj,
                    "--cameras", obj / "opencv_cameras.json", "--out", tmp_path / "rec")
    assert code == 2 and str(ckpt) in error_line(err, "reconstruct")
    assert not (tmp_path / "PWNED").exists(), "loading a checkpoint ran code from it"
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "rec").exists()
    if kind == "crafted":
        assert "other than tensors" in line


def test_a_run_folder_stands_for_its_last_checkpoint(capsys, tmp_path, dataset, checkpoint):
    results = []
    for given in (checkpoint, checkpoint.parent.parent, checkpoint.parent):  # file, run folder, checkpoints/
        assert cli(capsys, "eval", "--checkpoint", given, "--data", dataset, "--json", tmp_path / "e.json")[0] == 0
        results.append(json.loads((tmp_path / "e.json").read_text()))
    assert results[0] == results[1] == results[2]
    code, err = cli(capsys, "eval", "--checkpoint", dataset, "--data", dataset)
    assert code == 2 and error_line(err, "eval").endswith(
        "is a folder without checkpoints/last.ckpt; allowed: a .ckpt file or a run folder of lrmzero train")


def test_resume_refuses_crafted_truncated_and_changed_checkpoints(capsys, tmp_path, dataset, checkpoint):
    for name, make in (
        ("crafted", lambda p: crafted_checkpoint(p, tmp_path / "PWNED")),
        ("truncated", lambda p: p.write_bytes(checkpoint.read_bytes()[:5000])),
    ):
        run = tmp_path / name
        (run / "checkpoints").mkdir(parents=True)
        make(run / "checkpoints" / "last.ckpt")
        code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--resume", "--max-steps", "4", *TRAIN)
        assert code == 2 and "no readable checkpoint" in error_line(err, "train")
    assert not (tmp_path / "PWNED").exists()
    run = tmp_path / "changed"
    shutil.copytree(checkpoint.parent.parent, run)
    code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--resume", "--max-steps", "4", *TRAIN,
                    "model.width=64")
    line = error_line(err, "train")
    assert code == 2 and "model.width=None" in line and "model.width=64" in line


# --- train: resume, logs, unusable data --------------------------------------------------------

def test_copied_run_resumes_into_its_own_last_ckpt_and_appends_logs(capsys, tmp_path, dataset):
    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "4", *TRAIN)[0] == 0
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    code, err = cli(capsys, "train", "--data", dataset, "--out", copy, "--max-steps", "6", "--resume", *TRAIN)
    assert code == 0, err
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == ["last.ckpt"]
    assert f"checkpoint: {copy / 'checkpoints' / 'last.ckpt'}" in err
    assert torch.load(copy / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4  # untouched
    with open(copy / "logs" / "metrics.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [0, 1, 2, 3, 4, 5]


def test_a_new_run_into_a_finished_run_folder_is_refused_and_loses_nothing(capsys, tmp_path, dataset, caplog):
    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "4", *TRAIN)[0] == 0
    ckpt, metrics = (run / "checkpoints" / "last.ckpt").read_bytes(), (run / "logs" / "metrics.csv").read_bytes()
    for extra in ([], ["--init", str(run / "checkpoints" / "last.ckpt")]):
        code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "2", *TRAIN, *extra)
        line = error_line(err, "train")
        assert code == 2 and str(run) in line and "last.ckpt, the newest at step 4" in line and "--resume" in line
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == ckpt
    assert (run / "logs" / "metrics.csv").read_bytes() == metrics
    # extending a run says nothing; a setting that changes what it computes is named
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "5", "--resume", *TRAIN)[0] == 0
        assert "other settings" not in caplog.text
        assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "6", "--resume", *TRAIN,
                   "optim.lr=0.0002", "trainer.log_every=2", "data.num_workers=1")[0] == 0
    assert "trained with other settings, the run goes on with this run's: optim.lr: 0.001 -> 0.0002" in caplog.text
    assert "log_every" not in caplog.text and "num_workers" not in caplog.text


def test_a_run_folder_in_use_is_refused_until_its_run_ends(capsys, tmp_path, dataset):
    """A second train into a folder another process trains into (a job submitted twice) is refused
    before it writes; once that process is gone, killed included, the folder is free again."""
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from lrmzero.plugins.trainers.lightning.run_lock import hold_run_folder\n"
         "with hold_run_folder(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)", str(run)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--resume"], ["--auto-resume"]):
            code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "2", *TRAIN, *extra)
            line = error_line(err, "train")
            assert code == 2 and f"--out: {str(run)!r} is in use by another lrmzero train (pid {holder.pid} on " in line
            assert "allowed: another --out" in line
        assert sorted(p.name for p in run.iterdir()) == [".lock"]
    finally:
        holder.kill()  # SIGKILL: no clean-up of its own, the kernel drops its lock
        holder.wait()
    code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "2", *TRAIN)
    assert code == 0 and (run / "checkpoints" / "last.ckpt").is_file(), err


def test_a_shard_being_generated_is_refused_to_a_second_copy_of_the_job(capsys, tmp_path):
    """A second generate of the shard another process is making (a job submitted twice) is refused
    before it touches the folder (it used to remove the first one's objects in the making as an
    interrupted run's leftovers, and make every object again); another shard of the folder goes on;
    once the first process is gone, killed included, the same command resumes the shard."""
    out = tmp_path / "data"
    # far more objects than it can make while this test runs (it is killed at the end)
    first = subprocess.Popen([sys.executable, "-m", "lrmzero.cli", "generate", "--out", str(out), "--num-objects",
                              "20000", "--seed", "0", "--shard", "0/2", *DEMO], stderr=subprocess.PIPE, text=True)
    lock = out / ".lock-shard-0-of-2"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and f'"pid": {first.pid}' not in (lock.read_text() if lock.exists() else ""):
            time.sleep(0.05)
        before = {p.name for p in out.iterdir()}
        code, err = cli(capsys, "generate", "--out", out, "--num-objects", "20000", "--seed", "0", "--shard", "0/2",
                        *DEMO)
        line = error_line(err, "generate")
        assert code == 2 and f"--shard: 0/2 of --out {str(out)!r} is being made by another lrmzero generate " \
            f"(pid {first.pid} on " in line, line
        assert "allowed: another --shard or --out" in line
        assert before <= {p.name for p in out.iterdir()}  # nothing of the first run's was removed
        code, err = cli(capsys, "generate", "--out", out, "--num-objects", "4", "--seed", "0", "--shard", "1/2", *DEMO)
        assert code == 0, err
        assert first.poll() is None, "the first run ended before the test was done with it"
    finally:
        first.kill()  # SIGKILL: the kernel drops its lock
        first.communicate()
    code, err = cli(capsys, "generate", "--out", out, "--num-objects", "4", "--seed", "0", "--shard", "0/2", *DEMO)
    assert code == 0, err
    done = {r["object_id"] for r in read_manifest(out) if r.get("status") == "done"}
    assert len(done) >= 4 and all((out / oid / "meta.json").is_file() for oid in done)


def test_a_folder_of_shards_being_written_is_refused_to_a_second_writer(capsys, tmp_path):
    out = tmp_path / "shards"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from lrmzero.locks import hold_lock\n"
         "with hold_lock(Path(sys.argv[1]) / '.lock-shards', RuntimeError, ''):\n"
         "    print('held', flush=True); time.sleep(120)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, err = cli(capsys, "generate", "--out", out, "--num-objects", "2", "--seed", "0", "--format", "shards",
                        *DEMO)
        line = error_line(err, "generate")
        assert code == 2 and f"--out: {str(out)!r} is being written by another lrmzero generate --format shards " \
            f"(pid {holder.pid} on " in line, line
        assert sorted(p.name for p in out.iterdir()) == [".lock-shards"]  # nothing staged, nothing packed
    finally:
        holder.kill()
        holder.wait()
    code, err = cli(capsys, "generate", "--out", out, "--num-objects", "2", "--seed", "0", "--format", "shards", *DEMO)
    assert code == 0 and (out / "index.json").is_file(), err


def test_a_checkpoint_trained_with_gsplat_evaluates_where_gsplat_is_missing(capsys, tmp_path, dataset, checkpoint,
                                                                            caplog):
    """The rasterizer chooses how the Gaussians are drawn, not the weights: eval falls back to torch's."""
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt["hyper_parameters"]["model"]["rasterizer"] = "gsplat"  # as a GPU run that named it would have saved
    torch.save(ckpt, tmp_path / "gsplat.ckpt")
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        code, out = cli_out(capsys, "eval", "--checkpoint", tmp_path / "gsplat.ckpt", "--data", dataset,
                            "--json", tmp_path / "e.json")
    assert code == 0 and "model.rasterizer=gsplat: gsplat: " in caplog.text, caplog.text
    assert json.loads((tmp_path / "e.json").read_text())["mean"]["psnr"] > 0


def test_init_from_another_model_names_the_model(capsys, tmp_path, dataset, checkpoint):
    """The model's name is compared first (it said model.attention='auto' vs None for a triplane run)."""
    for extra, said in ((["model.name=triplane_lrm"], "model.name='gs_lrm', this run has model.name='triplane_lrm'"),
                        (["model.width=64"], "model.width=None, this run has model.width=64")):
        code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", "--init", checkpoint, *TRAIN, *extra)
        line = error_line(err, "train")
        assert code == 2 and f"--init: {str(checkpoint)!r} was trained with {said}" in line, line
    assert not (tmp_path / "r").exists()


def test_auto_resume_starts_a_run_or_continues_it_as_a_requeued_job_does(capsys, tmp_path, dataset, checkpoint,
                                                                          caplog):
    run = tmp_path / "run"
    job = ["train", "--data", dataset, "--out", run, "--auto-resume", "--init", checkpoint, *TRAIN]
    assert cli(capsys, *job, "--max-steps", "2")[0] == 0  # nothing there: a new run, from --init's weights
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        assert cli(capsys, *job, "--max-steps", "3")[0] == 0  # the same command again: continued
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3
    assert f"--init {checkpoint}: not used: --auto-resume continues the run in {run}" in caplog.text
    with open(run / "logs" / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [0, 1, 2]
    with pytest.raises(SystemExit):
        cli(capsys, "train", "--data", dataset, "--out", run, "--resume", "--auto-resume", *TRAIN)
    assert "not allowed with argument" in capsys.readouterr().err
    code, err = cli(capsys, *job, "--max-steps", "4", "model.width=64")  # its messages name the flag given
    line = error_line(err, "train")
    assert code == 2 and line.startswith("lrmzero train: error: --auto-resume: ") and "model.width=64" in line


def test_stop_signals_a_second_ctrl_c_a_loader_worker_and_a_slurm_requeue(tmp_path, monkeypatch, caplog):
    from lrmzero.plugins.trainers.lightning.stop_signals import (STOP_SIGNALS, StopOnSignal, StoppedBySignal,
                                                                 requeue_slurm_job)

    class Module:
        stop_requested = False

    callback, module = StopOnSignal(), Module()
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    callback.on_train_start(None, module)
    try:
        with caplog.at_level(logging.WARNING, logger="lrmzero"):
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C asks
            time.sleep(0.01)
        assert module.stop_requested and callback.received == ["SIGINT"]
        assert "SIGINT: stopping after this optimizer step, saving checkpoints/last.ckpt (Ctrl-C again" in caplog.text
        with pytest.raises(KeyboardInterrupt):  # the second one stops now
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    finally:
        callback.on_train_end(None, module)
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before  # put back
    stopped = StoppedBySignal(["SIGTERM"], 7, 10, tmp_path / "last.ckpt")
    assert stopped.exit_code == 143 and "stopped at step 7 of 10 on SIGTERM" in str(stopped)
    # a loader worker leaves the decision to the main process
    worker = subprocess.run([sys.executable, "-c", "import os, signal, time\n"
                             "from lrmzero.plugins.trainers.lightning.stop_signals import ignore_stop_signals\n"
                             "ignore_stop_signals()\nfor s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):\n"
                             "    os.kill(os.getpid(), s)\ntime.sleep(0.05)\nprint('alive')"],
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0 and worker.stdout.strip() == "alive", worker.stderr
    # SLURM: the job (an array task: its own id) is requeued through scontrol
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'called'}\n")
    (bin_dir / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    assert requeue_slurm_job() and (tmp_path / "called").read_text().strip() == "requeue 1234"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "99")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert requeue_slurm_job() and (tmp_path / "called").read_text().strip() == "requeue 99_3"
    (bin_dir / "scontrol").write_text("#!/bin/sh\necho 'Invalid job id' >&2\nexit 1\n")
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        assert not requeue_slurm_job()
    assert "not requeued: scontrol requeue exited 1: Invalid job id" in caplog.text


def test_kept_snapshots_hold_their_steps_weights_and_are_never_resumed_from(capsys, tmp_path, dataset, caplog):
    run, short = tmp_path / "run", tmp_path / "short"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "5", *TRAIN, "trainer.keep_every=2")[0] == 0
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "step_000002.ckpt", "step_000004.ckpt"]
    snapshot = torch.load(ckpts / "step_000004.ckpt", weights_only=True)
    assert snapshot["global_step"] == 4 and "optimizer_states" not in snapshot  # weights only
    # the weights after step 4: those of a run stopped there (same schedule)
    from lrmzero.plugin_manager import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.train import train

    cfg, _ = load_train_config("tiny", None, TRAIN[1:], get_registries())
    train([str(dataset)], short, cfg, max_steps=5, stop_after_steps=4, progress=False)
    stopped = torch.load(short / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in stopped["state_dict"].items():
        torch.testing.assert_close(snapshot["state_dict"][key], value, msg=key)
    code, out = cli_out(capsys, "eval", "--checkpoint", ckpts / "step_000002.ckpt", "--data", dataset, "--quiet")
    assert code == 0 and "model" in out
    # a snapshot with more steps than last.ckpt (a copy) is passed over: it cannot be resumed from
    shutil.copy(ckpts / "step_000004.ckpt", ckpts / "step_000009.ckpt")
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "6", "--resume", *TRAIN,
               "trainer.keep_every=2")[0] == 0
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["global_step"] == 6
    assert (ckpts / "step_000006.ckpt").is_file()
    # the run along its training: a row per step (the copy has step 4's: counted once), as single evals give
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        caplog.clear()
        code, out = cli_out(capsys, "eval", "--checkpoint", run, "--snapshots", "--data", dataset, "--quiet",
                            "--json", tmp_path / "curve.json", "--report", tmp_path / "report")
    rows = json.loads((tmp_path / "curve.json").read_text())
    assert code == 0 and [row["step"] for row in rows] == [2, 4, 6]
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["step_000002", "step_000004", "step_000006"]
    assert all((tmp_path / "report" / step / "summary.png").is_file() for step in ("step_000002", "step_000006"))
    assert caplog.text.count("LPIPS is reported as null") == 1  # said once, not per step
    assert [line.split()[0] for line in out.splitlines()[2:5]] == ["2", "4", "6"]
    code, out = cli_out(capsys, "eval", "--checkpoint", ckpts / "step_000004.ckpt", "--data", dataset, "--quiet",
                        "--json", tmp_path / "one.json")
    assert json.loads((tmp_path / "one.json").read_text())["mean"] == rows[1]["mean"]
    code, err = cli(capsys, "eval", "--checkpoint", ckpts / "last.ckpt", "--snapshots", "--data", dataset)
    assert code == 2 and "--snapshots needs the run folder" in error_line(err, "eval")


def test_temp_files_of_writes_a_kill_cut_short_are_removed_on_resume(capsys, tmp_path, dataset):
    """kill -9 during a checkpoint or shard write leaves its temp file (gigabytes at paper size)."""
    from lrmzero.shards import pack_dataset

    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "2", *TRAIN)[0] == 0
    stale = run / "checkpoints" / ".tmp-last.ckpt-4242"
    stale.write_bytes(b"half a checkpoint")
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "3", "--resume", *TRAIN)[0] == 0
    assert not stale.exists() and sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    shards = tmp_path / "shards"
    pack_dataset(dataset, shards, objects_per_shard=2)
    (shards / "shard-000001.tar").unlink()
    stale = [shards / ".tmp-shard-000001.tar-4242", shards / ".tmp-shard-000001.json-4242"]
    for path in stale:
        path.write_bytes(b"half a shard")
    assert pack_dataset(dataset, shards, objects_per_shard=2) == (1, 1)
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in shards.iterdir() if p.name.startswith(".")) == []


def test_resume_after_a_stop_between_checkpoints_keeps_earlier_log_rows(capsys, tmp_path, dataset):
    from lrmzero.plugin_manager import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.train import train

    cfg, _ = load_train_config("tiny", None, TRAIN[1:] + ["trainer.checkpoint_every=3"], get_registries())
    run = tmp_path / "run"
    train([str(dataset)], run, cfg, max_steps=8, stop_after_steps=5, progress=False)
    # a kill after step 5 whose last checkpoint holds step 3: rows 3 and 4 are logged again
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 5
    cfg, _ = load_train_config("tiny", None, TRAIN[1:] + ["trainer.checkpoint_every=3"], get_registries())
    train([str(dataset)], run, cfg, max_steps=8, resume=True, progress=False)
    with open(run / "logs" / "metrics.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(8))


def test_versioned_checkpoint_with_more_steps_is_the_one_resumed(capsys, tmp_path, dataset, caplog):
    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "4", *TRAIN)[0] == 0
    ckpts = run / "checkpoints"
    shutil.copy(ckpts / "last.ckpt", ckpts / "last-v1.ckpt")
    old = torch.load(ckpts / "last.ckpt", weights_only=True)
    old["global_step"] = 2
    torch.save(old, ckpts / "last.ckpt")  # an older last.ckpt left behind by an earlier version
    code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "6", "--resume", *TRAIN)
    assert code == 0 and "last-v1.ckpt (step 4)" in caplog.text
    with open(run / "logs" / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(6))


def test_train_stops_when_no_object_is_usable(capsys, tmp_path, dataset):
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    for png in broken.glob("*/rgba/*.png"):
        png.write_bytes(png.read_bytes()[:60])  # truncated PNGs
    start = time.perf_counter()
    code, err = cli(capsys, "train", "--data", broken, "--out", tmp_path / "r", "--max-steps", "50", *TRAIN,
                    "optim.max_consecutive_skips=5", "data.validate=none")  # the run-time path
    line = error_line(err, "train")
    assert code == 2 and str(broken) in line and "no usable object" in line
    assert err.count("skipping object") <= 3  # one warning per object, not one per draw
    assert time.perf_counter() - start < 60


def test_train_refuses_data_without_enough_views_before_starting(capsys, tmp_path, dataset):
    code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *TRAIN, "data.input_views=12",
                    "data.target_views=12")
    line = error_line(err, "train")
    assert code == 2 and "12 views" in line and "[4]" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("override,key", [
    ("model.name=nope", "model.name"),
    ("model.rasterizer=nope", "model.rasterizer"),
    ("data.resolution=18", "data.resolution"),
    ("optim.lr=nan", "optim.lr"),
    ("data.background=[1,x,1]", "data.background[1]"),
    ("data=5", "data"),
    ("data.target_views=1", "data.target_views"),
    ("trainer.precision=16-mixed", "trainer.precision"),
    ("trainer.strategy=fsdp", "trainer.strategy"),
    ("trainer.strategy=dpp", "trainer.strategy"),  # Lightning itself raised a bare ValueError at fit
    ("trainer.precision=bf32", "trainer.precision"),
    ("trainer.accelerator=gpus", "trainer.accelerator"),
    ("optim.accumulate=0", "optim.accumulate"),
    ("trainer.devices=abc", "trainer.devices: got 'abc'; allowed: auto, a number"),  # was Lightning's TypeError
    ("trainer.devices=0", "trainer.devices: got 0"),
    ("data.weights={a: 1}", "data.weights: got {'a': 1}; allowed: null or a list of numbers"),  # OmegaConf's TypeError
    ("optim.lr=fast", "optim.lr: got 'fast'; allowed: a number > 0.0"),
])
def test_train_refuses_bad_values_before_starting(capsys, tmp_path, dataset, override, key):
    code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *TRAIN, override)
    line = error_line(err, "train")
    assert code == 2 and line.split("error: ", 1)[1].startswith(key), line
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_train_refuses_an_accelerator_the_machine_lacks(capsys, tmp_path, dataset):
    code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *TRAIN, "trainer.accelerator=gpu")
    line = error_line(err, "train")
    assert code == 2 and "got 'gpu', which this machine cannot use" in line and line.endswith("allowed here: auto, cpu")
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_train_refuses_devices_and_kernels_the_cpu_cannot_use(capsys, tmp_path, dataset):
    """Lightning takes a device list on a GPU only, and said so with a TypeError when the run started."""
    for devices in ("[0,1]", "-1"):
        code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *TRAIN,
                        f"trainer.devices={devices}")
        line = error_line(err, "train")
        assert code == 2 and "which the cpu accelerator cannot use" in line, line
        assert line.endswith("allowed: auto or a number of processes >= 1"), line
    code, err = cli(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *TRAIN, "model.rasterizer=gsplat")
    line = error_line(err, "train")  # it was gsplat's exception, raised by the started trainer
    assert code == 2 and "model.rasterizer: got 'gsplat', which cannot run here (gsplat: " in line, line
    assert not (tmp_path / "r").exists()


def test_mixed_view_counts_and_malformed_cameras_do_not_end_the_run(capsys, tmp_path, dataset):
    data = tmp_path / "mixed"
    shutil.copytree(dataset, data)
    objs = sorted(p for p in data.iterdir() if p.is_dir())
    cams = json.loads((objs[0] / "opencv_cameras.json").read_text())
    cams["frames"] = cams["frames"] + cams["frames"][:2]  # 6 views beside 4-view objects
    (objs[0] / "opencv_cameras.json").write_text(json.dumps(cams))
    (objs[1] / "opencv_cameras.json").write_text(json.dumps({"frames": 5}))
    code, err = cli(capsys, "train", "--data", data, "--out", tmp_path / "r", "--max-steps", "3", *TRAIN,
                    "data.validate=none")  # the run-time path: broken objects skipped with a warning
    assert code == 0, err
    assert "Traceback" not in err


def test_validate_names_each_bad_object_and_train_refuses_before_the_first_step(capsys, tmp_path, dataset):
    import numpy as np
    from PIL import Image

    data = tmp_path / "bad"
    shutil.copytree(dataset, data)
    (data / "validated.json").unlink(missing_ok=True)  # the fixture's record of a clean check (see below)
    objs = sorted(p for p in data.iterdir() if p.is_dir())
    png = objs[0] / "rgba" / "002.png"
    png.write_bytes(png.read_bytes()[:200])  # a corrupt (truncated) PNG
    cams = json.loads((objs[1] / "opencv_cameras.json").read_text())
    cams["frames"][3]["w2c"] = np.diag([1.0, 1.0, 0.0, 1.0]).tolist()  # a singular camera
    (objs[1] / "opencv_cameras.json").write_text(json.dumps(cams))
    Image.new("RGBA", (16, 16)).save(objs[2] / "rgba" / "003.png")  # a view of the wrong size
    code, out = cli_out(capsys, "validate", data)
    assert code == 1
    lines = out.splitlines()
    assert "3 objects" in lines[0] and lines[0].endswith("3 bad")  # each object: its first problem
    assert "frame 2: rgba/002.png cannot be decoded" in lines[1]
    assert "frame 3: w2c must be a rigid transform" in lines[2]
    assert "frame 3: rgba/003.png is 16x16, the cameras say 32x32" in lines[3]
    code, err = cli(capsys, "train", "--data", data, "--out", tmp_path / "r", *TRAIN)
    line = error_line(err, "train")
    assert code == 2 and "fails validation" in line and "3 bad" in line and "rgba/003.png is 16x16" in line
    assert not (tmp_path / "r").exists()
    assert cli_out(capsys, "validate", dataset)[0] == 0


def test_a_check_split_into_parts_merges_into_the_whole_check(tmp_path, dataset):
    """What ranks started together do (each a part, then the reports merged): the same report."""
    from lrmzero.dataset_check import DatasetReport, check_dataset
    from lrmzero.shards import pack_dataset

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    objs = sorted(p for p in data.iterdir() if p.is_dir())
    (objs[1] / "rgba" / "001.png").write_bytes(b"not a png")
    with open(data / "manifest.jsonl", "a") as f:  # the manifest's problems: part 0's
        f.write(json.dumps({"object_id": "00000090", "status": "done"}) + "\n")
        f.write(json.dumps({"object_id": "00000091", "status": "failed"}) + "\n")
    shards = tmp_path / "shards"
    pack_dataset(data, shards, objects_per_shard=2)
    for root in (data, shards):
        whole = check_dataset(root)
        assert whole.objects == 3 and len(whole.problems) == (2 if root == data else 1)
        for n in (2, 3, 5):
            parts = [check_dataset(root, part=(k, n)) for k in range(n)]
            assert sum(part.objects for part in parts) == 3  # disjoint, and every object in one
            assert DatasetReport.merge(parts) == whole, (root, n)


def test_a_clean_check_is_recorded_and_trusted_until_an_object_changes(capsys, tmp_path, dataset, monkeypatch,
                                                                        caplog):
    import lrmzero.dataset_check as dataset_check
    import lrmzero.plugins.trainers.lightning.data.sources as training_data

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    (data / "validated.json").unlink(missing_ok=True)
    calls = []
    real = dataset_check.check_dataset
    monkeypatch.setattr(dataset_check, "check_dataset", lambda *a, **k: calls.append(k) or real(*a, **k))
    code, out = cli_out(capsys, "validate", data, "--headers-only", "--workers", "2")
    assert code == 0 and "recorded in" in out and calls[-1] == {"decode": False, "workers": 2, "progress": True,
                                                                "fingerprint": dataset_check.dataset_fingerprint(data)}
    record = json.loads((data / "validated.json").read_text())
    assert record["decode"] is False and record["objects"] == 3 and record["views"] == 12 and record["min_views"] == 4
    counted = []
    real_count = training_data.view_count
    monkeypatch.setattr(training_data, "view_count", lambda obj: counted.append(obj) or real_count(obj))
    run = ["train", "--data", data, "--max-steps", "1", *TRAIN]
    # headers only is not enough for the default full check: train decodes, then records that
    assert cli(capsys, *run, "--out", tmp_path / "r1")[0] == 0 and len(calls) == 2
    assert json.loads((data / "validated.json").read_text())["decode"] is True
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        counted.clear()
        assert cli(capsys, *run, "--out", tmp_path / "r2")[0] == 0 and len(calls) == 2  # trusted
    assert counted == []  # nor are the objects' cameras read again to count their views
    assert "not checked again: validated.json records a clean check of these 3 objects" in caplog.text
    assert cli_out(capsys, "validate", data, "--headers-only")[0] == 0  # does not weaken the record
    assert json.loads((data / "validated.json").read_text())["decode"] is True
    # an object written again (its meta.json) is checked again, and so is its broken view
    obj = sorted(p for p in data.iterdir() if p.is_dir())[1]
    (obj / "rgba" / "001.png").write_bytes(b"not a png")
    (obj / "meta.json").write_text((obj / "meta.json").read_text() + " ")
    code, err = cli(capsys, *run, "--out", tmp_path / "r3")
    assert code == 2 and "rgba/001.png cannot be decoded" in error_line(err, "train") and len(calls) == 4
    assert json.loads((data / "validated.json").read_text())["decode"] is True  # the old record, not rewritten
    code, err = cli(capsys, *run, "--out", tmp_path / "r3")
    assert code == 2 and len(calls) == 5  # and its fingerprint no longer matches


def test_an_interrupted_check_goes_on_where_it_stopped(capsys, tmp_path, dataset, monkeypatch, caplog):
    import lrmzero.dataset_check as dataset_check

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    (data / "validated.json").unlink(missing_ok=True)
    objs = sorted(p for p in data.iterdir() if p.is_dir())
    (objs[0] / "rgba" / "001.png").write_bytes(b"not a png")
    expected = dataset_check.check_dataset(data)
    monkeypatch.setattr(dataset_check, "CHUNK", 1)  # a journal entry per object
    checked = []
    real = dataset_check.check_object

    def interrupted_at_the_third(obj, *args, **kwargs):
        if len(checked) == 2:
            raise KeyboardInterrupt  # Ctrl-C, or the machine going away
        checked.append(obj.name)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(dataset_check, "check_object", interrupted_at_the_third)
    fingerprint = dataset_check.dataset_fingerprint(data)
    with pytest.raises(KeyboardInterrupt):
        dataset_check.check_and_record(data, fingerprint=fingerprint)
    journal = data / ".validate-journal.jsonl"
    assert checked == [objs[0].name, objs[1].name] and len(journal.read_text().splitlines()) == 3
    assert dataset_check.dataset_fingerprint(data) == fingerprint  # the journal is no object
    monkeypatch.setattr(dataset_check, "check_object",
                        lambda obj, *a, **k: checked.append(obj.name) or real(obj, *a, **k))
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        report, recorded = dataset_check.check_and_record(data, fingerprint=fingerprint)
    assert checked[2:] == [objs[2].name] and "2 of 3 objects were checked before" in caplog.text
    assert report == expected and recorded is None and not journal.exists()  # the bad object is still found
    # a torn last entry is checked again; so is all after a gap, and a chunk written twice counts once (two
    # checks of the same objects at once: a sweep of runs on a new dataset)
    header = json.dumps({"fingerprint": fingerprint, "decode": True, "part": [0, 1], "root": str(data)})
    chunk = json.dumps({"start": 0, "results": [[4, None]]})
    journal.write_text(f'{header}\n{chunk}\n{{"start": 1, "results": [[4, nu')
    checked.clear()
    assert dataset_check.check_and_record(data, fingerprint=fingerprint)[0].objects == 3 and len(checked) == 2
    journal.write_text(f'{header}\n{chunk}\n{chunk}\n{json.dumps({"start": 2, "results": [[4, None]]})}\n')
    checked.clear()
    assert dataset_check.check_and_record(data, fingerprint=fingerprint)[0].objects == 3 and len(checked) == 2
    journal.write_text(f'{header}\n{chunk}\n{json.dumps({"start": 1, "results": [[4, None]]})}\n{chunk}\n')
    checked.clear()
    assert dataset_check.check_and_record(data, fingerprint=fingerprint)[0].objects == 3 and len(checked) == 1
    (objs[0] / "rgba" / "001.png").write_bytes((objs[1] / "rgba" / "001.png").read_bytes())
    (objs[0] / "meta.json").write_text((objs[0] / "meta.json").read_text() + " ")
    journal.write_text(f'{header}\n{json.dumps({"start": 0, "results": [[4, "frame 1: stale"]]})}\n')
    checked.clear()
    code, out = cli_out(capsys, "validate", data, "--quiet")
    assert code == 0 and len(checked) == 3 and "stale" not in out and not journal.exists()


def test_a_dataset_that_cannot_be_written_keeps_its_record_in_the_cache(capsys, tmp_path, dataset, monkeypatch,
                                                                        caplog):
    import lrmzero.dataset_check as dataset_check

    monkeypatch.setenv("LRMZERO_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "read-only"
    shutil.copytree(dataset, data)
    (data / "validated.json").unlink(missing_ok=True)
    real_write = dataset_check.write_atomic

    def read_only(path, content):  # a read-only mount (the tests run as root, so chmod would not do)
        if Path(path).parent == data:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_write(path, content)

    monkeypatch.setattr(dataset_check, "write_atomic", read_only)
    code, out = cli_out(capsys, "validate", data, "--quiet")
    cached = list((tmp_path / "cache" / "validated").glob("*.json"))
    assert code == 0 and len(cached) == 1 and f"recorded in {cached[0]}" in out
    assert json.loads(cached[0].read_text())["dataset"] == str(data) and not (data / "validated.json").exists()
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        assert cli(capsys, "train", "--data", data, "--out", tmp_path / "r", "--max-steps", "1", *TRAIN)[0] == 0
    assert "not checked again" in caplog.text


def test_an_object_or_run_folder_given_as_data_is_named_as_such(capsys, tmp_path, dataset, checkpoint):
    obj = sorted(p for p in dataset.iterdir() if (p / "meta.json").is_file())[0]
    run = checkpoint.parent.parent
    for given, expect in ((obj, f"is one object's folder (its own opencv_cameras.json); allowed: the dataset that "
                                f"holds it, {str(dataset)!r}"),
                          (run, "is a training run's folder (checkpoints/); allowed: a dataset folder")):
        code, err = cli(capsys, "train", "--data", given, "--out", tmp_path / "r", *TRAIN)
        assert code == 2 and error_line(err, "train").endswith(f"--data: {str(given)!r} {expect}")
        code, err = cli(capsys, "eval", "--checkpoint", checkpoint, "--data", given)
        assert code == 2 and error_line(err, "eval").endswith(expect)
        code, out = cli_out(capsys, "validate", given, "--quiet")
        assert code == 1 and out.splitlines()[1] == f"(dataset): {expect}"


def test_validate_counts_objects_the_manifest_records_as_failed(capsys, tmp_path, dataset):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    with open(data / "manifest.jsonl", "a") as f:
        for oid, status in (("00000090", "failed"), ("00000091", "failed"), ("00000091", "done"), (7, "failed")):
            f.write(json.dumps({"object_id": oid, "status": status, "error": "ValueError: x"}) + "\n")
        f.write("[1, 2]\n")  # not a record: ignored
    shutil.copytree(data / sorted(p.name for p in data.iterdir() if p.is_dir())[0], data / "00000091")
    code, out = cli_out(capsys, "validate", data)
    # failed generations are no bad objects (nothing on disk); a retried one that succeeded is not failed
    assert code == 0 and out.splitlines()[0].endswith("0 bad; 1 failed to generate (manifest.jsonl: 00000090)"), out


def test_dataset_paths_stay_inside_the_object_folder(capsys, tmp_path, dataset, checkpoint, caplog):
    secret = tmp_path / "secret.png"
    shutil.copy(next(dataset.glob("*/rgba/000.png")), secret)
    data = tmp_path / "crafted"
    shutil.copytree(dataset, data)
    obj = sorted(p for p in data.iterdir() if p.is_dir())[0]
    cams = json.loads((obj / "opencv_cameras.json").read_text())
    cams["frames"][0]["file_path"] = str(secret)
    cams["frames"][1]["file_path"] = "../../secret.png"
    (obj / "opencv_cameras.json").write_text(json.dumps(cams))
    from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection

    ds = ObjectViews([obj], ViewSelection(2, 4, 32), holdout=True)
    assert ds[0] is None and "leads outside the object folder" in caplog.text
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", obj,
                    "--cameras", obj / "opencv_cameras.json", "--out", tmp_path / "rec")
    assert code == 2 and "leads outside the object folder" in error_line(err, "reconstruct")
    assert not (tmp_path / "rec").exists()


def test_non_square_views_are_refused_not_squashed(capsys, tmp_path, dataset, checkpoint):
    from PIL import Image

    obj = tmp_path / "obj"
    shutil.copytree(sorted(p for p in dataset.iterdir() if p.is_dir())[0], obj)
    cams = json.loads((obj / "opencv_cameras.json").read_text())
    for fr in cams["frames"]:
        fr["w"] = 48
        Image.open(obj / fr["file_path"]).resize((48, 32)).save(obj / fr["file_path"])
    (obj / "opencv_cameras.json").write_text(json.dumps(cams))
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", obj,
                    "--cameras", obj / "opencv_cameras.json", "--out", tmp_path / "rec")
    assert code == 2 and "48x32" in error_line(err, "reconstruct") and "square" in err


# --- eval and reconstruct: options, inputs and outputs -----------------------------------------

@pytest.mark.parametrize("args,expect", [
    (["--views-in", "0"], "--views-in: got 0"),
    (["--resolution", "0"], "--resolution: got 0"),
    (["--resolution", "30"], "--resolution: got 30"),
    (["--max-objects", "-1"], "--max-objects: got -1"),
    (["--views-in", "4"], "5 views"),  # 4-view objects leave no target view
    (["--lpips-weights", "/nonexistent/vgg.pth"], "--lpips-weights"),
    (["--vgg16-weights", "/nonexistent/vgg16.pth"], "--vgg16-weights"),
])
def test_eval_refuses_bad_options(capsys, tmp_path, dataset, checkpoint, args, expect):
    code, err = cli(capsys, "eval", "--checkpoint", checkpoint, "--data", dataset, "--json", tmp_path / "e.json", *args)
    assert code == 2 and expect in error_line(err, "eval")
    assert not (tmp_path / "e.json").exists()


def test_eval_checks_its_json_path_before_computing(capsys, tmp_path, dataset, checkpoint):
    (tmp_path / "dir.json").mkdir()
    code, err = cli(capsys, "eval", "--checkpoint", checkpoint, "--data", dataset, "--json", tmp_path / "dir.json")
    assert code == 2 and "is a folder" in error_line(err, "eval")
    code, err = cli(capsys, "eval", "--checkpoint", checkpoint, "--data", dataset, "--json", tmp_path / "e.json")
    assert code == 0 and json.loads((tmp_path / "e.json").read_text())["objects_evaluated"] == 3


@pytest.mark.parametrize("views", ["0", "-1"])
def test_reconstruct_refuses_turntable_views_before_writing(capsys, tmp_path, dataset, checkpoint, views):
    obj = sorted(p for p in dataset.iterdir() if p.is_dir())[0]
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", obj,
                    "--cameras", obj / "opencv_cameras.json", "--out", tmp_path / "rec", "--turntable-views", views)
    assert code == 2 and f"--turntable-views: got {views}" in error_line(err, "reconstruct")
    assert not (tmp_path / "rec").exists()


def test_reconstruct_bad_cameras_and_images(capsys, tmp_path, dataset, checkpoint):
    obj = tmp_path / "obj"
    shutil.copytree(sorted(p for p in dataset.iterdir() if p.is_dir())[0], obj)
    (tmp_path / "frames5.json").write_text(json.dumps({"frames": 5}))
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", obj,
                    "--cameras", tmp_path / "frames5.json", "--out", tmp_path / "rec")
    assert code == 2 and "frames" in error_line(err, "reconstruct")
    png = obj / "rgba" / "001.png"
    png.write_bytes(png.read_bytes()[:80])
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", obj,
                    "--cameras", obj / "opencv_cameras.json", "--out", tmp_path / "rec")
    assert code == 2 and "001.png" in error_line(err, "reconstruct")
    (tmp_path / "file").write_text("x")
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", dataset / "00000000",
                    "--cameras", dataset / "00000000" / "opencv_cameras.json", "--out", tmp_path / "file")
    assert code == 2 and "is a file" in error_line(err, "reconstruct")
    assert not (tmp_path / "rec").exists()


def test_reconstruct_bad_camera_rigs(capsys, tmp_path, dataset, checkpoint):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(sorted(p for p in dataset.iterdir() if p.is_dir())[0] / "rgba" / "000.png", images / "0.png")
    for spec, said in [("orbit:radius=-1", "--cameras orbit.radius: got -1"),
                       ("orbit:nope=1", "--cameras orbit.nope: unknown key"),
                       ("orbit:radius=far", "--cameras orbit.radius: got 'far'; allowed: a number > 0.0"),
                       ("orbit:radius", "--cameras orbit: 'radius': expected key=value"),
                       ("orbit:elevations_deg=[20", "--cameras orbit: 'elevations_deg=[20': while parsing"),
                       ("orbit:elevations_deg={a: 1}", "--cameras orbit.elevations_deg: got {'a': 1}; allowed: a list"),
                       ("nosuch:radius=1", "neither a file nor a camera sampler; allowed: a cameras file"),
                       (str(tmp_path / "missing.json"), "neither a file nor a camera sampler")]:
        code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", images,
                        "--cameras", spec, "--out", tmp_path / "rec")
        assert code == 2 and said in error_line(err, "reconstruct"), (spec, err)
    (images / "0.png").unlink()
    code, err = cli(capsys, "reconstruct", "--checkpoint", checkpoint, "--images", images,
                    "--cameras", "orbit", "--out", tmp_path / "rec")
    assert code == 2 and "--images: no image" in error_line(err, "reconstruct")
    assert not (tmp_path / "rec").exists()


# --- gallery ------------------------------------------------------------------------------------

def test_gallery_escapes_folder_names(capsys, tmp_path, dataset):
    data = tmp_path / "d"
    shutil.copytree(dataset, data)
    evil = "<img src=x onerror=alert(1)>"
    (data / "00000000").rename(data / evil)
    assert cli(capsys, "gallery", data, "--out", tmp_path / "g")[0] == 0
    page = (tmp_path / "g" / "index.html").read_text()
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


# --- Ctrl-C ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_with_workers_prints_no_worker_tracebacks(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrmzero.cli", "generate", "--out", str(out), "--num-objects", "40", "--seed", "0",
         "--workers", "2", *DEMO], stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_manifest(out)) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    done = [r for r in read_manifest(out) if r["status"] == "done"]
    assert done and all((out / r["object_id"] / "meta.json").is_file() for r in done)


def live_processes(session: int) -> list[str]:
    """The processes of a session that still run (exited ones the container's init has not reaped
    yet show as zombies: they hold nothing)."""
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-s", str(session)], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if line.split()[1][0] != "Z"]


@pytest.mark.slow
def test_sigterm_or_kill_to_generate_leaves_no_worker_running(tmp_path):
    """A scheduler's SIGTERM to the main process stops the run as Ctrl-C does (queue cancelled,
    running objects finished, workers ended, exit 143); a kill -9 takes the workers with it. Before,
    both left the workers waiting on the queue for ever."""
    for stop, code in ((signal.SIGTERM, 143), (signal.SIGKILL, -signal.SIGKILL)):
        out = tmp_path / stop.name
        proc = subprocess.Popen(
            [sys.executable, "-m", "lrmzero.cli", "generate", "--out", str(out), "--num-objects", "400", "--seed", "0",
             "--workers", "2", *DEMO], stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and len(read_manifest(out)) < 2:
                time.sleep(0.1)
            proc.send_signal(stop)  # the main process only
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == code, err
            if stop == signal.SIGTERM:
                assert "Traceback" not in err and "finished objects are kept" in err, err
            deadline = time.time() + 10
            while time.time() < deadline and live_processes(proc.pid):
                time.sleep(0.2)
            assert live_processes(proc.pid) == []
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        done = [r for r in read_manifest(out) if r["status"] == "done"]
        assert done and all((out / r["object_id"] / "meta.json").is_file() for r in done)
        assert not any(r["status"] == "failed" for r in read_manifest(out))


def test_sigterm_is_an_orderly_stop_with_its_own_exit_code(capsys, monkeypatch):
    import lrmzero.cli

    monkeypatch.setattr(lrmzero.cli, "cmd_plugins", lambda args: os.kill(os.getpid(), signal.SIGTERM) or time.sleep(5))
    before = signal.getsignal(signal.SIGTERM)
    code, err = cli(capsys, "plugins")
    assert code == 143 and err.strip() == ("lrmzero plugins: terminated (SIGTERM); finished work is kept, run the "
                                           "same command to resume")
    assert signal.getsignal(signal.SIGTERM) == before  # put back when the command ends


def test_ctrl_c_wrapped_by_python_is_still_one_line(capsys, monkeypatch):
    """Ctrl-C inside a class body at import time arrives as the cause of a RuntimeError."""
    import lrmzero.cli

    def interrupted_import(args):
        class Field:
            def __set_name__(self, owner, name):
                raise KeyboardInterrupt

        type("Metadata", (), {"field": Field()})

    monkeypatch.setattr(lrmzero.cli, "cmd_plugins", interrupted_import)
    code, err = cli(capsys, "plugins")
    assert code == 130 and err.strip().startswith("lrmzero plugins: interrupted") and len(err.splitlines()) == 1


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.5, 1.0])
def test_ctrl_c_during_start_up_is_one_line(tmp_path, delay):
    proc = subprocess.Popen([sys.executable, "-m", "lrmzero.cli", "plugins"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "failed to load" not in err and "terminate called" not in err, err
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(capsys, tmp_path, dataset, monkeypatch):
    import lrmzero.dataset

    run = tmp_path / "run"
    assert cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "2", *TRAIN)[0] == 0
    before = (run / "checkpoints" / "last.ckpt").read_bytes()
    fail_writes_with_enospc(monkeypatch, lrmzero.dataset, after_bytes=1000)
    code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "4", "--resume", *TRAIN)
    assert code == 2 and "No space left on device" in error_line(err, "train")
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == before
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    monkeypatch.undo()
    code, err = cli(capsys, "train", "--data", dataset, "--out", run, "--max-steps", "4", "--resume", *TRAIN)
    assert code == 0, err
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4


def test_a_lock_where_the_system_cannot_lock_warns_and_runs(tmp_path, monkeypatch, caplog):
    """No POSIX locks (Windows: no fcntl) or a file system that refuses them: the job runs, with a warning."""
    import builtins

    from lrmzero.locks import hold_lock

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "fcntl" else real_import(name, *a, **k))
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        with hold_lock(tmp_path / ".lock", RuntimeError, "not locked") as held:
            assert held is False
    assert "not locked (no POSIX file locks on this system)" in caplog.text
    monkeypatch.setattr(builtins, "__import__", real_import)
    import fcntl

    def refuse(fd, flags):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "lockf", refuse)
    with caplog.at_level(logging.WARNING, logger="lrmzero"), hold_lock(tmp_path / ".lock", RuntimeError, "nfs") as held:
        assert held is False
    assert "nfs (" in caplog.text and "cannot be locked on this file system: No locks available" in caplog.text

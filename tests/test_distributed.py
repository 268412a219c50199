"""Training on several processes (Lightning's DDP over gloo, on the CPU): a guard decision taken
on one rank is taken by all (no hang), ranks read disjoint parts of the data stream, and a run
interrupted and resumed equals an uninterrupted one, skipped steps included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import small_dataset

HELPER = Path(__file__).with_name("ddp_train.py")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("ddp_data"), 8, 2, "render.views=4", "render.resolution=32")


def train(data, out, devices, max_steps, *extra) -> dict:
    """Run the helper; a hang fails here (the time limit), not in CI's overall timeout."""
    return train_and_log(data, out, devices, max_steps, *extra)[0]


def train_and_log(data, out, devices, max_steps, *extra) -> tuple[dict, str]:
    """:func:`train`'s checkpoint, and what all ranks wrote to stderr."""
    proc = subprocess.Popen([sys.executable, str(HELPER), str(data), str(out), str(devices), str(max_steps), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # every rank: the launcher starts them in its session
        proc.communicate()
        pytest.fail(f"training on {devices} process(es) hung (no end after 120 s)")
    assert proc.returncode == 0, err[-3000:]
    return torch.load(Path(out) / "checkpoints" / "last.ckpt", weights_only=True), err


def batches(out: Path, rank: int) -> dict[int, list[str]]:
    lines = (out / f"batches-rank{rank}.jsonl").read_text().splitlines()
    return {r["batch"]: r["ids"] for r in map(json.loads, lines)}


@pytest.mark.parametrize("devices", [1, 2])
def test_resume_with_skips_equals_uninterrupted(data, tmp_path, devices):
    last_rank = devices - 1
    # NaN losses on the last rank only, at global batches 2 and 5 (one before and one after the stop)
    nan = ["--nan", f"{last_rank}:2", "--nan", f"{last_rank}:5"]
    full, err = train_and_log(data, tmp_path / "full", devices, 6, *nan)
    # each process says nothing twice, and a run without progress hides Lightning's info lines
    assert err.count("perceptual loss is off") == 1 and "Initializing distributed" not in err, err
    assert "all_gather is deprecated" not in err
    assert full["global_step"] == 6
    state = full["state_dict"]
    assert int(state["skipped_nonfinite"]) == 2 and int(state["batches_seen"]) == 8

    train(data, tmp_path / "half", devices, 6, "--stop", "3", *nan)
    resumed = train(data, tmp_path / "half", devices, 6, "--resume", *nan)
    assert resumed["global_step"] == 6
    for key in state:
        torch.testing.assert_close(resumed["state_dict"][key], state[key], atol=1e-6, rtol=1e-5, msg=key)

    # every rank drew every batch (the skipped ones too); within a global batch, ranks hold other
    # objects; 8 objects and 8 draws of the first epoch (4 batches x 2 ranks, or 8 x 1): no repeats
    drawn = [batches(tmp_path / "full", r) for r in range(devices)]
    assert all(sorted(d) == list(range(1, 9)) for d in drawn)
    first_epoch = [i for b in range(1, 8 // devices + 1) for d in drawn for i in d[b]]
    assert len(first_epoch) == 8 and len(set(first_epoch)) == 8
    # the resumed run continued the stream where the interrupted one stopped
    half = [batches(tmp_path / "half", r) for r in range(devices)]
    assert all(half[r] == drawn[r] for r in range(devices))


def test_the_device_guard_skips_on_every_rank(data, tmp_path):
    """optim.guard_on_device on 2 ranks: a NaN loss on rank 1 only poisons the all-reduced gradients, so
    both ranks skip the step on the device (nobody waits: every rank ran its backward pass); skipped steps
    count as steps, and rank zero names each. (The stream's position and resume do not depend on the guard:
    test_resume_with_skips_equals_uninterrupted.)"""
    on_device = ["--nan", "1:2", "--nan", "1:5", "--set", "optim.guard_on_device=true"]
    full, err = train_and_log(data, tmp_path / "full", 2, 6, *on_device)
    assert full["global_step"] == 6
    state = full["state_dict"]
    assert int(state["skipped_nonfinite"]) == 2 and int(state["batches_seen"]) == 6
    assert err.count("step 1 skipped: non-finite loss or gradients") == 1 and err.count("step 4 skipped") == 1


def two_ranks(launcher, data, out, *extra) -> subprocess.CompletedProcess:
    """``lrmzero train`` on 2 CPU processes that torchrun starts together (as on a cluster), or that
    Lightning starts (``launcher="lightning"``: rank 0 starts rank 1 when fit begins)."""
    start = ["--standalone", "--nproc-per-node", "2", "-m"] if launcher == "torchrun" else []
    cmd = [sys.executable, "-m", *(["torch.distributed.run"] if launcher == "torchrun" else []), *start,
           "lrmzero.cli", "train", "--preset", "tiny", "--data", str(data), "--out", str(out), "--max-steps",
           "1", "--quiet", "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu", "data.resolution=16",
           "data.input_views=2", "data.target_views=2", "data.batch_size=1", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out_text, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"two ranks ({launcher}) hung (no end after 120 s)")
    return subprocess.CompletedProcess(cmd, proc.returncode, out_text, err)


@pytest.mark.parametrize("launcher", ["torchrun", "lightning"])
def test_the_ranks_of_a_run_check_the_data_together(data, tmp_path, launcher):
    import shutil

    def torchrun(*args):
        return two_ranks(launcher, *args)

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    (copy / "validated.json").unlink(missing_ok=True)
    # a broken view in the share of rank 1 (objects 1, 3, 5, 7): both ranks refuse it, nobody waits
    (copy / "00000003" / "rgba" / "001.png").write_bytes(b"not a png")
    # and an object with one view, fewer than a step needs: counted by the shared check, not before fit
    cams = json.loads((copy / "00000005" / "opencv_cameras.json").read_text())
    cams["frames"] = cams["frames"][:1]
    (copy / "00000005" / "opencv_cameras.json").write_text(json.dumps(cams))
    res = torchrun(copy, tmp_path / "r1")
    refused = [line for line in res.stderr.splitlines() if line.startswith("lrmzero train: error:")]
    assert res.returncode != 0 and len(refused) == 1, res.stderr[-3000:]  # every rank refuses, rank 0 says why
    assert all("8 objects" in line and "00000003: frame 1: rgba/001.png cannot be decoded" in line for line in refused)
    assert "the 2 ranks check it together, each 1/2 of the objects" in res.stderr
    assert not (copy / "validated.json").exists() and not (tmp_path / "r1" / "checkpoints").exists()
    # repaired: the ranks' shared check passes, rank 0 records it, and the next launch trusts the record
    shutil.copy(data / "00000003" / "rgba" / "001.png", copy / "00000003" / "rgba" / "001.png")
    res = torchrun(copy, tmp_path / "r2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stderr.count("--data {}: 1 objects have fewer than 2 views and are left out".format(copy)) == 1
    assert "(or unreadable cameras)" not in res.stderr  # no rank counted views before fit
    record = json.loads((copy / "validated.json").read_text())
    assert record["objects"] == 8 and record["views"] == 29 and record["min_views"] == 1 and record["decode"]
    if launcher == "lightning":
        return  # the record is trusted alike however the ranks were started: checked once, with torchrun
    res = torchrun(copy, tmp_path / "r3")
    assert res.returncode == 0 and "not checked again: validated.json records a clean check of these 8 objects" \
        in res.stderr and "check it together" not in res.stderr, res.stderr[-3000:]
    assert "1 of 8 objects have fewer than 2 views" in res.stderr  # the record's fewest views: counted before fit


def cli_train(data, out, *extra) -> list[str]:
    return [sys.executable, "-m", "lrmzero.cli", "train", "--preset", "tiny", "--data", str(data), "--out", str(out),
            "--quiet", "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu", "data.resolution=16",
            "data.input_views=2", "data.target_views=2", "data.batch_size=1", "optim.accumulate=2",
            "optim.warmup_steps=1", "trainer.log_every=1", "trainer.checkpoint_every=1000", *extra]


def test_sigterm_to_one_rank_stops_all_after_a_whole_step_saved_and_resumable(data, tmp_path):
    """A cluster's preemption: SIGTERM to rank 0 only, mid-run, with 2 batches per optimizer step. Both
    ranks stop after the same finished step, last.ckpt holds it, the exit code says SIGTERM (143), and
    the resumed run ends where an uninterrupted one does."""
    steps = 30
    full = subprocess.run(cli_train(data, tmp_path / "full", "--max-steps", str(steps)), capture_output=True,
                          text=True, timeout=120)
    assert full.returncode == 0, full.stderr[-3000:]
    run = tmp_path / "stopped"
    proc = subprocess.Popen(cli_train(data, run, "--max-steps", str(steps)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        log = run / "logs" / "metrics.csv"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not log.is_file() or len(log.read_text().splitlines()) < 4):
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # rank 0 (Lightning's launcher started rank 1 as its child)
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("a SIGTERM to rank 0 hung the run")
    assert proc.returncode == 143, err[-3000:]
    assert "SIGTERM: stopping after this optimizer step" in err
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    step = stopped["global_step"]
    assert 3 <= step < steps and f"stopped at step {step} of {steps} on SIGTERM" in err
    # a whole step: both ranks drew 2 batches per step, none lost half-way
    assert int(stopped["state_dict"]["batches_seen"]) == 2 * step
    resumed = subprocess.run(cli_train(data, run, "--max-steps", str(steps), "--auto-resume"), capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    end = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    expected = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=True)
    assert end["global_step"] == steps
    for key, value in expected["state_dict"].items():
        torch.testing.assert_close(end["state_dict"][key], value, atol=1e-6, rtol=1e-5, msg=key)


def test_objects_the_shared_check_finds_with_too_few_views_leave_the_right_root_only(tmp_path):
    import numpy as np

    from lrmzero.plugins.trainers.lightning.data.datamodule import split_held_out, without_too_few_views
    from lrmzero.shards import ShardObject

    a, b = tmp_path / "a", tmp_path / "b"
    objects = [a / "00000000", a / "00000001", b / "00000000", b / "00000001",
               ShardObject(f"{tmp_path}/s/shard-000000.tar", "00000001", {})]
    weights = np.array([0.25, 0.25, 0.125, 0.125, 0.25])
    kept, kept_weights = without_too_few_views(objects, weights, {str(b) + "/": {"00000001"},
                                                                  str(tmp_path / "s"): {"00000001"}}, 4, False)
    assert kept == objects[:3] and kept_weights.tolist() == [0.25, 0.25, 0.125]  # a's 00000001 stays
    (train_objects, train_weights), held_out = split_held_out(kept, kept_weights, 1)
    assert train_objects == objects[:2] and held_out == [objects[2]] and train_weights.tolist() == [0.25, 0.25]
    with pytest.raises(Exception, match="no object has the 4 views"):
        without_too_few_views(objects[:2], None, {str(a): {"00000000", "00000001"}}, 4, False)


def test_planned_processes_reads_the_trainer_settings_as_lightning_does():
    from lrmzero.plugins.trainers.lightning.data.startup_check import planned_processes

    assert planned_processes("cpu", 2, 1) == 2 and planned_processes("cpu", "3", 2) == 6
    assert planned_processes("auto", "auto", 1) == (torch.cuda.device_count() or 1)
    assert planned_processes("cpu", "auto", 4) == 4  # one process per machine
    assert planned_processes("cpu", -5, 1) == 1  # Lightning refuses it when the run starts; no guess here

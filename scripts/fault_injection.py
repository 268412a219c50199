"""Fault injection: kill -9 `lrmzero generate` and `lrmzero train` at random moments, resume them,
and compare the results with an uninterrupted run. Prints "generate: N/N identical" and
"train: N/N identical".

Usage: python scripts/fault_injection.py [--trials 20] [--only generate|train] [--signal KILL|TERM]
                                        [--workdir DIR]

A kill is SIGKILL to the command's whole process group (its worker processes die with it), as a
crash or an out-of-memory kill would do; `--signal TERM` sends SIGTERM to the group instead, as a
scheduler preempting the job does (the commands stop in order: train after a saved step). After each
kill the same command runs again (train with `--auto-resume`) until it finishes; then
- generate: every object's files (meta.json without its timings) and the manifest's finished set
  must equal the clean run's;
- train: every tensor of the final checkpoint's weights and optimizer state, and the
  (step, loss) rows of logs/metrics.csv, must equal the clean run's bit for bit.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GENERATE = ["--num-objects", "12", "--seed", "3", "--workers", "2", "--config", "demo", "render.views=4",
            "render.resolution=32", "--quiet"]
TRAIN_STEPS = 12
TRAIN = ["--preset", "tiny", "--max-steps", str(TRAIN_STEPS), "--quiet", "data.input_views=2", "data.target_views=4",
         "trainer.checkpoint_every=2", "trainer.log_every=1", "trainer.image_every=1000"]


def lrmzero(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lrmzero.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(*args: str) -> float:
    """Run to completion; returns the seconds it took. Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = lrmzero(*args)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"lrmzero {' '.join(args)} failed ({proc.returncode}):\n{err}")
    return time.perf_counter() - t0


STOP = signal.SIGKILL  # --signal: what a kill sends to the command's process group


def kill_after(seconds: float, *args: str) -> bool:
    """Start the command and kill its process group after ``seconds``; False if it ended first."""
    proc = lrmzero(*args)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, STOP)
        proc.wait()
        return True


def kill_when(condition, timeout: float, *args: str) -> bool:
    """Start the command and kill its process group once ``condition()`` holds; False if the
    command ended first."""
    proc = lrmzero(*args)
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if condition():
            os.killpg(proc.pid, STOP)
            proc.wait()
            return True
        time.sleep(0.05)
    proc.wait()
    return False


def logged_steps(run: Path) -> int:
    try:
        return max(0, len((run / "logs" / "metrics.csv").read_text().splitlines()) - 1)
    except OSError:
        return 0


def dataset_digest(root: Path) -> dict[str, str]:
    out = {}
    for obj in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        h = hashlib.sha256()
        for f in sorted(p for p in obj.rglob("*") if p.is_file()):
            data = f.read_bytes()
            if f.name == "meta.json":
                meta = json.loads(data)
                meta.pop("timings", None)
                data = json.dumps(meta, sort_keys=True).encode()
            h.update(str(f.relative_to(obj)).encode() + data)
        out[obj.name] = h.hexdigest()
    done = sorted({json.loads(line)["object_id"] for line in (root / "manifest.jsonl").read_text().splitlines()
                   if line.strip().endswith("}") and json.loads(line).get("status") == "done"})
    out["manifest"] = ",".join(done)
    return out


def checkpoint_tensors(path: Path) -> dict[str, "object"]:
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    flat = {f"state_dict.{k}": v for k, v in ckpt["state_dict"].items()}
    for i, state in ckpt["optimizer_states"][0]["state"].items():
        for k, v in state.items():
            flat[f"optim.{i}.{k}"] = v
    flat["global_step"] = ckpt["global_step"]
    return flat


def metric_rows(run: Path) -> list[tuple[str, str]]:
    with open(run / "logs" / "metrics.csv") as f:
        return [(r["step"], r["loss"]) for r in csv.DictReader(f)]


def same_checkpoint(a: Path, b: Path) -> tuple[bool, str]:
    import torch

    ta, tb = checkpoint_tensors(a), checkpoint_tensors(b)
    if ta.keys() != tb.keys():
        return False, "different keys"
    for k in ta:
        x, y = ta[k], tb[k]
        if isinstance(x, torch.Tensor):
            if not torch.equal(x, y):
                return False, f"{k}: max |diff| {float((x.float() - y.float()).abs().max()):.3g}"
        elif x != y:
            return False, f"{k}: {x} != {y}"
    return True, ""


def trial_generate(work: Path, clean_seconds: float, rng: np.random.Generator, reference: dict) -> tuple[bool, str]:
    out = work / "gen"
    shutil.rmtree(out, ignore_errors=True)
    kills = 0
    for attempt in range(6):  # one to three kills in one trial, each at a random moment
        if kill_after(float(rng.uniform(0.3, 0.9 * clean_seconds)), "generate", "--out", str(out), *GENERATE):
            kills += 1
            if kills == 3:
                break
        elif kills:
            break
        else:  # finished before the kill: start the trial again
            shutil.rmtree(out, ignore_errors=True)
    finish("generate", "--out", str(out), *GENERATE)
    digest = dataset_digest(out)
    bad = [k for k in reference if digest.get(k) != reference[k]]
    return not bad, f"{kills} kill(s)" + (f"; differs: {bad[:3]}" if bad else "")


def trial_train(work: Path, data: Path, clean: Path, clean_seconds: float,
                rng: np.random.Generator) -> tuple[bool, str]:
    """Kill once or twice mid-training, each time after a random number of logged steps (so kills
    fall before, on and between checkpoints), then resume to the end."""
    run = work / "train"
    shutil.rmtree(run, ignore_errors=True)
    kills, at = 0, []
    for _ in range(2):
        if logged_steps(run) + 1 >= TRAIN_STEPS:
            break
        target = int(rng.integers(logged_steps(run) + 1, TRAIN_STEPS))
        if kill_when(lambda: logged_steps(run) >= target, 120, "train", "--data", str(data), "--out", str(run),
                     *TRAIN, "--auto-resume"):
            kills += 1
            at.append(logged_steps(run))
        else:
            break
    finish("train", "--data", str(data), "--out", str(run), *TRAIN, "--auto-resume")
    same, why = same_checkpoint(clean / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt")
    if same and metric_rows(run) != metric_rows(clean):
        same, why = False, "metrics.csv rows differ"
    return same, f"{kills} kill(s) after logged steps {at}" + (f"; {why}" if why else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--only", choices=["generate", "train"], default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--signal", choices=["KILL", "TERM"], default="KILL",
                    help="what a kill sends to the process group: SIGKILL (a crash) or SIGTERM (a preemption)")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temp folder, removed)")
    args = ap.parse_args()
    global STOP
    STOP = signal.Signals[f"SIG{args.signal}"]
    rng = np.random.default_rng(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lrmzero-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    lines = []
    try:
        if args.only in (None, "generate"):
            clean_s = finish("generate", "--out", str(work / "gen-clean"), *GENERATE)
            reference = dataset_digest(work / "gen-clean")
            ok = 0
            for t in range(args.trials):
                same, note = trial_generate(work, clean_s, rng, reference)
                ok += same
                print(f"generate trial {t + 1:2d}: {'identical' if same else 'DIFFERENT'} ({note})", flush=True)
            lines.append(f"generate: {ok}/{args.trials} identical (clean run {clean_s:.1f} s)")
        if args.only in (None, "train"):
            data = work / "gen-clean"
            if not data.is_dir():
                finish("generate", "--out", str(data), *GENERATE)
            clean = work / "train-clean"
            clean_s = finish("train", "--data", str(data), "--out", str(clean), *TRAIN)
            ok = 0
            for t in range(args.trials):
                same, note = trial_train(work, data, clean, clean_s, rng)
                ok += same
                print(f"train trial {t + 1:2d}: {'identical' if same else 'DIFFERENT'} ({note})", flush=True)
            lines.append(f"train: {ok}/{args.trials} identical (clean run {clean_s:.1f} s)")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

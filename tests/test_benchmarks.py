"""The benchmark scripts the GPU check runs, run here on the tiny preset: a script that fails wastes a
GPU lease (device time is scarce). Their figures are not asserted (speed is not a unit test)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def run_benchmark(*args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("model", ["gs_lrm", "triplane_lrm"])
def test_train_benchmark_reports_any_model_plugin(model, tmp_path):
    out = run_benchmark("train.py", "--steps", "1", "--profile", str(tmp_path / "profile.txt"), f"model.name={model}")
    assert f"model: {model} (" in out and "steps/s:" in out and "per step (synchronized" in out
    assert "CPU time per step" in out and (tmp_path / "profile.txt").read_text().strip()
    assert ("rasterizer: TorchRasterizer" in out) == (model == "gs_lrm")


def test_train_host_benchmark_reports_the_host_share_and_where_a_step_waits_for_the_device():
    """With optim.guard_on_device (the paper presets') a training step without a log row never makes the host
    wait for the GPU: any wait (a value read, linalg.inv's singularity check, boolean-mask indexing) idles the
    GPU while the host catches up. On this CPU the torch rasterizer's count (the GPU step uses gsplat, which
    waits once for its own) is listed too; nothing else may be (the host guard's one read would be, in
    _optimizer_step)."""
    out = run_benchmark("train_host.py", "--steps", "22", "optim.guard_on_device=true")
    assert "steps 22, per step from step 20 on" in out and "garbage collections from step 20 on:" in out
    assert "waits for the device in step 21 that would be on a GPU" in out
    sites = [line.split(" at ", 1)[1] for line in out.splitlines() if line.startswith("  ") and " x " in line]
    assert sites and all(s.startswith("plugins/models/gaussians/torch_rasterizer.py:") for s in sites), out


def test_render_benchmark_reports_seconds_per_object():
    """gpu_check.sh reads its ' s/object' lines (one worker, gl)."""
    out = run_benchmark("render.py", "--objects", "1", "--renderers", "gl", "--resolutions", "32")
    assert " s/object" in out

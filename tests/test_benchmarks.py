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


def test_cuda_waits_are_counted_by_call_site_and_other_warnings_pass(monkeypatch):
    """train_host.py's CudaWaits on a GPU machine, here with CUDA's sync debug mode stood in for: its
    warnings are counted (not shown), any other warning is shown as before, and the mode is reset."""
    import importlib.util
    import warnings

    import torch

    spec = importlib.util.spec_from_file_location("train_host", BENCHMARKS / "train_host.py")
    train_host = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_host)
    modes = []
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with train_host.CudaWaits() as waits:
            for _ in range(3):
                warnings.warn("called a synchronizing CUDA operation", UserWarning)
            warnings.warn("something else", UserWarning)
    assert modes == ["warn", "default"]
    assert list(waits.sites.values()) == [3] and list(waits.sites)[0][0] == "cuda sync"
    assert [str(w.message) for w in shown] == ["something else"]

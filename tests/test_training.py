"""Plucker rays, training (over-fit, stability guards, exact resume, broken objects), eval, reconstruct."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lrmzero import get_registries
from lrmzero.cameras import read_opencv_cameras
from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate, to_model_batch
from lrmzero.plugins.trainers.lightning.data.sources import find_objects
from lrmzero.plugins.models.gaussians.ply import read_gaussians_ply
from lrmzero.rays import plucker_rays
from lrmzero.plugins.trainers.lightning.config import load_train_config
from tests.conftest import run_cli, small_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("train_data"), 3, 4, "render.resolution=64")


def tiny(overrides=()):
    cfg, _ = load_train_config("tiny", None, ["trainer.checkpoint_every=1000", "trainer.image_every=1000", *overrides],
                               get_registries())
    return cfg


def test_plucker_rays_match_independent_computation(dataset):
    folder = find_objects(dataset)[0]
    cams, _ = read_opencv_cameras(folder / "opencv_cameras.json")
    H = W = cams.width
    rays = plucker_rays(torch.tensor(cams.c2w), torch.tensor(cams.K), H, W).numpy()
    for v in (0, 3):
        for (row, col) in [(0, 0), (10, 41), (H - 1, W - 1)]:
            d_cam = np.linalg.solve(cams.K[v], [col + 0.5, row + 0.5, 1.0])
            d = cams.c2w[v, :3, :3] @ d_cam
            d /= np.linalg.norm(d)
            o = cams.c2w[v, :3, 3]
            np.testing.assert_allclose(rays[v, 3:, row, col], d, atol=1e-6)
            np.testing.assert_allclose(rays[v, :3, row, col], np.cross(o, d), atol=1e-6)
    # the ray through a projected vertex passes through that vertex
    import trimesh

    verts = np.asarray(trimesh.load(folder / "mesh.glb", force="mesh").vertices)[::97]
    uv, _ = cams.project(verts)
    for v in range(2):
        c2w = torch.tensor(cams.c2w[v:v + 1])
        for p, (u, vv) in zip(verts, uv[v]):
            # a one-pixel camera whose pixel centre is exactly the projection
            K = torch.tensor(cams.K[v:v + 1]).clone()
            K[0, 0, 2] -= u - 0.5
            K[0, 1, 2] -= vv - 0.5
            ray = plucker_rays(c2w, K, 1, 1)[0, :, 0, 0].numpy()
            m, d = ray[:3], ray[3:]
            np.testing.assert_allclose(np.cross(p, d), m, atol=1e-6)  # p lies on the line (m = p x d)


@pytest.mark.slow
def test_tiny_model_overfits_one_object(dataset, tmp_path):
    from lrmzero.plugins.trainers.lightning.train import train

    one = tmp_path / "one"
    one.mkdir()
    shutil.copytree(find_objects(dataset)[0], one / "obj")
    shutil.copy(dataset / "run.json", one / "run.json")
    # two input views halve the tokens: 250 steps reach ~24.5 dB in ~35 s on a 2-core CPU (smaller
    # starting Gaussians than the preset's rasterize faster; over-fitting one object does not need them)
    cfg = tiny(["data.batch_size=1", "data.fixed_views=true", "data.input_views=2", "data.target_views=4",
                "optim.lr=2e-3", "optim.warmup_steps=20", "model.scale_bias=4.5"])
    last = train([str(one)], tmp_path / "run", cfg, max_steps=250, progress=False)
    from lrmzero.plugins.trainers.lightning.checkpoints import load_checkpoint
    from lrmzero.plugins.trainers.lightning.metrics import psnr

    model, net, hp = load_checkpoint(last, get_registries())
    ds = ObjectViews(find_objects(one), ViewSelection(2, 4, 32, (1.0, 1.0, 1.0), fixed=True))
    batch = to_model_batch(collate([ds[0]]), torch.ones(3))
    with torch.no_grad():
        pred = model.render(net(batch), batch["target_w2c"], batch["target_K"], 32, torch.ones(3))["rgb"]
    assert float(psnr(pred.clamp(0, 1), batch["target_images"]).mean()) > 23.0


def make_module_and_batch(dataset, overrides=()):
    import pytorch_lightning as pl

    from dataclasses import asdict

    from lrmzero.plugins.trainers.lightning.checkpoints import build_model
    from lrmzero.plugins.trainers.lightning.data.datamodule import ViewsDataModule
    from lrmzero.plugins.trainers.lightning.module import ReconstructionModule

    cfg = tiny(overrides)
    model = build_model(asdict(cfg)["model"], get_registries())
    module = ReconstructionModule(asdict(cfg), model, model.build_network())
    data = ViewsDataModule([str(dataset)], cfg)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    return module, data, trainer


def test_mask_term_is_the_opacity_error_against_the_views_alpha(dataset):
    module, _, _ = make_module_and_batch(dataset, ["loss.mask_weight=0.5"])
    obj = find_objects(dataset)[0]
    item = ObjectViews([obj], ViewSelection(4, 6, 32, (1.0, 1.0, 1.0)), seed=0)[(0, 0)]
    batch = to_model_batch(collate([item]), torch.ones(3))
    torch.manual_seed(0)
    with torch.no_grad():
        loss, logs, pred = module.compute_loss(batch)
        out = module.model.render(module.net(batch), batch["target_w2c"], batch["target_K"], 32, torch.ones(3))
    alpha = item["views"][item["target_index"], 3:4].float() / 255  # the loader's uint8 alpha
    mask = torch.mean((out["alpha"][0] - alpha) ** 2)
    mse = torch.mean((out["rgb"] - batch["target_images"]) ** 2)
    torch.testing.assert_close(logs["mask"], mask)
    torch.testing.assert_close(loss, mse + 0.5 * mask)
    assert float(mask) > 1e-3  # an untrained model's opacity is far from the silhouettes


def test_depth_maps_are_read_in_object_units_and_box_averaged_over_non_empty_pixels(dataset):
    from lrmzero.plugins.trainers.lightning.data.views import read_depths

    obj = find_objects(dataset)[0]
    scale = json.loads((obj / "meta.json").read_text())["render"]["depth"]["scale"]
    raw = np.asarray(Image.open(obj / "depth" / "002.png"), np.float64) * scale  # [64, 64], 0 = empty
    np.testing.assert_allclose(read_depths(obj, [(2, "rgba/002.png")], 64)[0, 0], raw, rtol=1e-6)
    blocks, valid = raw.reshape(32, 2, 32, 2), raw.reshape(32, 2, 32, 2) > 0
    coverage = valid.mean(axis=(1, 3))
    expected = np.where(coverage > 0.5, blocks.sum(axis=(1, 3)) / np.maximum(valid.sum(axis=(1, 3)), 1), 0.0)
    np.testing.assert_allclose(read_depths(obj, [(2, "rgba/002.png")], 32)[0, 0], expected, rtol=1e-5, atol=1e-6)
    cams, _ = read_opencv_cameras(obj / "opencv_cameras.json")
    distance = np.linalg.norm(cams.centers[2])  # objects fit in a 1.8 box at the origin
    assert np.all(np.abs(raw[raw > 0] - distance) < 1.6)


def test_depth_term_is_the_opacity_weighted_l1_against_the_depth_maps(dataset):
    module, _, _ = make_module_and_batch(dataset, ["loss.depth_weight=0.2"])
    obj = find_objects(dataset)[0]
    item = ObjectViews([obj], ViewSelection(4, 6, 32, (1.0, 1.0, 1.0), depth=True), seed=0)[(0, 0)]
    assert item["target_depth"].shape == (6, 1, 32, 32)
    batch = to_model_batch(collate([item]), torch.ones(3))
    with torch.no_grad():
        loss, logs, _ = module.compute_loss(batch)
        out = module.model.render(module.net(batch), batch["target_w2c"], batch["target_K"], 32, torch.ones(3))
    truth = item["target_depth"]
    weight = (truth > 0).float() * out["alpha"][0]
    depth = ((out["depth"][0] - truth).abs() * weight).sum() / weight.sum()
    torch.testing.assert_close(logs["depth"], depth)
    torch.testing.assert_close(loss, torch.mean((out["rgb"] - batch["target_images"]) ** 2) + 0.2 * depth)
    assert float(depth) > 0.01


@pytest.mark.parametrize("loss_checked", ["with the norm", "before the backward"])
@pytest.mark.parametrize("fault", ["nan_loss", "spike"])
def test_stability_guards_skip_and_count(dataset, fault, loss_checked, caplog):
    # optim.max_steps=1 with batches of 2: the data stream holds 2 x 1 x 2 objects = 2 batches
    module, data, trainer = make_module_and_batch(dataset, ["optim.max_steps=1"])
    if loss_checked == "before the backward":  # as under DDP or with optim.accumulate > 1
        module._one_batch_per_step_on_one_process = lambda: False
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    real = module.compute_loss

    def faulty(batch):
        loss, logs, pred = real(batch)
        if fault == "nan_loss":
            return loss * float("nan"), logs, pred
        return loss * 1e9, logs, pred  # gradient norm far above clip x factor

    module.compute_loss = faulty
    trainer.fit(module, datamodule=data)
    assert module.loss_read_with_norm == (loss_checked == "with the norm")
    after = module.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a skipped step changed the weights"
    counter = module.skipped_nonfinite if fault == "nan_loss" else module.skipped_spike
    assert int(counter) == 2  # both batches of the stream skipped
    assert module.global_step == 0
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    reason = "non-finite loss" if fault == "nan_loss" else "gradient norm"
    assert len(said) == 2 and all(f"step 0 skipped: {reason}" in m for m in said), said


@pytest.mark.parametrize("fault", ["nan_loss", "spike"])
def test_the_device_guard_skips_counts_and_warns_a_step_late(dataset, fault, caplog):
    """optim.guard_on_device: the same skips, weights untouched, the same counters; a skipped step counts as
    a step, and each is warned about by its step's number (read by the next step, or at the end)."""
    module, data, trainer = make_module_and_batch(dataset, ["optim.max_steps=1", "optim.guard_on_device=true"])
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    real = module.compute_loss
    calls = []

    def faulty(batch):
        calls.append(1)
        loss, logs, pred = real(batch)
        if len(calls) == 2:  # the second of the stream's two batches (2 x max_steps x batch 2 objects)
            return loss * (float("nan") if fault == "nan_loss" else 1e9), logs, pred
        return loss, logs, pred

    module.compute_loss = faulty
    trainer.fit(module, datamodule=data)
    assert module.global_step == 2 and len(calls) == 2
    after = module.net.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the first step was taken
    counter = module.skipped_nonfinite if fault == "nan_loss" else module.skipped_spike
    other = module.skipped_spike if fault == "nan_loss" else module.skipped_nonfinite
    assert (int(counter), int(other)) == (1, 0)
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    reason = "non-finite loss or gradients" if fault == "nan_loss" else "gradient norm"
    assert len(said) == 1 and f"step 1 skipped: {reason}" in said[0], said
    assert module.pending is None


def test_a_step_the_device_guard_skips_leaves_weights_and_optimizer_state_untouched(dataset):
    module, data, trainer = make_module_and_batch(dataset, ["optim.max_steps=1", "optim.guard_on_device=true"])
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    real = module.compute_loss
    module.compute_loss = lambda batch: (lambda l, g, p: (l * 1e9, g, p))(*real(batch))
    trainer.fit(module, datamodule=data)
    assert all(torch.equal(before[k], v) for k, v in module.net.state_dict().items())
    state = trainer.optimizers[0].state
    assert state and all(float(s["step"]) == 0 and not s["exp_avg"].any() for s in state.values())
    assert int(module.skipped_spike) == 2 and module.global_step == 2  # both batches of the stream


def test_non_finite_gradient_entries_are_zeroed_and_the_step_taken(dataset):
    """A NaN in one gradient (finite loss): the entry becomes 0, the step is taken, and the logged
    grad_norm is the norm after zeroing (the guard took it again), finite."""
    import pytorch_lightning as pl

    module, data, _ = make_module_and_batch(dataset, ["optim.max_steps=1", "optim.grad_clip=1e6"])
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", log_every_n_steps=1)  # logs every step
    first = next(module.net.parameters())
    before = first.detach().clone()

    def poison(grad):
        grad = grad.clone()
        grad.view(-1)[0] = float("nan")
        return grad

    first.register_hook(poison)
    trainer.fit(module, datamodule=data)
    assert module.global_step == 2 and int(module.skipped_nonfinite) == 0  # both batches of the stream
    assert torch.isfinite(first).all() and not torch.equal(first.detach(), before)
    logged = trainer.callback_metrics["grad_norm"]
    assert torch.isfinite(logged) and float(logged) > 0


@pytest.mark.parametrize("guard", ["host", "device"])
def test_a_run_that_only_skips_stops_with_an_error(dataset, guard):
    module, data, trainer = make_module_and_batch(dataset, ["optim.max_consecutive_skips=3",
                                                            f"optim.guard_on_device={guard == 'device'}"])
    real = module.compute_loss
    module.compute_loss = lambda batch: (lambda l, g, p: (l * float("inf"), g, p))(*real(batch))
    trainer = type(trainer)(max_steps=8, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu")
    from lrmzero.plugins.trainers.lightning.module import TrainingStopped

    with pytest.raises(TrainingStopped, match="3 steps in a row were skipped"):
        trainer.fit(module, datamodule=data)
    # the host guard's skips are no steps; the device guard's are, and it learns of each one step late
    assert module.global_step == (0 if guard == "host" else 4)


@pytest.mark.parametrize("guard", ["host", "device"])
def test_resume_equals_uninterrupted(dataset, tmp_path, guard):
    from lrmzero.plugins.trainers.lightning.train import train

    # 3 objects, batch 1: an epoch is 3 steps; resume at an epoch boundary
    base = ["data.batch_size=1", "optim.warmup_steps=2", f"optim.guard_on_device={guard == 'device'}"]
    full = train([str(dataset)], tmp_path / "full", tiny([*base, "optim.max_steps=6"]), progress=False)
    half = tmp_path / "half"
    train([str(dataset)], half, tiny([*base, "optim.max_steps=6"]), stop_after_steps=3, progress=False)
    resumed = train([str(dataset)], half, tiny([*base, "optim.max_steps=6"]), resume=True, progress=False)
    a = torch.load(full, weights_only=False)["state_dict"]
    b = torch.load(resumed, weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    assert torch.load(resumed, weights_only=False)["global_step"] == 6


def test_compiled_training_matches_eager_and_saves_the_same_checkpoint(dataset, tmp_path, monkeypatch):
    """trainer.compile=true (block by block) trains the same weights as eager within float tolerance
    and writes checkpoints with the same parameter names, which load into an eager network. Compiled
    with AOTAutograd's eager backend: the same capture of forward and backward as inductor's, without
    its ~40 s of C++ code generation on this machine (the GPU check trains with inductor)."""
    import torch._dynamo

    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork
    from lrmzero.plugins.trainers.lightning.checkpoints import load_checkpoint
    from lrmzero.plugins.trainers.lightning.train import train

    compile_blocks = GSLRMNetwork.compile
    monkeypatch.setattr(GSLRMNetwork, "compile", lambda net, **kw: compile_blocks(net, backend="aot_eager", **kw))

    base = ["data.batch_size=1", "optim.warmup_steps=1", "optim.max_steps=3"]
    eager = train([str(dataset)], tmp_path / "eager", tiny(base), progress=False)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train([str(dataset)], tmp_path / "compiled", tiny([*base, "trainer.compile=true"]), progress=False)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it did compile
    torch._dynamo.reset()
    a = torch.load(eager, weights_only=False)["state_dict"]
    b = torch.load(compiled, weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and not any("_orig_mod" in k for k in b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-4, rtol=1e-3)
    _, net, _ = load_checkpoint(compiled, get_registries())
    assert not hasattr(net.blocks[0], "_compiled_call_impl") or net.blocks[0]._compiled_call_impl is None


def test_broken_objects_are_skipped_with_a_warning(dataset, tmp_path, caplog):
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    objs = find_objects(broken)
    (objs[0] / "rgba" / "003.png").unlink()  # a missing view
    for p in (objs[1] / "rgba").glob("*.png"):
        p.write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # corrupt PNGs
    cams = json.loads((objs[2] / "opencv_cameras.json").read_text())
    cams["frames"][2]["w"] = 999  # inconsistent cameras
    (objs[2] / "opencv_cameras.json").write_text(json.dumps(cams))
    ds = ObjectViews(objs, ViewSelection(4, 8, 32))
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        items = [ds[i] for i in range(3)]
    assert items == [None, None, None]
    text = caplog.text
    assert objs[0].name in text and "missing view rgba/003.png" in text
    assert objs[1].name in text
    assert objs[2].name in text and "frame 2" in text
    assert collate(items) is None
    # training goes on over a mix of good and broken objects
    shutil.copytree(find_objects(dataset)[0], broken / "good")
    from lrmzero.plugins.trainers.lightning.train import train

    # data.validate=none: the run-time path (a validated start would refuse this dataset, as tested elsewhere)
    last = train([str(broken)], tmp_path / "run", tiny(["data.batch_size=2", "data.validate=none"]), max_steps=2,
                 progress=False)
    assert last.is_file()


def test_eval_json_and_reconstruct(dataset, tmp_path):
    from lrmzero.plugins.trainers.lightning.train import train

    last = train([str(dataset)], tmp_path / "run", tiny(), max_steps=2, progress=False)
    assert last == tmp_path / "run" / "checkpoints" / "last.ckpt"
    out_json = tmp_path / "eval.json"
    report = tmp_path / "report"
    res = run_cli("eval", "--checkpoint", str(last), "--data", str(dataset), "--json", str(out_json),
                  "--report", str(report))
    assert res.returncode == 0, res.stderr
    assert "nearest input view" in res.stdout
    import csv

    from PIL import Image

    per_view = list(csv.DictReader(open(report / "per_view.csv")))
    assert len(per_view) == 3 * 4 and {r["view"] for r in per_view} == {"1", "3", "5", "7"}  # inputs 0, 2, 4, 6
    by_object = {}
    for r in per_view:
        by_object.setdefault(r["object_id"], []).append(float(r["psnr"]))
    # one image per object: 4 inputs on top, then truth | prediction | error for each of 4 targets
    for oid in by_object:
        with Image.open(report / f"{oid}.png") as im:
            assert im.size == (4 * 34, 5 * 34)
    with Image.open(report / "summary.png") as im:  # the numbers, then 3 objects x (inputs + 2 targets)
        assert im.height > 3 * 3 * 3 * 34 and im.width >= 4 * 34 * 3
    result = json.loads(out_json.read_text())
    assert result["mean"]["lpips"] is None
    for key in ("psnr", "ssim"):
        assert np.isfinite(result["mean"][key])
    assert np.isfinite(result["baselines"]["nearest_view"]["psnr"])
    assert np.isfinite(result["baselines"]["mean_color"]["psnr"])
    assert len(result["objects"]) == 3 and result["objects"][0]["views"] == 4  # 8 views, 4 inputs
    for row in result["objects"]:  # the per-view rows average to the object's figure
        assert abs(np.mean(by_object[row["object_id"]]) - row["psnr"]) < 1e-4
    # loader processes decoding ahead change nothing but the time
    res = run_cli("eval", "--checkpoint", str(last), "--data", str(dataset), "--json", str(tmp_path / "w2.json"),
                  "--workers", "2")
    assert res.returncode == 0 and json.loads((tmp_path / "w2.json").read_text())["objects"] == result["objects"]
    obj = find_objects(dataset)[1]
    out = tmp_path / "rec"
    res = run_cli("reconstruct", "--checkpoint", str(last), "--images", str(obj), "--cameras",
                  str(obj / "opencv_cameras.json"), "--out", str(out), "--turntable-views", "6")
    assert res.returncode == 0, res.stderr
    ply = read_gaussians_ply(out / "gaussians.ply")
    assert len(ply["x"]) == 8 * 32 * 32  # one Gaussian per input pixel
    assert {"f_dc_0", "opacity", "scale_0", "rot_3"} <= set(ply)
    assert np.all(np.abs(ply["x"]) <= 1.0)
    assert (out / "gaussians.splat").stat().st_size == 32 * len(ply["x"])  # the web viewers' layout
    assert (out / "turntable.png").is_file() and (out / "turntable.gif").is_file()
    # inputs as the model saw them and the rendered predictions, posed, for `lrmzero view OUT`
    seen, seen_paths = read_opencv_cameras(out / "inputs" / "opencv_cameras.json")
    given, _ = read_opencv_cameras(obj / "opencv_cameras.json")
    assert np.allclose(seen.c2w, given.c2w) and seen.width == 32 and len(seen_paths) == 8
    assert np.asarray(Image.open(out / "inputs" / seen_paths[0])).shape == (32, 32, 3)
    spun, spun_paths = read_opencv_cameras(out / "turntable" / "opencv_cameras.json")
    assert len(spun) == 6 and all((out / "turntable" / p).is_file() for p in spun_paths)
    from lrmzero.plugins.tools.view_scene import folder_scene

    scene = folder_scene(out)
    assert len(scene.splats["gaussians"].centers) == 8 * 32 * 32 and len(scene.frusta) == 8 + 6


def test_inference_device_names_what_the_machine_has(monkeypatch):
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.checkpoints import inference_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert inference_device("auto") == torch.device("cpu") == inference_device("cpu")
    for bad in ("cuda", "cuda:1", "tpu", "gpu0"):
        with pytest.raises(ConfigError, match=f"--device: got '{bad}'; allowed: auto, cpu \\(no CUDA device here\\)"):
            inference_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert inference_device("auto") == torch.device("cuda") and inference_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match="got 'cuda:2'; allowed: auto, cpu, cuda, cuda:0 .. cuda:1"):
        inference_device("cuda:2")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_eval_and_reconstruct_on_the_gpu_match_the_cpu(dataset, tmp_path):
    from lrmzero.plugins.trainers.lightning.evaluate import evaluate
    from lrmzero.plugins.trainers.lightning.reconstruct import reconstruct

    last = train_tiny(dataset, tmp_path / "run")
    on = {d: evaluate(str(last), str(dataset), device=d) for d in ("cpu", "cuda")}
    for a, b in zip(on["cpu"]["objects"], on["cuda"]["objects"]):
        assert abs(a["psnr"] - b["psnr"]) < 0.05 and abs(a["ssim"] - b["ssim"]) < 2e-3  # gsplat vs torch, fp32
    obj = find_objects(dataset)[1]
    plys = {}
    for d in ("cpu", "cuda"):
        reconstruct(str(last), str(obj), str(obj / "opencv_cameras.json"), str(tmp_path / d), 4, device=d)
        plys[d] = read_gaussians_ply(tmp_path / d / "gaussians.ply")
    for key in ("x", "opacity", "f_dc_0"):
        np.testing.assert_allclose(plys["cuda"][key], plys["cpu"][key], atol=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("guard", ["host", "device"])
def test_training_logs_host_values_on_the_gpu(dataset, guard):
    """On a GPU every value the trainer logs is already on the host: Lightning would read a device
    tensor (its progress bar, each step) after the optimizer step was queued, waiting for it, and the
    device would sit idle while the host prepares the next step. With either guard (optim.guard_on_device:
    fused AdamW's found_inf and grad_scale on CUDA, the numbers read through pinned memory)."""
    import pytorch_lightning as pl

    module, data, _ = make_module_and_batch(dataset, ["optim.max_steps=3",
                                                      f"optim.guard_on_device={guard == 'device'}"])
    logged, log_dict = [], module.log_dict

    def spy(values, *args, **kwargs):
        logged.extend((key, value.device.type) for key, value in values.items() if torch.is_tensor(value))
        return log_dict(values, *args, **kwargs)

    module.log_dict = spy
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="gpu", devices=1,
                         log_every_n_steps=1)  # values are logged on the steps Lightning writes only
    trainer.fit(module, datamodule=data)
    assert {"loss", "psnr", "grad_norm", "lr", "steps_per_s"} <= {key for key, _ in logged}
    assert all(device == "cpu" for _, device in logged), logged


def train_tiny(dataset: Path, out: Path) -> Path:
    from lrmzero.plugins.trainers.lightning.train import train

    return train([str(dataset)], out, tiny(["trainer.accelerator=cpu"]), max_steps=2, progress=False)


def test_reconstruct_warns_when_the_inputs_keep_a_photo_background(dataset, caplog):
    from lrmzero.plugins.trainers.lightning.data.views import composited_over, load_view, render_section
    from lrmzero.plugins.trainers.lightning.reconstruct import warn_if_not_over_background

    rng = np.random.default_rng(0)
    for obj in find_objects(dataset):
        under = composited_over(render_section(obj))
        files = sorted((obj / "rgba").glob("*.png"))
        views = torch.from_numpy(np.stack([load_view(f, 32, [1, 1, 1], under) for f in files]))
        assert not warn_if_not_over_background(views, [1.0, 1.0, 1.0])  # generated objects over white
        alpha = torch.from_numpy(np.stack([load_view(f, 32, [0, 0, 0]) for f in files]))  # how much is object
        coverage = (views - alpha).mean(dim=1, keepdim=True).clamp(0, 1)  # 1 - alpha, from white minus black
        photo = views - coverage + coverage * (0.45 + 0.05 * torch.from_numpy(rng.normal(size=views.shape)).float())
        with caplog.at_level(logging.WARNING, logger="lrmzero"):
            assert warn_if_not_over_background(photo, [1.0, 1.0, 1.0])
    assert f"{len(files)} of {len(files)} views are framed by something other than the background" in caplog.text


def test_data_patterns_expand_to_the_folders_they_match(dataset, tmp_path):
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.data.sources import expand_data_roots, mixed_objects

    for k in (1, 0, 10):  # machine k of a --shard k/N run, each into its own folder
        (tmp_path / f"zv-{k}").symlink_to(dataset, target_is_directory=True)
    (tmp_path / "zv-notes.txt").write_text("not a folder")
    pattern = str(tmp_path / "zv-*")
    roots = expand_data_roots([pattern, "procedural:objects=3", str(dataset)])
    assert roots == [str(tmp_path / f"zv-{k}") for k in ("0", "1", "10")] + ["procedural:objects=3", str(dataset)]
    objects, weights = mixed_objects(expand_data_roots([pattern]), [1.0, 1.0, 2.0])
    assert len(objects) == 3 * len(find_objects(dataset)) and weights[-1] == 2 * weights[0]
    with pytest.raises(ConfigError, match="'.*zv-x\\*' matches no folder"):
        expand_data_roots([str(tmp_path / "zv-x*")])


def test_reconstruct_poses_plain_images_with_a_camera_rig(dataset, tmp_path):
    """`--cameras orbit:...` poses every image of --images in name order: the cameras written are
    the rig's (checked against the orbit's geometry), and the result equals reconstructing the same
    images from a cameras file holding those cameras."""
    from lrmzero.cameras import write_opencv_cameras
    from lrmzero.plugins.trainers.lightning.reconstruct import reconstruct
    from lrmzero.plugins.trainers.lightning.train import train

    last = train([str(dataset)], tmp_path / "run", tiny(), max_steps=2, progress=False)
    obj = find_objects(dataset)[0]
    images = tmp_path / "images"
    images.mkdir()
    for i, name in enumerate(["b_front.png", "c_left.png", "d_back.png", "e_right.png"]):
        shutil.copy(obj / "rgba" / f"{2 * i:03d}.png", images / name)
    (images / "a_notes.txt").write_text("not an image: ignored")
    reconstruct(str(last), str(images), "orbit:elevations_deg=[20],radius=2.2", str(tmp_path / "rig"),
                turntable_views=4)
    cams, names = read_opencv_cameras(tmp_path / "rig" / "inputs" / "opencv_cameras.json")
    az, el = np.radians([0.0, 90.0, 180.0, 270.0]), np.radians(20.0)
    centres = 2.2 * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.full(4, np.sin(el))], -1)
    np.testing.assert_allclose(cams.c2w[:, :3, 3], centres, atol=1e-6)
    forward = cams.c2w[:, :3, 2]  # OpenCV: +z looks from the camera at the object (the origin)
    np.testing.assert_allclose(forward, -centres / 2.2, atol=1e-6)
    assert len(names) == 4
    write_opencv_cameras(images / "cameras.json", cams, ["b_front.png", "c_left.png", "d_back.png", "e_right.png"])
    reconstruct(str(last), str(images), str(images / "cameras.json"), str(tmp_path / "file"), turntable_views=4)
    assert (tmp_path / "rig" / "gaussians.ply").read_bytes() == (tmp_path / "file" / "gaussians.ply").read_bytes()


def test_train_cli_bad_input(tmp_path):
    res = run_cli("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "--data" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "optim.lr=-1")
    assert res.returncode == 2 and "optim.lr" in res.stderr


def test_ssim_matches_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    from lrmzero.plugins.trainers.lightning.metrics import ssim

    rng = np.random.default_rng(0)
    a = rng.random((3, 40, 48))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    ours = float(ssim(torch.tensor(a), torch.tensor(b)))
    ref = skm.structural_similarity(a, b, channel_axis=0, data_range=1.0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False)
    # scikit-image averages over the full image with reflected borders; we use the valid region
    assert abs(ours - ref) < 0.01


def test_perceptual_loss_from_a_local_vgg_file(tmp_path, caplog):
    from lrmzero.plugins.trainers.lightning.perceptual import PerceptualLoss
    from lrmzero.plugins.trainers.lightning.vgg import vgg_features

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg_features("vgg19").state_dict().items()}
    torch.save(state, tmp_path / "vgg19.pth")
    loss = PerceptualLoss(str(tmp_path / "vgg19.pth"))
    a = torch.rand(2, 3, 32, 32)
    assert float(loss(a, a)) == 0.0
    assert float(loss(a, torch.rand(2, 3, 32, 32))) > 0.0
    assert not any(p.requires_grad for p in loss.parameters())
    # the training module switches the term on with a file and says so without one
    from dataclasses import asdict

    from lrmzero.plugins.trainers.lightning.checkpoints import build_model
    from lrmzero.plugins.trainers.lightning.module import ReconstructionModule

    def module(cfg):
        model = build_model(asdict(cfg)["model"], get_registries())
        return ReconstructionModule(asdict(cfg), model, model.build_network())

    with_file = module(tiny([f"loss.vgg_weights={tmp_path / 'vgg19.pth'}"]))
    assert with_file.perceptual is not None
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        without = module(tiny())
    assert without.perceptual is None and "perceptual loss is off" in caplog.text
    from lrmzero.errors import ConfigError

    with pytest.raises(ConfigError, match=r"loss.vgg_weights: .* not a torchvision VGG19 state dict \(missing 31 of 32"):
        torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
        PerceptualLoss(str(tmp_path / "bad.pth"))


def test_perceptual_loss_and_its_gradient_match_a_plain_vgg_reference(tmp_path):
    """L1 between VGG-19 features at relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 (weights 1/2.6, 1/4.8,
    1/3.7, 1/5.6, 10/1.5) of ImageNet-normalized images, against a plain NCHW computation of the same
    layers written out here with torch.nn.functional."""
    import torch.nn.functional as F

    from lrmzero.plugins.trainers.lightning.perceptual import PerceptualLoss
    from lrmzero.plugins.trainers.lightning.vgg import CONFIGS, vgg_features

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg_features("vgg19").state_dict().items()}
    torch.save(state, tmp_path / "vgg19.pth")
    loss = PerceptualLoss(str(tmp_path / "vgg19.pth")).double()
    pred = torch.rand(2, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 32, 32, dtype=torch.float64)

    def reference(a, b):
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=a.dtype)[:, None, None]
        std = torch.tensor([0.229, 0.224, 0.225], dtype=a.dtype)[:, None, None]
        a, b, total, index = (a - mean) / std, (b - mean) / std, 0.0, 0
        taps = {3: 1 / 2.6, 8: 1 / 4.8, 17: 1 / 3.7, 26: 1 / 5.6, 35: 10 / 1.5}
        for v in CONFIGS["vgg19"]:
            if v == "M":
                a, b, index = F.max_pool2d(a, 2), F.max_pool2d(b, 2), index + 1
                continue
            w, bias = state[f"features.{index}.weight"].double(), state[f"features.{index}.bias"].double()
            a, b = F.relu(F.conv2d(a, w, bias, padding=1)), F.relu(F.conv2d(b, w, bias, padding=1))
            if index + 1 in taps:
                total = total + taps[index + 1] * (a - b).abs().mean()
            index += 2
            if index > 35:
                break
        return total

    got = loss(pred, target)
    (grad,) = torch.autograd.grad(got, pred)
    want = reference(pred, target)
    (want_grad,) = torch.autograd.grad(want, pred)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(grad, want_grad)


def lpips_files(tmp_path, trunk_keys=None, heads_keys=None):
    """A VGG-16 trunk in torchvision's format (with its classifier, as the real file has) and
    lpips-format linear heads, random but non-negative like the trained ones."""
    from lrmzero.plugins.trainers.lightning.lpips_vgg import LinearHeads
    from lrmzero.plugins.trainers.lightning.vgg import vgg_features

    torch.manual_seed(1)
    trunk = {f"features.{k}": v for k, v in vgg_features("vgg16").state_dict().items()}
    trunk["classifier.0.weight"] = torch.zeros(4, 4)
    heads = {k: v.abs() for k, v in LinearHeads().state_dict().items()}
    trunk = {k: v for k, v in trunk.items() if trunk_keys is None or trunk_keys(k)}
    heads = {k: v for k, v in heads.items() if heads_keys is None or heads_keys(k)}
    torch.save(trunk, tmp_path / "vgg16.pth")
    torch.save(heads, tmp_path / "lpips_vgg.pth")
    return tmp_path / "lpips_vgg.pth", tmp_path / "vgg16.pth", trunk, heads


def lpips_reference(x, y, trunk, heads):
    """The LPIPS formula written out with functional ops, independently of the module: VGG-16's 13
    convolutions by torchvision index, taps after relu1_2 .. relu5_3."""
    import torch.nn.functional as F

    shift = torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None]
    scale = torch.tensor([0.458, 0.448, 0.450])[None, :, None, None]
    convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    pool_after = {2, 7, 14, 21}
    taps = {2: 0, 7: 1, 14: 2, 21: 3, 28: 4}  # conv index whose ReLU output is a tap
    feats = []
    for img in (x, y):
        h = (img * 2 - 1 - shift) / scale
        out = []
        for i in convs:
            h = F.relu(F.conv2d(h, trunk[f"features.{i}.weight"], trunk[f"features.{i}.bias"], padding=1))
            if i in taps:
                out.append(h / (torch.sqrt((h * h).sum(1, keepdim=True)) + 1e-10))
            if i in pool_after:
                h = F.max_pool2d(h, 2)
        feats.append(out)
    return sum(F.conv2d((a - b) ** 2, heads[f"lin{l}.model.1.weight"]).mean((1, 2, 3))
               for l, (a, b) in enumerate(zip(*feats)))


def test_lpips_loads_every_parameter_and_matches_the_formula(tmp_path):
    from lrmzero.plugins.trainers.lightning.metrics import LPIPS

    heads_path, trunk_path, trunk, heads = lpips_files(tmp_path)
    lp = LPIPS(str(heads_path), str(trunk_path))
    assert lp.available
    loaded = {**{f"features.{k}": v for k, v in lp.model.features.state_dict().items()},
              **lp.model.heads.state_dict()}
    expected = {**{k: v for k, v in trunk.items() if k.startswith("features.")}, **heads}
    assert loaded.keys() == expected.keys()  # every parameter of the trunk and the heads, nothing else
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    x, y = torch.rand(2, 2, 3, 32, 32), torch.rand(2, 2, 3, 32, 32)
    got = lp(x, y)
    assert got.shape == (2, 2)
    torch.testing.assert_close(got.flatten(), lpips_reference(x.flatten(0, 1), y.flatten(0, 1), trunk, heads),
                               atol=1e-6, rtol=1e-5)
    assert float(lp(x, x).abs().max()) == 0.0


@pytest.mark.parametrize("broken,expect", [
    ("trunk", "--vgg16-weights: .*missing 2 of 26 keys: features.28.weight, features.28.bias"),
    ("heads", "--lpips-weights: .*missing 1 of 5 keys: lin4.model.1.weight"),
    ("vgg19", "--vgg16-weights: .*wrong shapes: features.19.weight"),
])
def test_lpips_partial_or_wrong_file_names_what_is_missing(tmp_path, broken, expect):
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.metrics import LPIPS
    from lrmzero.plugins.trainers.lightning.vgg import vgg_features

    heads_path, trunk_path, _, _ = lpips_files(
        tmp_path, trunk_keys=(lambda k: not k.startswith("features.28.")) if broken == "trunk" else None,
        heads_keys=(lambda k: not k.startswith("lin4")) if broken == "heads" else None)
    if broken == "vgg19":  # the perceptual loss's VGG-19 file given as LPIPS's VGG-16 trunk
        torch.save({f"features.{k}": v for k, v in vgg_features("vgg19").state_dict().items()}, trunk_path)
    with pytest.raises(ConfigError, match=expect):
        LPIPS(str(heads_path), str(trunk_path))


def test_lpips_without_a_trunk_is_null_and_says_why(tmp_path, caplog):
    from lrmzero.plugins.trainers.lightning.metrics import LPIPS

    heads_path, _, _, _ = lpips_files(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        lp = LPIPS(str(heads_path), None)
        assert not lp.available and caplog.text == ""  # said at the first metric, after every check
        for _ in range(2):
            assert lp(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)) is None
    assert "--vgg16-weights" in caplog.text and "--lpips-weights" not in caplog.text.split("needs")[1]
    assert caplog.text.count("LPIPS is reported as null") == 1


def test_accumulating_two_batches_of_one_equals_one_batch_of_two(dataset, tmp_path):
    """optim.accumulate=2 with batches of 1 sees the same objects per step as batches of 2 (the
    stream is laid out by position) and averages the same per-object losses: same weights."""
    from lrmzero.plugins.trainers.lightning.train import train

    common = ["optim.warmup_steps=1", "optim.max_steps=3", "data.input_views=2", "data.target_views=2",
              "data.resolution=16"]
    two = train([str(dataset)], tmp_path / "b2", tiny([*common, "data.batch_size=2"]), progress=False)
    acc = train([str(dataset)], tmp_path / "acc", tiny([*common, "data.batch_size=1", "optim.accumulate=2"]),
                progress=False)
    a = torch.load(two, weights_only=True)
    b = torch.load(acc, weights_only=True)
    assert a["global_step"] == b["global_step"] == 3
    assert int(a["state_dict"]["batches_seen"]) == 3 and int(b["state_dict"]["batches_seen"]) == 6
    moved = 0
    for key, value in a["state_dict"].items():
        if key.startswith("net."):
            # summation order differs between a batch of 2 and two of 1, by CPU (1 weight of 24,576 moved 2.9e-6
            # on an AVX-512 EPYC); 1e-5 is still 100x below the 1e-3 that one object per step moves them
            torch.testing.assert_close(b["state_dict"][key], value, atol=1e-5, rtol=1e-4,
                                       msg=lambda message, key=key: f"{key}: {message}")
            moved += 1
    assert moved > 10
    # and it is not the same as taking one object per step: the comparison can fail
    one = torch.load(train([str(dataset)], tmp_path / "b1", tiny([*common, "data.batch_size=1"]), progress=False),
                     weights_only=True)["state_dict"]
    assert max(float((one[k] - a["state_dict"][k]).abs().max()) for k in one if k.startswith("net.")) > 1e-3


def test_validation_on_held_out_objects_during_training(dataset, tmp_path, caplog):
    import csv

    from lrmzero.plugins.trainers.lightning.data.datamodule import training_objects
    from lrmzero.plugins.trainers.lightning.train import train

    cfg = tiny(["data.batch_size=1", "data.input_views=2", "data.target_views=2", "data.resolution=16",
                "optim.warmup_steps=1", "data.val_objects=1", "trainer.val_every=2", "trainer.log_every=1"])
    (train_objects, _), held_out = training_objects([str(dataset)], cfg)
    assert len(held_out) == 1 and held_out[0] not in train_objects and len(train_objects) == 2
    with caplog.at_level(logging.INFO):
        train([str(dataset)], tmp_path / "run", cfg, max_steps=4, progress=False)
    # without progress (--quiet) Lightning's start-up lines stay out too, and validating all of the held-out
    # objects is not announced as a setting
    assert "GPU available" not in caplog.text and "limit_val_batches" not in caplog.text
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv")))
    val = [(int(r["step"]), float(r["val_psnr"]), float(r["val_ssim"])) for r in rows if r.get("val_psnr")]
    assert [v[0] for v in val] == [1, 3]  # after steps 2 and 4 (Lightning logs the step index)
    assert all(5 < p < 60 and -1 <= s <= 1 for _, p, s in val)
    # throughput from the second step on, every step (rows of the steps, not of the validations); one
    # object per step; no MFU on a CPU (no peak to divide by)
    rates = [(int(r["step"]), float(r["steps_per_s"]), float(r["objects_per_s"])) for r in rows if r.get("steps_per_s")]
    assert [r[0] for r in rates] == [1, 2, 3] and all(r[1] > 0 and r[2] == pytest.approx(r[1]) for r in rates)
    assert len({r[1] for r in rates}) == 3  # each step its own value, none repeated from the step before
    assert not any(r.get("mfu") for r in rows)


def test_step_values_are_logged_only_on_the_steps_lightning_writes(dataset, tmp_path, monkeypatch):
    """Logging costs the host Lightning's bookkeeping per value: with trainer.log_every=3 the module
    logs on every third step only, and each row of metrics.csv holds that step's own values; the same
    rows with optim.guard_on_device."""
    import csv

    from lrmzero.plugins.trainers.lightning.module import ReconstructionModule
    from lrmzero.plugins.trainers.lightning.train import train

    logged_at = []
    real = ReconstructionModule.log_dict
    monkeypatch.setattr(ReconstructionModule, "log_dict",
                        lambda self, values, **kw: logged_at.append((self.global_step, sorted(values))) or
                        real(self, values, **kw))
    cfg_overrides = ["data.batch_size=1", "data.input_views=2", "data.target_views=2", "data.resolution=16",
                     "trainer.log_every=3"]
    train([str(dataset)], tmp_path / "run", tiny(cfg_overrides), max_steps=7, progress=False)
    # after the optimizer steps 3 and 6 of 7 (global_step 3 and 6), the rows of Lightning's step index 2 and 5,
    # as when every step logged (the 7th step's values were never written)
    assert sorted({step for step, _ in logged_at}) == [3, 6]
    rows = [r for r in csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv")) if r.get("loss")]
    assert [int(r["step"]) for r in rows] == [2, 5]
    assert all(r["grad_norm"] and r["lr"] and r["psnr"] and r["steps_per_s"] and r["skipped_spike"] for r in rows)
    assert rows[0]["lr"] != rows[1]["lr"] and rows[0]["loss"] != rows[1]["loss"]  # each its own step's

    # optim.guard_on_device (the step's numbers read a step late, at once on these steps): the same rows
    logged_at.clear()
    train([str(dataset)], tmp_path / "on-device", tiny([*cfg_overrides, "optim.guard_on_device=true"]), max_steps=7,
          progress=False)
    assert sorted({step for step, _ in logged_at}) == [3, 6]
    device_rows = [r for r in csv.DictReader(open(tmp_path / "on-device" / "logs" / "metrics.csv")) if r.get("loss")]
    assert [int(r["step"]) for r in device_rows] == [2, 5]
    for host_row, device_row in zip(rows, device_rows):
        assert host_row.keys() == device_row.keys()
        for key in ("loss", "psnr", "grad_norm", "lr", "skipped_spike", "skipped_nonfinite"):
            assert float(device_row[key]) == pytest.approx(float(host_row[key]), rel=1e-4), key


def test_holding_out_every_object_is_refused(dataset):
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.data.datamodule import training_objects

    with pytest.raises(ConfigError, match="data.val_objects: got 3; allowed: fewer than the 3"):
        training_objects([str(dataset)], tiny(["data.val_objects=3"]))


@pytest.mark.parametrize("convention", ["composited", "straight"])
def test_loader_sends_each_view_once_as_uint8_and_the_device_side_batch_matches(dataset, tmp_path, convention):
    """Items carry each needed view once (inputs are also targets) as uint8 RGBA; to_model_batch
    composites them over the background and computes the rays. lrmzero's views (meta.json:
    rgb_composited) already hold RGB over their background: resized as plain images and moved to
    the new background where alpha < 1, never blended twice. Other RGBA is straight alpha."""
    from PIL import Image

    from lrmzero.cameras import read_opencv_cameras
    from lrmzero.dataset import view_path
    from lrmzero.rays import plucker_rays

    obj = find_objects(dataset)[0]
    meta = json.loads((obj / "meta.json").read_text())
    assert meta["render"]["rgb_composited"] and meta["render"]["background"] == [1.0, 1.0, 1.0]
    if convention == "straight":  # the same files, described as another dataset would be
        obj = Path(shutil.copytree(obj, tmp_path / obj.name))
        del meta["render"]["rgb_composited"]
        (obj / "meta.json").write_text(json.dumps(meta))
    item = ObjectViews([obj], ViewSelection(2, 4, 32, (0.2, 0.4, 0.6)), seed=3)[(0, 1)]
    assert item["views"].dtype == torch.uint8 and item["views"].shape == (4, 4, 32, 32)
    background = np.array([0.2, 0.4, 0.6], np.float32)
    batch = to_model_batch(collate([item, item]), torch.from_numpy(background))
    cams, paths = read_opencv_cameras(obj / "opencv_cameras.json")

    def expected_view(i):
        with Image.open(view_path(obj, paths[i])) as im:
            if convention == "straight":  # Pillow resizes RGBA premultiplied
                rgba = np.asarray(im.convert("RGBA").resize((32, 32), Image.BOX), np.float32) / 255.0
                return rgba[..., :3] * rgba[..., 3:] + background * (1 - rgba[..., 3:]), rgba[..., 3]
            rgb = np.asarray(im.convert("RGB").resize((32, 32), Image.BOX), np.float32) / 255.0
            alpha = np.asarray(im.getchannel("A").resize((32, 32), Image.BOX), np.float32)[..., None] / 255.0
            return rgb + (background - 1.0) * (1 - alpha), alpha[..., 0]

    for key, ids in (("images", item["input_ids"]), ("target_images", item["target_ids"])):
        expected = np.stack([expected_view(i)[0].transpose(2, 0, 1) for i in ids.tolist()])
        assert batch[key].shape == (2, len(ids), 3, 32, 32)
        np.testing.assert_allclose(batch[key][1].numpy(), expected, atol=1e-6)
    # reconstruct's reader (one image file at a time) gives the inputs exactly as training sees them
    from lrmzero.plugins.trainers.lightning.data.views import composited_over, load_view, render_section

    under = composited_over(render_section(obj))
    single = [load_view(view_path(obj, paths[i]), 32, background, under) for i in item["input_ids"].tolist()]
    np.testing.assert_allclose(np.stack(single), batch["images"][0].numpy(), atol=1e-6)
    alphas = np.stack([expected_view(i)[1][None] for i in item["target_ids"].tolist()])
    assert ((alphas > 0) & (alphas < 1)).any()  # resizing made fractional edges: the case that differs
    np.testing.assert_allclose(batch["target_alpha"][0].numpy(), alphas, atol=1e-6)
    torch.testing.assert_close(batch["rays"][0], plucker_rays(item["c2w"], item["K"], 32, 32))
    assert "views" not in batch and "input_index" not in batch and "baked" not in batch


def test_progress_bar_is_titled_by_what_a_run_counts(monkeypatch):
    """A run is one epoch bounded by max_steps: Lightning's rich bar would read "Epoch 0/-2"."""
    import sys

    from pytorch_lightning.callbacks import RichProgressBar, TQDMProgressBar

    from lrmzero.plugins.trainers.lightning.progress import progress_bar

    pytest.importorskip("rich")
    bar = progress_bar()
    assert isinstance(bar, RichProgressBar) and bar._get_train_description(0) == "train"
    monkeypatch.setitem(sys.modules, "rich", None)  # as if rich were not installed
    bar = progress_bar()
    assert isinstance(bar, TQDMProgressBar)
    import pytorch_lightning as pl
    from pytorch_lightning.demos.boring_classes import BoringModel

    pl.Trainer(max_steps=2, callbacks=[bar], logger=False, enable_checkpointing=False, enable_model_summary=False,
               accelerator="cpu").fit(BoringModel())
    assert bar.train_progress_bar.desc.startswith("train")  # tqdm adds ": "; Lightning's reads "Epoch 0"


def test_cpu_training_keeps_freed_memory_for_the_next_step():
    """``lrmzero train`` on a CPU sets glibc's mmap threshold (to its largest, 32 MiB) and trim
    threshold; mallopt refuses a value out of range, which this catches."""
    import platform

    from lrmzero.plugins.trainers.lightning.cpu_memory import reuse_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert reuse_freed_memory() is True


def test_a_network_too_big_for_a_cpu_is_said_before_the_first_step(caplog):
    """A paper-size network on a CPU: a warning naming its size and the preset that trains there
    (paper's first step otherwise shows nothing for minutes); the tiny network trains quietly."""
    from lrmzero.plugins.trainers.lightning.train import CPU_PARAMETERS, warn_if_too_big_for_a_cpu

    caplog.set_level(logging.WARNING, logger="lrmzero")
    big = torch.nn.Linear(CPU_PARAMETERS // 1000 + 1, 1000, bias=False, device="meta")
    warn_if_too_big_for_a_cpu(big)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "20M-parameter network on the CPU" in said[0] and "--preset tiny" in said[0]
    caplog.clear()
    registries = get_registries()
    cfg, _ = load_train_config("tiny", None, [], registries)
    tiny = registries.models.build(cfg.model["name"], {k: v for k, v in cfg.model.items() if k != "name"}, "model")
    warn_if_too_big_for_a_cpu(tiny.build_network())
    assert not caplog.records


def official_layout(dataset: Path, out: Path, marker: bool = True) -> Path:
    """``dataset``'s objects as the official zeroverse_rgba.py lays its output out: per object
    ``opencv_cameras.json`` naming ``renderings/NNNNNNNN_rgba.png`` (and its ``blender_camera_location``),
    ``minmax.txt`` (``marker``), no meta.json, depth, normals or manifest."""
    for obj in find_objects(dataset):
        folder = out / f"official_{obj.name}"
        (folder / "renderings").mkdir(parents=True)
        cams = json.loads((obj / "opencv_cameras.json").read_text())
        for i, frame in enumerate(cams["frames"]):
            rel = f"renderings/{i:08d}_rgba.png"
            shutil.copy(obj / frame["file_path"], folder / rel)
            frame["file_path"] = rel
            frame["blender_camera_location"] = [0.0, 1.2, 0.0]
        (folder / "opencv_cameras.json").write_text(json.dumps(cams, indent=4))
        if marker:
            (folder / "minmax.txt").write_text("0.01 0.93")
    return out


def test_datasets_in_the_official_layout_train_validate_and_evaluate(dataset, tmp_path, caplog):
    """Object folders another tool wrote in the Zeroverse layout (here the official zeroverse_rgba.py's:
    no meta.json) are found, validated and loaded exactly as the same views in lrmzero's own layout, the
    official script's RGB as composited over white; a depth loss is refused up front, naming it."""
    from lrmzero.dataset_check import check_dataset
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.trainers.lightning.train import train

    official = official_layout(dataset, tmp_path / "official")
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        found = find_objects(official)
    assert [p.name for p in found] == [f"official_{p.name}" for p in find_objects(dataset)]
    assert "no meta.json" in caplog.text
    report = check_dataset(official)
    assert report.ok and report.objects == 3 and report.views == 3 * 8
    assert "another tool wrote" in report.lines()[0] and "another" not in check_dataset(dataset).lines()[0]
    select = ViewSelection(4, 8, 32)
    ours, theirs = ObjectViews(find_objects(dataset), select), ObjectViews(found, select)
    for i in range(3):
        a, b = ours[i], theirs[i]
        assert torch.equal(a["views"], b["views"]) and torch.equal(a["c2w"], b["c2w"]) and torch.equal(a["K"], b["K"])
        assert b["baked"].tolist() == [1.0, 1.0, 1.0, 1.0]  # the official RGB: composited over white
    assert a["baked"].tolist() == [1.0, 1.0, 1.0, 1.0]  # as lrmzero's own
    from lrmzero.shards import pack_dataset  # packed into shards they keep their views and their convention

    for image_format in ("png", "jpeg"):
        shards = tmp_path / f"shards-{image_format}"
        pack_dataset(official, shards, objects_per_shard=2, image_format=image_format)
        report = check_dataset(shards)
        assert report.ok and report.objects == 3 and report.views == 3 * 8
        packed = ObjectViews(find_objects(shards), select)[2]
        assert packed["baked"].tolist() == [1.0, 1.0, 1.0, 1.0]
        difference = (packed["views"].float() - b["views"].float()).abs()
        assert difference[:, 3].max() == 0  # alpha exact: a PNG beside each JPEG
        assert difference.max() == 0 if image_format == "png" else difference.mean() < 2.0
    with pytest.raises(ConfigError, match=r"loss.depth_weight: got 0.5; --data '.*shard-000000.tar' has no depth"):
        train([str(shards)], tmp_path / "depth-shards", tiny(["loss.depth_weight=0.5"]), max_steps=1, progress=False)
    jpegs = official_layout(dataset, tmp_path / "jpeg")  # JPEG views with no alpha beside them: opaque
    for folder in find_objects(jpegs):
        cams = json.loads((folder / "opencv_cameras.json").read_text())
        for frame in cams["frames"]:
            png = folder / frame["file_path"]
            Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), quality=95)
            png.unlink()
            frame["file_path"] = frame["file_path"][:-4] + ".jpg"
        (folder / "opencv_cameras.json").write_text(json.dumps(cams))
    assert check_dataset(jpegs).ok
    opaque = ObjectViews(find_objects(jpegs), select)[2]["views"]
    assert opaque[:, 3].min() == 255 and (opaque[:, :3].float() - b["views"][:, :3].float()).abs().mean() < 2.0
    plain = official_layout(dataset, tmp_path / "plain", marker=False)  # other tools: straight RGBA
    assert ObjectViews(find_objects(plain), select)[0]["baked"].tolist() == [0.0] * 4
    with pytest.raises(ConfigError, match=r"loss.depth_weight: got 0.5; --data .* has no depth maps"):
        train([str(official)], tmp_path / "depth", tiny(["loss.depth_weight=0.5"]), max_steps=1, progress=False)
    last = train([str(official)], tmp_path / "run", tiny(), max_steps=2, progress=False)
    res = run_cli("eval", "--checkpoint", str(last), "--data", str(official), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "e.json").read_text())["objects"]) == 3
    res = run_cli("reconstruct", "--checkpoint", str(last), "--images", str(found[0]), "--cameras",
                  str(found[0] / "opencv_cameras.json"), "--out", str(tmp_path / "rec"), "--turntable-views", "2")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "rec" / "gaussians.ply").is_file()
    # in lrmzero's own datasets a folder without meta.json stays an unfinished object, not a foreign one
    mixed = tmp_path / "mixed"
    shutil.copytree(dataset, mixed)
    (find_objects(mixed)[0] / "meta.json").unlink()
    assert len(find_objects(mixed)) == 2
    assert "incomplete: no meta.json" in " ".join(check_dataset(mixed).lines())


def test_a_run_shorter_than_the_logging_interval_is_not_warned_about(dataset, tmp_path):
    """Two steps with trainer.log_every=10 log fewer rows, as asked: no Lightning warning suggesting
    log_every_n_steps (a setting the config owns)."""
    import warnings

    from lrmzero.plugins.trainers.lightning.train import train

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train([str(dataset)], tmp_path / "run", tiny(["trainer.log_every=10"]), max_steps=2, progress=False)
    assert not [w for w in caught if "logging interval" in str(w.message)]


def test_host_scalars_copies_what_is_logged_to_the_host_as_float32():
    from lrmzero.plugins.trainers.lightning.host_values import host_scalars

    values = host_scalars({"loss": torch.tensor(0.25, dtype=torch.float64), "lr": 1e-4, "skipped": torch.tensor(3),
                           "psnr": torch.tensor([21.5])})
    assert list(values) == ["loss", "lr", "skipped", "psnr"]  # the order as given
    assert all(v.device.type == "cpu" and v.dtype == torch.float32 and v.dim() == 0 for v in values.values())
    assert [float(v) for v in values.values()] == [0.25, pytest.approx(1e-4), 3.0, 21.5]


def test_trainer_compile_mode_reaches_torch_compile(dataset, tmp_path, monkeypatch):
    """trainer.compile_mode is handed to the network's compile as torch.compile's mode; the default
    passes none (torch's own default); another value is refused naming the choices."""
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork
    from lrmzero.plugins.trainers.lightning.train import train

    asked = []
    monkeypatch.setattr(GSLRMNetwork, "compile", lambda net, **kw: asked.append(kw))  # record, stay eager
    base = ["data.batch_size=1", "optim.max_steps=1", "trainer.compile=true"]
    train([str(dataset)], tmp_path / "a", tiny(base), progress=False)
    train([str(dataset)], tmp_path / "b", tiny([*base, "trainer.compile_mode=max-autotune-no-cudagraphs"]),
          progress=False)
    assert asked == [{}, {"mode": "max-autotune-no-cudagraphs"}]
    with pytest.raises(ConfigError, match="trainer.compile_mode.*reduce-overhead.*max-autotune-no-cudagraphs"):
        tiny(["trainer.compile_mode=reduce-overhead"])


def test_reconstructor_in_python_gives_what_the_command_writes(dataset, tmp_path):
    """Reconstructor (views as arrays, cameras as Cameras) gives the Gaussians and turntable frames that
    `lrmzero reconstruct` wrote from the same files."""
    from lrmzero import ConfigError
    from lrmzero.plugins.trainers.lightning.reconstruct import reconstruct
    from lrmzero.plugins.trainers.lightning.reconstructor import Reconstructor

    last = train_tiny(dataset, tmp_path / "run")
    obj = find_objects(dataset)[0]
    reconstruct(str(last), str(obj), str(obj / "opencv_cameras.json"), str(tmp_path / "cli"), 4, device="cpu")
    rec = Reconstructor(tmp_path / "run", device="cpu")
    cameras, files = read_opencv_cameras(obj / "opencv_cameras.json")
    views = np.stack([np.asarray(Image.open(obj / f)) for f in files])  # [V, H, W, 4] uint8
    background = json.loads((obj / "meta.json").read_text())["render"]["background"]
    outputs = rec(views, cameras, composited_over=background)  # lrmzero's renders: RGB over the background
    ply = read_gaussians_ply(tmp_path / "cli" / "gaussians.ply")
    np.testing.assert_allclose(outputs["means"][0, :, 0].numpy(), ply["x"], atol=1e-6)
    turntable, frames = read_opencv_cameras(tmp_path / "cli" / "turntable" / "opencv_cameras.json")
    images = rec.render(outputs, turntable)
    assert images.shape == (4, 128, 128, 3) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    for image, f in zip(images, frames):
        written = np.asarray(Image.open(tmp_path / "cli" / "turntable" / f))
        assert np.array_equal((image * 255).astype(np.uint8), written)
    assert set(rec.export(outputs, tmp_path / "api")) == {"gaussians", "splat"}
    assert (tmp_path / "api" / "gaussians.ply").read_bytes() == (tmp_path / "cli" / "gaussians.ply").read_bytes()
    with pytest.raises(ConfigError, match=r"views: got float64 \(2, 8, 8, 4\); allowed: uint8"):
        rec(np.zeros((2, 8, 8, 4)), cameras)
    with pytest.raises(ConfigError, match=rf"cameras: got {len(cameras)} for 2 views; allowed: one per view"):
        rec(views[:2], cameras)


def test_posed_view_batches_are_the_trainers_batches(dataset, tmp_path):
    """posed_view_batches gives, batch for batch, what lrmzero train's data module feeds the model."""
    from lrmzero import ConfigError
    from lrmzero.plugins.trainers.lightning.data.batches import posed_view_batches
    from lrmzero.plugins.trainers.lightning.data.datamodule import ViewsDataModule

    cfg = tiny(["data.batch_size=2", "data.input_views=2", "data.target_views=3", "data.resolution=32", "seed=3"])
    module = ViewsDataModule([str(dataset)], cfg)
    module.setup("fit")
    theirs = [to_model_batch(b, torch.ones(3)) for _, b in zip(range(4), module.train_dataloader())]
    ours = list(posed_view_batches(dataset, steps=4, batch_size=2, input_views=2, target_views=3, resolution=32,
                                   seed=3))
    assert len(ours) == 4
    shapes = {"images": (2, 2, 3, 32, 32), "rays": (2, 2, 6, 32, 32), "c2w": (2, 2, 4, 4), "K": (2, 2, 3, 3),
              "target_images": (2, 3, 3, 32, 32), "target_alpha": (2, 3, 1, 32, 32), "target_w2c": (2, 3, 4, 4),
              "target_K": (2, 3, 3, 3)}
    for a, b in zip(ours, theirs):
        assert a["object_id"] == b["object_id"]
        for key, shape in shapes.items():
            assert tuple(a[key].shape) == shape and torch.equal(a[key], b[key]), key
    # a pass shows every object once: 3 objects, batches of 2 -> the first 3 ids are all of them
    assert len(set([*ours[0]["object_id"], ours[1]["object_id"][0]])) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        next(posed_view_batches(tmp_path / "empty", steps=1))

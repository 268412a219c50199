"""Backbones behind the model contract: triplane volume rendering against an analytic reference, the
triplane LRM end to end (train, over-fit, eval, reconstruct to a mesh), and a toy backbone defined
here that trains through the unchanged trainer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from lrmzero import get_registries
from lrmzero.cameras import intrinsics_from_fov, look_at
from lrmzero.components import ReconstructionModel, render_model
from lrmzero.registry import Provider
from lrmzero.plugins.trainers.lightning.checkpoints import build_model, load_checkpoint
from lrmzero.plugins.trainers.lightning.config import load_train_config
from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate, to_model_batch
from lrmzero.plugins.trainers.lightning.data.sources import find_objects
from tests.conftest import small_dataset
from lrmzero.plugins.trainers.lightning.metrics import psnr
from lrmzero.plugins.trainers.lightning.train import train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return small_dataset(tmp_path_factory.mktemp("models") / "data", 2, 5, "render.resolution=32")


def cameras(n: int, size: int, radius: float = 2.5):
    rng = np.random.default_rng(0)
    d = rng.normal(size=(n, 3))
    c2w = look_at(d / np.linalg.norm(d, axis=1, keepdims=True) * radius)
    K = np.repeat(intrinsics_from_fov(size, size, 50.0)[None], n, 0)
    return torch.tensor(np.linalg.inv(c2w), dtype=torch.float32), torch.tensor(K, dtype=torch.float32), c2w, K


def test_volume_rendering_of_constant_density_matches_the_analytic_alpha():
    """Constant density sigma in the box: alpha = 1 - exp(-sigma * chord length), chord from an
    independent numpy ray-box intersection; colour = alpha * c + (1 - alpha) * background."""
    from lrmzero.plugins.models.triplane.volume import render_triplane

    sigma, color, bound, size = 0.8, torch.tensor([0.2, 0.6, 0.9]), 0.9, 16

    def decoder(features):  # raw density such that softplus(raw + bias) = sigma
        raw = torch.full(features.shape[:-1], float(np.log(np.expm1(sigma))))
        return raw, color.expand(*features.shape[:-1], 3)

    w2c, K, c2w, Knp = cameras(3, size)
    out = render_triplane(torch.zeros(1, 3, 4, 8, 8), decoder, w2c[None], K[None], size, torch.ones(3), bound,
                          samples=64, density_bias=0.0)
    # independent reference: slab intersection in float64 numpy
    v, u = np.mgrid[0:size, 0:size] + 0.5
    pix = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3)
    for i in range(3):
        d = (c2w[i, :3, :3] @ (np.linalg.inv(Knp[i]) @ pix.T)).T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        o = c2w[i, :3, 3]
        with np.errstate(divide="ignore"):
            t0, t1 = (-bound - o) / d, (bound - o) / d
        near, far = np.minimum(t0, t1).max(1).clip(0), np.maximum(t0, t1).min(1)
        chord = np.clip(far - near, 0, None)
        alpha = 1 - np.exp(-sigma * chord)
        np.testing.assert_allclose(out["alpha"][0, i, 0].numpy().ravel(), alpha, atol=1e-4)
        expected = alpha[:, None] * color.numpy() + (1 - alpha[:, None]) * 1.0
        np.testing.assert_allclose(out["rgb"][0, i].permute(1, 2, 0).numpy().reshape(-1, 3), expected, atol=1e-4)
    assert (out["alpha"] > 0.5).any() and (out["alpha"] == 0).any()  # the box covers part of the view


def test_triplane_contract_shapes_and_gradients():
    model = build_model({"name": "triplane_lrm", "layers": 1, "width": 32, "heads": 2}, get_registries())
    net = model.build_network()
    w2c, K, c2w, _ = cameras(5, 16)
    from lrmzero.rays import plucker_rays

    c2w_t = torch.linalg.inv(w2c)
    batch = {"images": torch.rand(1, 2, 3, 16, 16), "rays": plucker_rays(c2w_t[:2], K[:2], 16, 16)[None],
             "c2w": c2w_t[None, :2], "K": K[None, :2]}
    out = model.render(net(batch), w2c[None, 2:], K[None, 2:], 16, torch.ones(3))
    assert out["rgb"].shape == (1, 3, 3, 16, 16) and out["alpha"].shape == out["depth"].shape == (1, 3, 1, 16, 16)
    out["rgb"].mean().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert net.backbone.plane_tokens.grad.abs().sum() > 0 and net.decoder.mlp[0].weight.grad.abs().sum() > 0


def test_train_with_triplane_from_the_tiny_preset_keeps_its_own_defaults():
    cfg, model_cfg = load_train_config("tiny", None, ["model.name=triplane_lrm", "model.samples=8"], get_registries())
    assert cfg.model["name"] == "triplane_lrm" and model_cfg.samples == 8
    assert "scale_bias" not in cfg.model  # gs_lrm's preset parameters do not leak into another model


@pytest.mark.slow
def test_triplane_overfits_one_object_then_eval_and_reconstruct(dataset, tmp_path, capsys):
    one = tmp_path / "one"
    one.mkdir()
    obj = find_objects(dataset)[0]
    import shutil

    shutil.copytree(obj, one / obj.name)
    cfg, _ = load_train_config("tiny", None, [
        "model.name=triplane_lrm", "data.batch_size=1", "data.fixed_views=true", "data.input_views=4",
        "data.target_views=4", "optim.lr=1e-2", "optim.warmup_steps=20", "trainer.checkpoint_every=1000",
        "trainer.image_every=1000"], get_registries())
    last = train([str(one)], tmp_path / "run", cfg, max_steps=TRIPLANE_STEPS, progress=False)
    model, net, _ = load_checkpoint(last, get_registries())
    ds = ObjectViews(find_objects(one), ViewSelection(4, 4, 32, (1.0, 1.0, 1.0), fixed=True))
    batch = to_model_batch(collate([ds[0]]), torch.ones(3))
    with torch.no_grad():
        pred = model.render(net(batch), batch["target_w2c"], batch["target_K"], 32, torch.ones(3))["rgb"]
    value = float(psnr(pred.clamp(0, 1), batch["target_images"]).mean())
    assert value > 22.0, value
    from lrmzero.cli import main

    assert main(["eval", "--checkpoint", str(last), "--data", str(dataset), "--json", str(tmp_path / "e.json"),
                 "--views-in", "4"]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["objects_evaluated"] == 2
    assert main(["reconstruct", "--checkpoint", str(last), "--images", str(obj), "--cameras",
                 str(obj / "opencv_cameras.json"), "--out", str(tmp_path / "rec"), "--turntable-views", "4"]) == 0
    mesh = trimesh.load(tmp_path / "rec" / "mesh.glb", force="mesh")
    assert len(mesh.faces) > 100 and np.abs(mesh.vertices).max() <= 1.0 + 1e-6
    assert (tmp_path / "rec" / "turntable.png").is_file()


TRIPLANE_STEPS = 200  # 27.2 dB here (2026-11-28; 30.0 after 250 steps, 26.4 after 180, 23.5 after 150); 22 asserted


# --- a third backbone, defined here, through the unchanged trainer ------------------------------

class MeanColourModel(ReconstructionModel):
    """A toy backbone: one colour per object from its input views' mean, drawn everywhere."""

    name = "mean_colour_toy"

    @dataclass
    class Config:
        hidden: int = 8

    def build_network(self):
        hidden = self.cfg.hidden

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.mlp = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 3))

            def forward(self, batch: dict) -> dict:
                return {"colour": torch.sigmoid(self.mlp(batch["images"].mean(dim=(1, 3, 4))))}

        return Net()

    def render(self, outputs, w2c, K, size, background):
        B, T = w2c.shape[:2]
        rgb = outputs["colour"][:, None, :, None, None].expand(B, T, 3, size, size)
        ones = torch.ones(B, T, 1, size, size)
        return {"rgb": rgb, "alpha": ones, "depth": ones * 0}

    def export(self, outputs, folder):
        path = Path(folder) / "colour.json"
        path.write_text(json.dumps(outputs["colour"][0].tolist()))
        return {"colour": path}


@pytest.fixture
def toy_model():
    registry = get_registries().models
    registry.add(MeanColourModel, Provider("tests", "0", "toy"))
    yield MeanColourModel
    registry._entries.pop(MeanColourModel.name)


def test_a_backbone_defined_in_a_test_trains_through_the_unchanged_trainer(dataset, tmp_path, toy_model):
    cfg, _ = load_train_config("tiny", None, ["model.name=mean_colour_toy", "data.input_views=2", "data.target_views=4",
                                              "optim.lr=5e-2", "optim.warmup_steps=1", "trainer.log_every=1"],
                               get_registries())
    last = train([str(dataset)], tmp_path / "run", cfg, max_steps=30, progress=False)
    import csv

    with open(tmp_path / "run" / "logs" / "metrics.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f) if r.get("loss")]
    assert len(losses) == 30 and np.mean(losses[-5:]) < np.mean(losses[:5])
    model, net, hparams = load_checkpoint(last, get_registries())
    assert isinstance(model, MeanColourModel) and hparams["model"] == {"name": "mean_colour_toy", **asdict(model.cfg)}


def test_gs_lrm_head_and_gaussians_are_fp32_under_bf16_autocast():
    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

    net = GSLRMNetwork(layers=1, width=32, heads=2, patch_size=4)
    images = torch.rand(1, 2, 3, 8, 8)
    rays = torch.randn(1, 2, 6, 8, 8)
    origins = torch.randn(1, 2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net.predict(images, rays, origins)
        hidden = net.blocks[0](net.norm_in(net.embed(torch.randn(1, 4, 4 * 4 * 9))))
    assert hidden.dtype == torch.bfloat16  # the transformer does run in bf16 here
    assert all(v.dtype == torch.float32 for v in out.values())


def test_gs_lrm_compiles_block_by_block_into_one_graph():
    """``net.compile()`` compiles each block, not the network: one graph serves every block (compile
    time of one block), outputs and gradients are the eager ones, parameter names (checkpoints) stay."""
    import torch._dynamo

    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

    torch.manual_seed(0)
    net = GSLRMNetwork(layers=3, width=32, heads=2, patch_size=4)
    batch = {"images": torch.rand(2, 2, 3, 8, 8), "rays": torch.randn(2, 2, 6, 8, 8),
             "c2w": torch.eye(4).expand(2, 2, 4, 4)}
    names = [k for k, _ in net.named_parameters()]
    eager = net(batch)
    eager_grad = torch.autograd.grad(eager["means"].sum(), net.blocks[0].mlp[0].weight)[0]
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    net.compile(backend="eager")  # dynamo's capture only: no C++ compiler needed
    out = net(batch)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    assert [k for k, _ in net.named_parameters()] == names
    for key in eager:
        torch.testing.assert_close(out[key], eager[key])
    grad = torch.autograd.grad(out["means"].sum(), net.blocks[0].mlp[0].weight)[0]
    torch.testing.assert_close(grad, eager_grad)
    net.scale_bias = 5.0  # the activations stay eager: a new setting needs no new graph
    smaller = net(batch)["scales"]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    torch.testing.assert_close(smaller, torch.exp(torch.log(eager["scales"]) + 2.3 - 5.0))
    torch._dynamo.reset()


def _sdpa_in_flash_layout(q, k, v):
    """Reference attention in FlashAttention's layout: ``[B, T, H, d]`` in and out."""
    out = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2), None  # (out, lse) as flash_attn.cute returns them


def _stand_in_flash_attn(monkeypatch, with_interface: bool, broken_backward: bool = False) -> list:
    """A ``flash_attn.cute`` package computing with SDPA on the CPU: ``flash_attn_func`` and, with
    ``with_interface``, the ``interface`` module's forward and backward entry points as FlashAttention-4
    4.0 has them (the backward writing into the ``dq, dk, dv`` it is given; with ``broken_backward``
    leaving dk zero). Returns the list of calls."""
    import math
    import sys
    import types

    import lrmzero.plugins.models.gaussians.fa4_attention as fa4_module
    import lrmzero.plugins.models.gaussians.gs_lrm_net as net_module

    calls = []

    def flash_attn_func(q, k, v):
        calls.append(("flash_attn_func", tuple(q.shape)))
        return _sdpa_in_flash_layout(q, k, v)

    def _flash_attn_fwd(q, k, v, softmax_scale=None, causal=False, return_lse=False):
        calls.append(("forward", tuple(q.shape), q.stride()))
        scores = torch.einsum("bthd,bshd->bhts", q.float(), k.float()) / math.sqrt(q.shape[-1])
        return _sdpa_in_flash_layout(q, k, v)[0], torch.logsumexp(scores, -1), None, None

    def _flash_attn_bwd(q, k, v, out, dout, lse, softmax_scale=None, causal=False, softcap=0.0,
                        dq=None, dk=None, dv=None):
        calls.append(("backward", tuple(q.shape), dq.stride()))
        # softmax attention's gradients written out (a custom op's kernel runs below autograd)
        scale = 1 / math.sqrt(q.shape[-1])
        P = torch.softmax(torch.einsum("bthd,bshd->bhts", q, k) * scale, -1)
        dP = torch.einsum("bthd,bshd->bhts", dout, v)
        dS = P * (dP - (dout * out).sum(-1).transpose(1, 2)[..., None])
        dq.copy_(torch.einsum("bhts,bshd->bthd", dS, k) * scale)
        dk.copy_(torch.einsum("bhts,bthd->bshd", dS, q) * scale * (not broken_backward))
        dv.copy_(torch.einsum("bhts,bthd->bshd", P, dout))
        return dq, dk, dv

    cute = types.ModuleType("flash_attn.cute")
    cute.flash_attn_func = flash_attn_func
    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    monkeypatch.setitem(sys.modules, "flash_attn.cute", cute)
    if with_interface:
        cute.interface = types.ModuleType("flash_attn.cute.interface")
        cute.interface._flash_attn_fwd, cute.interface._flash_attn_bwd = _flash_attn_fwd, _flash_attn_bwd
        monkeypatch.setitem(sys.modules, "flash_attn.cute.interface", cute.interface)
    monkeypatch.setattr(fa4_module, "_RESOLVED", False)  # looked up again from the stand-in
    monkeypatch.setattr(fa4_module, "_KERNELS", None)
    monkeypatch.setattr(net_module, "fa4_applies", lambda qkv: True)  # as on a CUDA device in bf16
    return calls


@pytest.mark.parametrize("with_interface", [False, True], ids=["flash_attn_func", "custom-op"])
def test_gs_lrm_fa4_attention_takes_the_projections_in_flash_layout(monkeypatch, with_interface):
    """``model.attention=fa4`` hands FlashAttention-4 the heads in its [B, T, H, d] layout and gets
    the same attention and gradients as torch's SDPA (a stand-in package computes them on the CPU).
    With the interface's entry points the attention is a custom op on the fused projections
    ``[B, T, 3, H, d]``: q, k and v reach the kernel as views of them (the fused tensor's strides) and
    the backward writes dq, dk, dv into the slices of one gradient tensor (after one forward and backward
    checking the op against SDPA on 256 tokens of the network's heads); without them the package's
    ``flash_attn_func`` is called."""
    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

    calls = _stand_in_flash_attn(monkeypatch, with_interface=with_interface)
    torch.manual_seed(0)
    reference = GSLRMNetwork(layers=2, width=32, heads=4, patch_size=4)
    fa4 = GSLRMNetwork(layers=2, width=32, heads=4, patch_size=4, attention="fa4")
    fa4.load_state_dict(reference.state_dict())
    batch = {"images": torch.rand(2, 3, 3, 8, 8), "rays": torch.randn(2, 3, 6, 8, 8),
             "c2w": torch.eye(4).expand(2, 3, 4, 4)}
    want, got = reference(batch), fa4(batch)
    heads = (2, 12, 4, 8)  # 2 objects, 3 views x 2 x 2 patches, 4 heads of 8
    fused_strides = (12 * 3 * 32, 3 * 32, 8, 1)  # [B, T, H, d] slices of [2, 12, 3, 4, 8]
    if with_interface:  # the check before the first use, on the network's heads
        check = ((1, 256, 4, 8), (256 * 3 * 32, 3 * 32, 8, 1))
        assert calls[:2] == [("forward", *check), ("backward", *check)]
        del calls[:2]
    assert calls == [("forward", heads, fused_strides) if with_interface else ("flash_attn_func", heads)] * 2
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=1e-6, rtol=1e-5)
    weights = [net.blocks[0].attn.qkv.weight for net in (reference, fa4)] + [fa4.blocks[1].attn.qkv.weight]
    want_grad = torch.autograd.grad(want["colors"].sum(), weights[0])[0]
    got_grad = torch.autograd.grad(got["colors"].sum(), weights[1:])[0]
    torch.testing.assert_close(got_grad, want_grad, atol=1e-6, rtol=1e-5)
    if with_interface:
        assert calls[2:] == [("backward", heads, fused_strides)] * 2


def test_gs_lrm_fa4_custom_op_that_is_off_sdpa_is_not_used(monkeypatch, caplog):
    """Entry points that take the right arguments but give wrong gradients (here dk left zero) fail the
    check before first use: a warning says so and the network calls ``flash_attn_func`` instead."""
    import logging

    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

    calls = _stand_in_flash_attn(monkeypatch, with_interface=True, broken_backward=True)
    net = GSLRMNetwork(layers=2, width=32, heads=4, patch_size=4, attention="fa4")
    batch = {"images": torch.rand(2, 3, 3, 8, 8), "rays": torch.randn(2, 3, 6, 8, 8),
             "c2w": torch.eye(4).expand(2, 3, 4, 4)}
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        net(batch)
    assert "entry points give gradients" in caplog.text and "using its flash_attn_func instead" in caplog.text
    assert [c[0] for c in calls] == ["forward", "backward", "flash_attn_func", "flash_attn_func"]


def test_gs_lrm_fa4_custom_op_compiles_without_a_graph_break(monkeypatch):
    """torch.compile traces a block through the FlashAttention-4 op in one graph (fullgraph=True fails on a
    break), with eager's values and gradients; and the op passes torch.library.opcheck (fake tensors,
    autograd registration, schema)."""
    from lrmzero.plugins.models.gaussians.gs_lrm_net import Block

    _stand_in_flash_attn(monkeypatch, with_interface=True)
    torch.manual_seed(0)
    block = Block(32, 4, 4.0, attention="fa4")
    x = torch.randn(2, 12, 32, requires_grad=True)
    eager = block(x)
    eager_grad = torch.autograd.grad(eager.square().sum(), x)[0]
    torch._dynamo.reset()
    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), x)[0], eager_grad)
    torch._dynamo.reset()
    qkv = torch.randn(2, 12, 3, 4, 8, requires_grad=True)
    torch.library.opcheck(torch.ops.lrmzero.fa4_qkv_attention.default, (qkv,))


def test_fa4_compile_time_notice_about_its_own_argument_is_silenced_and_nothing_else():
    import warnings

    from lrmzero.plugins.models.gaussians.fa4_attention import quiet_compile_notices

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_compile_notices()
        warnings.warn("Argument aux_data (position 21) cannot be converted to a JitArgument for function 'f'. "
                      "Its type `<class 'flash_attn.cute.utils.AuxData'>` is not supported.", UserWarning)
        warnings.warn("Argument scale (position 3) cannot be converted to a JitArgument", UserWarning)
    assert [str(w.message) for w in caught] == ["Argument scale (position 3) cannot be converted to a JitArgument"]


def test_gs_lrm_fa4_is_refused_on_cuda_where_it_cannot_run(monkeypatch):
    import sys

    from lrmzero import ConfigError

    monkeypatch.setitem(sys.modules, "flash_attn", None)  # not installed
    model = build_model({"name": "gs_lrm", "attention": "fa4", "rasterizer": "torch"}, get_registries())
    with pytest.raises(ConfigError, match=r"model.attention: got 'fa4', but flash_attn.cute does not import.*"
                                          r"flash-attn-4"):
        model.prepare(torch.device("cuda"))
    model.prepare(torch.device("cpu"))  # on a CPU it falls back to torch's attention


def test_gs_lrm_for_inference_falls_back_from_kernels_it_cannot_run(monkeypatch, caplog):
    """A checkpoint trained with FlashAttention-4 and gsplat, loaded where neither runs: prepare(strict=False)
    uses torch's attention and rasterizer with a warning; training (strict) refuses both, naming the key."""
    import logging
    import sys

    from lrmzero import ConfigError
    from lrmzero.plugins.models.gaussians import fa4_attention

    monkeypatch.setitem(sys.modules, "flash_attn", None)  # not installed
    monkeypatch.setitem(sys.modules, "gsplat", None)
    monkeypatch.setattr(fa4_attention, "_FALLEN_BACK", False)
    model = build_model({"name": "gs_lrm", "attention": "fa4", "rasterizer": "gsplat"}, get_registries())
    with pytest.raises(ConfigError, match=r"model.rasterizer: got 'gsplat', which cannot run here \(gsplat: "):
        model.prepare(torch.device("cpu"))
    with caplog.at_level(logging.WARNING, logger="lrmzero"):
        model.prepare(torch.device("cuda"), strict=False)  # no CUDA call: both fall back before one
    assert fa4_attention._FALLEN_BACK
    assert "model.attention=fa4: flash_attn.cute does not import" in caplog.text
    assert "model.rasterizer=gsplat: gsplat: " in caplog.text and "using auto's choice" in caplog.text
    assert model.rasterizer.name == "torch"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fa4_matches_sdpa_on_the_gpu():
    """FlashAttention-4 against torch's SDPA at GS-LRM's shapes (head dim 64), bf16, forward and backward."""
    pytest.importorskip("flash_attn.cute", reason="FlashAttention-4 (flash-attn-4) is not installed")
    from lrmzero.plugins.models.gaussians.fa4_attention import fa4_attention, fa4_unavailable

    if fa4_unavailable(torch.device("cuda")):
        pytest.skip(fa4_unavailable(torch.device("cuda")))
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(2, 4096, 16, 64, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()
               for _ in range(3))
    weights = torch.randn(2, 4096, 16, 64, device="cuda", generator=g)  # a generic loss: sum(out * weights)
    out = fa4_attention(q, k, v)
    grads = torch.autograd.grad((out.float() * weights).sum(), (q, k, v))
    ref = _sdpa_in_flash_layout(*(t.float() for t in (q, k, v)))[0]  # fp32 reference
    ref_grads = torch.autograd.grad((ref * weights).sum(), (q, k, v))

    # the yardstick: torch's own bf16 kernel against the same fp32 reference
    torch_bf16 = _sdpa_in_flash_layout(q, k, v)[0]
    torch_grads = torch.autograd.grad((torch_bf16.float() * weights).sum(), (q, k, v))

    def relative_error(got, want):
        return float((got.float() - want.float()).norm() / want.float().norm())

    assert relative_error(out, ref) <= 2 * max(relative_error(torch_bf16, ref), 1e-3)
    for name, got, torch_grad, want in zip("qkv", grads, torch_grads, ref_grads):
        assert relative_error(got, want) <= 2 * max(relative_error(torch_grad, want), 1e-3), name

    # the custom op on the fused projections (what the network calls): the same values and gradients
    from lrmzero.plugins.models.gaussians.fa4_attention import fa4_qkv_attention, resolve_kernels

    # the entry points exist and pass the check against SDPA on the GPU (else a warning, and None)
    assert resolve_kernels(torch.device("cuda"), 16, 64) is not None, "the custom op is not used: see the warning"
    qkv = torch.stack([q, k, v], dim=2).detach().requires_grad_()  # [B, T, 3, H, d]
    fused = fa4_qkv_attention(qkv)
    fused_grads = torch.autograd.grad((fused.float() * weights).sum(), qkv)[0].unbind(2)
    assert relative_error(fused, ref) <= 2 * max(relative_error(torch_bf16, ref), 1e-3)
    for name, got, torch_grad, want in zip("qkv", fused_grads, torch_grads, ref_grads):
        assert relative_error(got, want) <= 2 * max(relative_error(torch_grad, want), 1e-3), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fa4_block_compiles_in_one_graph_on_the_gpu():
    """A GS-LRM block with FlashAttention-4 compiled by inductor with fullgraph=True (no graph break at the
    attention) gives the eager block's output and input gradient under bf16 autocast."""
    pytest.importorskip("flash_attn.cute", reason="FlashAttention-4 (flash-attn-4) is not installed")
    from lrmzero.plugins.models.gaussians.fa4_attention import fa4_unavailable
    from lrmzero.plugins.models.gaussians.gs_lrm_net import Block

    if fa4_unavailable(torch.device("cuda")):
        pytest.skip(fa4_unavailable(torch.device("cuda")))
    torch.manual_seed(0)
    block = Block(1024, 16, 4.0, attention="fa4").cuda()
    x = torch.randn(2, 4096, 1024, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        eager = block(x)
    eager_grad = torch.autograd.grad(eager.float().square().sum(), x)[0]
    torch._dynamo.reset()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = torch.compile(block, fullgraph=True)(x)
    grad = torch.autograd.grad(out.float().square().sum(), x)[0]
    torch._dynamo.reset()
    for got, want in ((out, eager), (grad, eager_grad)):
        assert float((got.float() - want.float()).norm() / want.float().norm()) < 2e-2


def test_gs_lrm_low_precision_residual_keeps_the_stream_in_the_autocast_dtype():
    """``model.low_precision_residual``: the blocks take and pass on a bf16 stream under autocast. CUDA's
    autocast runs LayerNorm in fp32, which makes the stream fp32; here norm_in returns fp32 as it does there."""
    from lrmzero.plugins.models.gaussians.gs_lrm_net import GSLRMNetwork

    torch.manual_seed(0)
    batch = {"images": torch.rand(1, 2, 3, 8, 8), "rays": torch.randn(1, 2, 6, 8, 8),
             "c2w": torch.eye(4).expand(1, 2, 4, 4)}
    weights = GSLRMNetwork(layers=2, width=32, heads=2, patch_size=4).state_dict()
    outputs, seen = {}, {}
    for low in (False, True):
        net = GSLRMNetwork(layers=2, width=32, heads=2, patch_size=4, low_precision_residual=low)
        net.load_state_dict(weights)
        net.norm_in.register_forward_hook(lambda m, args, out: out.float())  # as under CUDA's autocast
        dtypes = []
        for block in net.blocks:
            block.register_forward_hook(lambda m, args, out: dtypes.append((args[0].dtype, out.dtype)))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outputs[low] = net(batch)
        seen[low] = dtypes
    assert seen[False] == [(torch.float32, torch.float32)] * 2
    assert seen[True] == [(torch.bfloat16, torch.bfloat16)] * 2
    assert all(v.dtype == torch.float32 for v in outputs[True].values())  # the head stays fp32
    torch.testing.assert_close(outputs[True]["colors"], outputs[False]["colors"], atol=3e-2, rtol=0)


def test_render_model_passes_with_depth_only_to_models_that_take_it():
    """The trainer asks for depth only with a depth loss; a model written before `with_depth`
    existed is still called as before (the toy model above trains through the trainer that way)."""

    class Recording:
        def render(self, outputs, w2c, K, size, background, with_depth=True):
            return {"with_depth": with_depth}

    class Keywords:
        def render(self, outputs, w2c, K, size, background, **options):
            return options

    args = ({}, torch.eye(4)[None, None], torch.eye(3)[None, None], 8, torch.ones(3))
    assert render_model(Recording(), *args, with_depth=False) == {"with_depth": False}
    assert render_model(Keywords(), *args, with_depth=False) == {"with_depth": False}
    old = MeanColourModel()
    out = render_model(old, {"colour": torch.rand(1, 3)}, *args[1:], with_depth=False)
    assert out["rgb"].shape == (1, 1, 3, 8, 8) and "depth" in out

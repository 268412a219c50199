"""Throughput for the training logs, and the FLOP counts it quotes MFU by."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from lrmzero import get_registries
from lrmzero.plugins.trainers.lightning.throughput import Throughput


def test_rates_over_the_window_of_steps():
    rate = Throughput(window=2, flops_per_object=1e12, peak_flops=1e15)
    assert rate.step(8, now=10.0) == {}  # one step: no interval yet
    assert rate.step(8, now=10.5) == pytest.approx({"steps_per_s": 2.0, "objects_per_s": 16.0, "mfu": 0.048})
    rate.step(8, now=11.0)
    # the window: the last 2 intervals (10.5 to 12.0 s: 8 + 4 objects), the step at 10.0 s dropped
    assert rate.step(4, now=12.0) == pytest.approx({"steps_per_s": 2 / 1.5, "objects_per_s": 12 / 1.5, "mfu": 0.024})
    rate.pause(now=12.5)  # a validation of 7.5 s: left out, so this step ends 1 s after the one before
    rate.resume(now=20.0)
    assert rate.step(8, now=20.5) == pytest.approx({"steps_per_s": 1.0, "objects_per_s": 6.0, "mfu": 0.018})
    assert "mfu" not in Throughput(window=5).step(1, 0.0) | Throughput(window=5, flops_per_object=1.0).step(1, 0.0)


@pytest.mark.parametrize("name, precision, peak", [
    ("NVIDIA H100 80GB HBM3", "bf16-mixed", 989.4e12),  # Lightning's table
    ("NVIDIA H200", "bf16-mixed", 989.4e12),  # Lightning: none (no "sxm1" in the name)
    ("NVIDIA H200 SXM1", "bf16-mixed", 989.4e12),  # Lightning: 2.0e15, the figure with sparsity
    ("NVIDIA H200 NVL", "16-mixed", 835.5e12),
])
def test_the_peak_mfu_counts_against_is_the_dense_one(monkeypatch, name, precision, peak):
    from lrmzero.plugins.trainers.lightning.throughput import peak_flops

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert peak_flops(torch.device("cuda"), precision) == pytest.approx(peak)
    assert peak_flops(torch.device("cpu"), precision) is None


def test_gs_lrm_counts_the_paper_transformers_flops():
    """24 blocks of width 1024 on 4 views of 256 px in 8 px patches (4096 tokens): per token and block
    the q, k, v, output and two MLP matmuls (2 x 1024 x (3 + 1 + 4 + 4) x 1024 FLOPs) and attention's two
    token-by-token products (2 x 2 x 4096 x 1024)."""
    model = get_registries().models.build("gs_lrm", {"preset": "paper"})
    tokens = 4 * 32 * 32
    per_token = 24 * (2 * 1024 * 12 * 1024 + 2 * 2 * tokens * 1024)
    assert model.flops_per_object(4, 256) == per_token * tokens
    assert model.flops_per_object(8, 256) > 2 * model.flops_per_object(4, 256)  # attention grows with tokens^2


@pytest.mark.parametrize("name, tokens", [("gs_lrm", lambda m: 4 * (32 // m.cfg.patch_size) ** 2),
                                          ("triplane_lrm", lambda m: 4 * (32 // m.cfg.patch_size) ** 2
                                           + 3 * m.dims()["plane_tokens"] ** 2)])
def test_flops_per_object_is_what_torch_counts_in_the_transformer(name, tokens):
    """Each model's count equals torch's FLOP counter over its transformer blocks' forward pass on the
    tokens of one object of 4 views at 32 px (attention through the math kernel, which it counts)."""
    model = get_registries().models.build(name, {"preset": "tiny"})
    network = model.build_network()
    blocks = getattr(network, "backbone", network).blocks
    x = torch.randn(1, tokens(model), blocks[0].norm1.normalized_shape[0])
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        for block in blocks:
            x = block(x)
    assert counter.get_total_flops() == model.flops_per_object(4, 32)

"""Training throughput: steps/s and images/s of `lrmzero train` presets; on a GPU also the
`paper` size at 256 px in bf16 with tokens/s and model FLOP utilization (MFU).

Usage: python benchmarks/train.py [--preset tiny] [--steps 20] [--peak-tflops 989]
Synthetic batches (random images, real cameras) so the figure is the model + rasterizer alone.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lrmzero import get_registries
from lrmzero.cameras import intrinsics_from_fov, look_at
from lrmzero.plugins.trainers.lightning.checkpoints import build_model
from lrmzero.plugins.models.gaussians.gs_lrm_net import count_flops_per_token
from lrmzero.rays import plucker_rays
from lrmzero.plugins.trainers.lightning.config import load_train_config


def batch(bs: int, views_in: int, views_out: int, res: int, device):
    rng = np.random.default_rng(0)
    d = rng.normal(size=(bs * (views_in + views_out), 3))
    eyes = d / np.linalg.norm(d, axis=1, keepdims=True) * 2.2
    c2w = torch.tensor(look_at(eyes), dtype=torch.float32).reshape(bs, -1, 4, 4)
    K = torch.tensor(intrinsics_from_fov(res, res, 50.0), dtype=torch.float32).expand(bs, views_in + views_out, 3, 3)
    rays = torch.stack([plucker_rays(c2w[b, :views_in], K[b, :views_in], res, res) for b in range(bs)])
    return {
        "images": torch.rand(bs, views_in, 3, res, res, device=device),
        "rays": rays.to(device),
        "c2w": c2w[:, :views_in].to(device),
        "K": K[:, :views_in].contiguous().to(device),
        "target_images": torch.rand(bs, views_out, 3, res, res, device=device),
        "target_w2c": torch.linalg.inv(c2w[:, views_in:]).to(device),
        "target_K": K[:, views_in:].contiguous().to(device),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--preset", default=None, help="default: tiny on CPU, paper on CUDA")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="accelerator bf16 dense peak (H100 SXM: 989)")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    preset = args.preset or ("paper" if cuda else "tiny")
    reg = get_registries()
    cfg, model_cfg = load_train_config(preset, None, args.overrides, reg)
    d = cfg.data
    bs = args.batch_size or d.batch_size
    model = build_model(cfg.model, reg)
    model.prepare(device)
    net = model.build_network().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    b = batch(bs, d.input_views, d.target_views, d.resolution, device)
    dtype = torch.bfloat16 if cuda else torch.float32
    bg = torch.ones(3, device=device)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            outputs = net(b)
        pred = model.render(outputs, b["target_w2c"], b["target_K"], d.resolution, bg)["rgb"]
        loss = ((pred - b["target_images"]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / args.steps
    layers, width, heads = reg.models.build("gs_lrm", {k: v for k, v in cfg.model.items() if k != "name"}).dims()
    tokens = bs * d.input_views * (d.resolution // model_cfg.patch_size) ** 2
    flops = 3 * count_flops_per_token(width, layers, tokens // bs, model_cfg.mlp_ratio) * tokens
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}  preset: {preset}  "
          f"{layers}x{width}  batch {bs}  {d.resolution}px  {d.input_views} in / {d.target_views} target views")
    print(f"steps/s: {1 / dt:.3f}  images/s (targets): {bs * d.target_views / dt:.1f}  tokens/s: {tokens / dt:.0f}")
    print(f"transformer TFLOP/s: {flops / dt / 1e12:.2f}" + (f"  MFU: {100 * flops / dt / 1e12 / args.peak_tflops:.1f}%" if cuda else ""))


if __name__ == "__main__":
    main()

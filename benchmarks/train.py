"""Training throughput of `lrmzero train` presets: steps/s, images/s, tokens/s, and where a step's
time goes (transformer forward+backward, rendering forward+backward, loss, optimizer, and, with
--data, waiting for the loader); on a GPU the `paper` preset in bf16 with model FLOP utilization.

Usage: python benchmarks/train.py [--preset tiny|small|paper] [--steps 10] [--data DIR] [key=value ...]
Any model plugin (e.g. model.name=triplane_lrm model.preset=base): what it does not have (FLOP count,
patches, rasterizer) is left out of the figures.
MFU counts 3x the transformer's forward FLOPs (the model's flops_per_object) over --peak-tflops.
The step is the trainer's: the model's network and renderer, MSE (+ with --perceptual the VGG-19 term the
paper preset adds after loss.perceptual_start), the gradient guard (norm, clipping), fused AdamW on CUDA;
batches are synthetic (random images, real cameras) unless --data measures the real loader too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lrmzero import get_registries
from lrmzero.cameras import intrinsics_from_fov, look_at
from lrmzero.components import render_model
from lrmzero.plugins.trainers.lightning.checkpoints import build_model
from lrmzero.plugins.trainers.lightning.config import load_train_config
from lrmzero.plugins.trainers.lightning.cpu_memory import reuse_freed_memory
from lrmzero.plugins.trainers.lightning.grad_guard import guard_gradients, guard_on_device, total_norm
from lrmzero.plugins.trainers.lightning.throughput import training_flops
from lrmzero.rays import plucker_rays
from timing import seconds_per_call  # benchmarks/timing.py (run as python benchmarks/NAME.py)


def synthetic_batch(bs: int, views_in: int, views_out: int, res: int, device) -> dict:
    rng = np.random.default_rng(0)
    d = rng.normal(size=(bs * (views_in + views_out), 3))
    eyes = d / np.linalg.norm(d, axis=1, keepdims=True) * 2.2
    c2w = torch.tensor(look_at(eyes), dtype=torch.float32).reshape(bs, -1, 4, 4)
    K = torch.tensor(intrinsics_from_fov(res, res, 50.0), dtype=torch.float32).expand(bs, views_in + views_out, 3, 3)
    rays = plucker_rays(c2w[:, :views_in].flatten(0, 1), K[:, :views_in].flatten(0, 1), res, res)
    return {
        "images": torch.rand(bs, views_in, 3, res, res, device=device),
        "rays": rays.reshape(bs, views_in, 6, res, res).to(device),
        "c2w": c2w[:, :views_in].to(device),
        "K": K[:, :views_in].contiguous().to(device),
        "target_images": torch.rand(bs, views_out, 3, res, res, device=device),
        "target_w2c": torch.linalg.inv(c2w[:, views_in:]).to(device),
        "target_K": K[:, views_in:].contiguous().to(device),
    }


class Timer:
    """Wall time of phases, synchronized with the device at each boundary."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.totals: dict[str, float] = {}
        self.t = 0.0

    def start(self) -> None:
        self._sync()
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        self._sync()
        now = time.perf_counter()
        self.totals[name] = self.totals.get(name, 0.0) + now - self.t
        self.t = now

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--preset", default=None, help="default: tiny on CPU, paper on CUDA")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="accelerator bf16 dense peak (H100 SXM: 989)")
    p.add_argument("--data", default=None, help="a generated dataset: also time the real loader")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (compiling is not timed)")
    p.add_argument("--compile-whole", action="store_true",
                   help="with --compile: the network as one graph instead of block by block")
    p.add_argument("--compile-mode", default=None,
                   help="with --compile: torch.compile's mode (e.g. max-autotune-no-cudagraphs)")
    p.add_argument("--default-malloc", action="store_true",
                   help="on a CPU: keep glibc's default allocator thresholds (the trainer tunes them)")
    p.add_argument("--profile", default=None, help="write a kernel (CUDA) or operator (CPU) table of 3 steps to "
                   "this file and print where the time goes, by kind of kernel")
    p.add_argument("--with-depth", action="store_true",
                   help="render depth too (the trainer does only with loss.depth_weight > 0)")
    p.add_argument("--perceptual", action="store_true",
                   help="add the perceptual loss (VGG-19, random weights: its cost, not its values), as the "
                   "trainer does after loss.perceptual_start")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda and not args.default_malloc:
        reuse_freed_memory()  # as `lrmzero train` does on a CPU
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    preset = args.preset or ("paper" if cuda else "tiny")
    reg = get_registries()
    cfg, model_cfg = load_train_config(preset, None, args.overrides, reg)
    d = cfg.data
    bs = args.batch_size or d.batch_size
    model = build_model(cfg.model, reg)
    model.prepare(device)
    net = model.build_network().to(device)
    if args.compile:
        net.compile(whole=args.compile_whole, **({"mode": args.compile_mode} if args.compile_mode else {}))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=cuda or cfg.optim.guard_on_device)
    b = synthetic_batch(bs, d.input_views, d.target_views, d.resolution, device)
    dtype = torch.bfloat16 if cuda else torch.float32
    bg = torch.ones(3, device=device)
    with_depth = args.with_depth or cfg.loss.depth_weight > 0
    perceptual = random_perceptual_loss(device) if args.perceptual else None

    def loss_of(pred: torch.Tensor) -> torch.Tensor:
        """MSE (+ 0.5 x perceptual), under autocast as in the trainer's step."""
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            loss = ((pred - b["target_images"]) ** 2).mean()
            if perceptual is not None:
                target = b["target_images"].flatten(0, 1)
                loss = loss + cfg.loss.perceptual_weight * perceptual(pred.flatten(0, 1), target)
        return loss

    def guarded_step():
        """The trainer's gradient guard, then the optimizer (stepping even on a "spike": random targets);
        with optim.guard_on_device, decided on the device, no wait (the trainer's one step later read left out)."""
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        if cfg.optim.guard_on_device:
            nonfinite, _, scale = guard_on_device(total_norm(grads), grads[0].new_zeros(()), cfg.optim.grad_clip,
                                                  cfg.optim.skip_factor)
            opt.found_inf, opt.grad_scale = nonfinite.float(), scale
        else:
            guard_gradients(grads, cfg.optim.grad_clip, cfg.optim.skip_factor)
        opt.step()

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            outputs = net(b)
        pred = render_model(model, outputs, b["target_w2c"], b["target_K"], d.resolution, bg, with_depth)["rgb"]
        loss = loss_of(pred)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        guarded_step()

    def timed_step(timer: Timer):
        """The same step, cut at the network's outputs and at the rendered images so each part's
        backward is timed on its own."""
        timer.start()
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            outputs = net(b)
        timer.lap("transformer")
        leaves = {k: v.detach().requires_grad_() for k, v in outputs.items()}
        pred = render_model(model, leaves, b["target_w2c"], b["target_K"], d.resolution, bg, with_depth)["rgb"]
        timer.lap("rendering")
        pred_leaf = pred.detach().requires_grad_()
        opt.zero_grad(set_to_none=True)
        loss_of(pred_leaf).backward()
        timer.lap("loss")
        pred.backward(pred_leaf.grad)
        timer.lap("rendering")
        torch.autograd.backward([outputs[k] for k in leaves], [leaves[k].grad for k in leaves])
        timer.lap("transformer")
        guarded_step()
        timer.lap("optimizer")

    t = time.perf_counter()
    step()
    graphs = ""
    if args.compile:  # how torch.compile cut the network (a graph break costs fusion across it)
        from torch._dynamo.utils import counters

        graphs = (f", compiled graphs {counters['stats']['unique_graphs']}, "
                  f"graph breaks {sum(counters['graph_break'].values())}")
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"first step: {time.perf_counter() - t:.1f} s, peak memory {peak:.1f} GiB{graphs}", flush=True)
        torch.cuda.reset_peak_memory_stats()
    elif graphs:
        print(f"first step: {time.perf_counter() - t:.1f} s{graphs}", flush=True)
    dt = seconds_per_call(step, args.steps, cuda)
    timer = Timer(cuda)
    for _ in range(max(2, args.steps // 2)):
        timed_step(timer)
    n = max(2, args.steps // 2)
    if args.data:
        timer.totals["waiting for data"] = loader_seconds(args.data, cfg, device, n) * n
    # any model plugin: what the model contract guarantees, and the optional parts where they exist
    # (flops_per_object, as the trainer's logged mfu counts; GS-LRM's patches and rasterizer)
    count = getattr(model, "flops_per_object", None)
    flops = training_flops(count(d.input_views, d.resolution), bs) if count is not None else None
    patch = getattr(model_cfg, "patch_size", None)
    tokens = f"  tokens/s: {bs * d.input_views * (d.resolution // patch) ** 2 / dt:.0f}" if patch else ""
    rasterizer = getattr(model, "rasterizer", None)
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu'}  preset: {preset}  model: {cfg.model['name']} "
          f"({sum(p.numel() for p in net.parameters()) / 1e6:.1f}M parameters)  batch {bs}  {d.resolution}px  "
          f"{d.input_views} in / {d.target_views} target views  "
          f"checkpointing: {getattr(model_cfg, 'gradient_checkpointing', None)}  compiled: {args.compile}"
          + (f"  rasterizer: {type(rasterizer).__name__}" if rasterizer is not None else ""))
    print(f"steps/s: {1 / dt:.3f}  images/s (targets): {bs * d.target_views / dt:.1f}{tokens}")
    figures = [f"transformer TFLOP/s: {flops / dt / 1e12:.2f}"] if flops is not None else []
    if cuda:
        figures += [f"MFU: {100 * flops / dt / 1e12 / args.peak_tflops:.1f}%"] if flops is not None else []
        figures.append(f"peak memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    if figures:
        print("  ".join(figures))
    parts = "  ".join(f"{k} {1000 * v / n:.1f} ms" for k, v in timer.totals.items())
    print(f"per step (synchronized at each boundary): {parts}")
    if args.profile:
        profile_kernels(step, args.profile, cuda)


# kinds of kernel (CUDA) or operator (CPU), by a word of their names (first match wins)
KERNEL_KINDS = {
    "attention": ("flash", "fmha", "cudnn", "attention", "sdpa"),
    "matmul": ("gemm", "nvjet", "cutlass", "sm90_", "sm80_", "cublas", "aten::mm", "aten::addmm", "aten::bmm"),
    "rasterizer": ("rasterize", "projection", "isect", "gsplat", "radix", "sort", "spherical"),
    "optimizer": ("adam", "foreach", "multi_tensor"),
    "fused elementwise (triton)": ("triton",),
}


def profile_kernels(step, path: str, cuda: bool, steps: int = 3) -> None:
    """Device time of ``steps`` steps by kernel (table written to ``path``) and by kind of kernel
    (on a CPU: operators' own CPU time)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    events = prof.key_averages()
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    with open(path, "w") as f:
        f.write(events.table(sort_by=sort, row_limit=40, max_name_column_width=90))
    kinds: dict[str, float] = {}
    # a range the host marks (record_function, such as "Optimizer.step#AdamW.step") is also a device-side
    # event spanning its kernels: counted, it would count them twice
    host_ranges = {e.key for e in events if e.device_type == DeviceType.CPU}
    for e in events:
        if cuda:
            kernel = e.device_type == DeviceType.CUDA and e.key not in host_ranges
            us = getattr(e, "self_device_time_total", 0.0) if kernel else 0.0
        else:
            us = e.self_cpu_time_total
        if us <= 0:
            continue
        name = e.key.lower()
        kind = next((k for k, words in KERNEL_KINDS.items() if any(w in name for w in words)), "other")
        kinds[kind] = kinds.get(kind, 0.0) + us / 1000 / steps
    total = sum(kinds.values())
    print(f"{'device' if cuda else 'CPU'} time per step {total:.1f} ms: " + "  ".join(
        f"{k} {v:.1f} ms ({100 * v / total:.0f}%)" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))


def random_perceptual_loss(device) -> torch.nn.Module:
    """The trainer's PerceptualLoss with random VGG-19 weights (written to a temporary file, as it
    reads only local files): the same convolutions, so the same cost."""
    import tempfile

    from lrmzero.plugins.trainers.lightning.perceptual import PerceptualLoss
    from lrmzero.plugins.trainers.lightning.vgg import vgg_features

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/vgg19.pth"
        torch.save({f"features.{k}": v for k, v in vgg_features("vgg19").state_dict().items()}, path)
        return PerceptualLoss(path).to(device)


def loader_seconds(data: str, cfg, device, batches: int) -> float:
    """Seconds per batch the real loader takes to deliver a batch on the device, model-ready."""
    from lrmzero.plugins.trainers.lightning.data.dataset import to_model_batch
    from lrmzero.plugins.trainers.lightning.data.datamodule import ViewsDataModule, training_objects

    objects, _ = training_objects([data], cfg)
    module = ViewsDataModule([data], cfg, 0, objects)
    module.setup()
    it = iter(module.train_dataloader())
    background = torch.tensor(cfg.data.background, device=device)
    next(it)  # workers start
    t = time.perf_counter()
    for _ in range(batches):
        batch = next(it)
        batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        if batch["object_id"]:
            to_model_batch(batch, background)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / batches


if __name__ == "__main__":
    main()

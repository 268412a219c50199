"""Helper of tests/test_distributed.py (not a test): one tiny training run on the CPU, on 1 process
or N processes (Lightning's DDP over gloo), with NaN losses injected on chosen ranks at chosen
global batches, and every rank's batches recorded.

Usage: python tests/ddp_train.py DATA OUT DEVICES MAX_STEPS [--stop N] [--resume] [--nan RANK:BATCH ...]
                                [--set KEY=VALUE ...]
Writes OUT/batches-rank{R}.jsonl: one line per batch a rank drew, {"batch": global batch, "ids": [...]}.
Lightning's DDP launcher runs this file again for ranks 1..N-1, with the same arguments.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("devices", type=int)
    ap.add_argument("max_steps", type=int)
    ap.add_argument("--stop", type=int, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--nan", action="append", default=[], help="RANK:BATCH (1-based global batch)")
    ap.add_argument("--set", action="append", default=[], help="a train config override")
    args = ap.parse_args()
    nan_at = {tuple(int(x) for x in spec.split(":")) for spec in args.nan}

    from lrmzero import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.module import ReconstructionModule
    from lrmzero.plugins.trainers.lightning.train import train

    real = ReconstructionModule.compute_loss

    def compute_loss(self, batch):
        loss, logs, pred = real(self, batch)
        rank, seen = self.global_rank, int(self.batches_seen)
        with open(Path(args.out) / f"batches-rank{rank}.jsonl", "a") as f:
            f.write(json.dumps({"batch": seen, "ids": list(batch["object_id"])}) + "\n")
        if (rank, seen) in nan_at:
            loss = loss * float("nan")
        return loss, logs, pred

    ReconstructionModule.compute_loss = compute_loss
    overrides = ["data.batch_size=1", "data.input_views=2", "data.target_views=2", "data.resolution=16",
                 "optim.warmup_steps=1", "trainer.checkpoint_every=1000", "trainer.image_every=1000",
                 "trainer.log_every=1", "trainer.accelerator=cpu", f"trainer.devices={args.devices}",
                 f"trainer.strategy={'ddp' if args.devices > 1 else 'auto'}", *args.set]
    cfg, _ = load_train_config("tiny", None, overrides, get_registries())
    os.makedirs(args.out, exist_ok=True)
    train([args.data], args.out, cfg, resume=args.resume, max_steps=args.max_steps, stop_after_steps=args.stop,
          progress=False)


if __name__ == "__main__":
    main()

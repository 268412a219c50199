"""Held-out quality of `tiny` trained on a fixed generated set for a fixed budget, beside the
baselines. Usage: python benchmarks/quality.py [--objects 64] [--heldout 16] [--steps 300] [--out bench-quality]"""

from __future__ import annotations

import argparse
from pathlib import Path

from lrmzero import get_registries
from lrmzero.plugins.generation.config import load_config
from lrmzero.plugins.trainers.lightning.evaluate import evaluate, format_table
from lrmzero.plugins.generation.runner import generate_dataset
from lrmzero.plugins.trainers.lightning.config import load_train_config
from lrmzero.plugins.trainers.lightning.train import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--objects", type=int, default=64)
    p.add_argument("--heldout", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", default="bench-quality")
    args = p.parse_args()
    out = Path(args.out)
    run = load_config("demo")
    generate_dataset(run, out / "train", args.objects, seed=0, workers=2, progress=False)
    generate_dataset(run, out / "heldout", args.heldout, seed=1, workers=2, progress=False)
    cfg, _ = load_train_config("tiny", None, [], get_registries())
    last = train([str(out / "train")], out / "run", cfg, max_steps=args.steps, progress=False)
    result = evaluate(str(last), str(out / "heldout"), json_path=str(out / "eval.json"))
    print(f"tiny, {args.objects} objects, {args.steps} steps:")
    print(format_table(result))


if __name__ == "__main__":
    main()

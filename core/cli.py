"""The ``lrmzero`` command line: ``generate`` and ``plugins``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from lrmzero.errors import LrmzeroError

log = logging.getLogger("lrmzero")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrmzero", description="Zeroverse-style synthetic 3D data and reconstruction models."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a dataset of Zeroverse-style objects")
    gen.add_argument("--out", required=True, help="dataset folder (created; re-running resumes)")
    gen.add_argument("--num-objects", type=int, required=True, help="objects in the whole dataset")
    gen.add_argument("--seed", type=int, required=True, help="dataset seed; object i depends on (seed, i)")
    gen.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    gen.add_argument("--shard", default="0/1", help="I/N: generate every N-th object from I (default 0/1)")
    gen.add_argument("--config", default=None,
                     help="YAML file or packaged config name (zeroverse, zeroverse-code, demo)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    plugins = sub.add_parser("plugins", help="list every registered component and its parameters")
    plugins.add_argument("--check", action="store_true",
                         help="also build every component with its defaults; exit 1 if any plugin is broken")
    return parser


def cmd_generate(args: argparse.Namespace) -> int:
    from lrmzero.config import load_config
    from lrmzero.generate import generate_dataset, parse_shard

    shard = parse_shard(args.shard)
    run = load_config(args.config, args.overrides)
    summary = generate_dataset(
        run, args.out, args.num_objects, args.seed, workers=args.workers, shard=shard,
        progress=not args.quiet,
    )
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        print("finished objects are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 1 if summary.failed else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from lrmzero.params import param_table
    from lrmzero.plugin_manager import get_registries
    from lrmzero.registry import KINDS

    registries = get_registries()
    problems = []
    for kind in KINDS:
        registry = registries.kind(kind)
        print(f"{kind} ({len(registry)})")
        for entry in registry:
            print(f"  {entry.name:<16} {entry.provider.distribution} {entry.provider.version}")
            for row in param_table(entry.config_cls):
                allowed = f" [{row['allowed']}]" if row["allowed"] else ""
                print(f"      {row['name']} = {row['default']!r}  {row['help']}{allowed}")
            if args.check:
                try:
                    entry.factory(entry.config_cls())
                except LrmzeroError as exc:
                    print(f"      (needs configuration: {exc})")
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"{kind}.{entry.name}: {type(exc).__name__}: {exc}")
    if registries.broken:
        print("broken plugins")
        for b in registries.broken:
            print(f"  {b.entry_point:<16} {b.distribution}: {b.error}")
    for p in problems:
        print(f"broken component {p}")
    return 1 if args.check and (registries.broken or problems) else 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="lrmzero: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return cmd_generate(args)
        return cmd_plugins(args)
    except LrmzeroError as exc:
        print(f"lrmzero {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

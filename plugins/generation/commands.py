"""``lrmzero generate`` and ``lrmzero render`` (``register_commands``): argument parsing only; the
runner and its components are imported when a command runs."""

from __future__ import annotations

import argparse
import sys

from lrmzero.components import Command
from lrmzero.errors import ConfigError


class GenerateCommand(Command):
    name = "generate"
    help = "generate a dataset: compose, augment, render and write objects"

    @property
    def config_sections(self) -> dict[str, type]:  # type: ignore[override]
        from lrmzero.plugins.generation.config import (AugmentConfig, ComposeConfig, ExecuteConfig, OutputConfig,
                                                       RenderConfig)

        return {"compose": ComposeConfig, "augment": AugmentConfig, "render": RenderConfig, "output": OutputConfig,
                "execute": ExecuteConfig}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--out", required=True, help="dataset folder (created; re-running resumes)")
        parser.add_argument("--num-objects", type=int, required=True, help="objects in the whole dataset")
        parser.add_argument("--seed", type=int, required=True, help="dataset seed; object i depends on (seed, i)")
        parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument("--shard", default="0/1", help="I/N: generate every N-th object from I (default 0/1)")
        from lrmzero.plugins.generation.config import packaged_configs

        parser.add_argument("--config", default=None,
                            help=f"YAML file or packaged config name: {', '.join(packaged_configs())}")
        parser.add_argument("--executor", default=None,
                            help="executor plugin (sets execute.executor; packaged default: local processes)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument("--format", default="folders", choices=["folders", "shards"],
                            help="folders (one per object) or shards (webdataset tars + index, as lrmzero pack)")
        parser.add_argument("--objects-per-shard", type=int, default=256, help="with --format shards")
        parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_positive
        from lrmzero.plugins.generation.config import load_config
        from lrmzero.plugins.generation.runner import generate_dataset, parse_shard

        shard = parse_shard(args.shard)
        check_positive(args.objects_per_shard, "--objects-per-shard")
        if args.format == "shards" and shard != (0, 1):
            raise ConfigError(f"--format shards: got --shard {args.shard}; allowed: 0/1 (a shard needs all its "
                              "objects: on several machines, generate folders and lrmzero pack them)")
        overrides = list(args.overrides) + ([f"execute.executor={args.executor}"] if args.executor else [])
        run = load_config(args.config, overrides)
        if args.format == "shards":
            from lrmzero.plugins.generation.to_shards import generate_shards

            summary = generate_shards(run, args.out, args.num_objects, args.seed, workers=args.workers,
                                      progress=not args.quiet, objects_per_shard=args.objects_per_shard)
        else:
            summary = generate_dataset(run, args.out, args.num_objects, args.seed, workers=args.workers,
                                       shard=shard, progress=not args.quiet)
        return report(summary)


# Real meshes keep their own colours: Zeroverse's per-object levels stretch an object's 1st-99th
# percentiles to black-white, which suits random textures but turns a uniformly coloured mesh's slight
# shading into a black blob (a grey sphere's centre). `render.levels=true` gives the training data's tone.
REAL_MESH_DEFAULTS = ("render.levels=false",)


class RenderCommand(Command):
    name = "render"
    help = ("render existing meshes (a file or a folder) into the dataset layout, in their own colours "
            "(no per-object levels unless render.levels=true)")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("input", help="a mesh file (GLB, OBJ, PLY, ...) or a folder of them")
        parser.add_argument("--out", required=True, help="dataset folder")
        parser.add_argument("--seed", type=int, default=0, help="seed of the camera draws")
        parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        parser.add_argument("--config", default=None, help="YAML file or packaged config name (gso-eval: the "
                            "official GSO cameras)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.plugins.generation.config import load_config
        from lrmzero.plugins.generation.real_meshes.load import find_meshes
        from lrmzero.plugins.generation.runner import generate_dataset

        try:
            inputs = [str(p) for p in find_meshes(args.input)]
        except FileNotFoundError as exc:
            raise ConfigError(str(exc)) from None
        if not inputs:
            raise ConfigError(f"INPUT: {args.input!r} holds no mesh files")
        run = load_config(args.config, args.overrides, command_defaults=REAL_MESH_DEFAULTS)
        summary = generate_dataset(run, args.out, len(inputs), args.seed, workers=args.workers,
                                   progress=not args.quiet, inputs=inputs)
        return report(summary)


def report(summary) -> int:
    """Print the run's summary line; the exit code: 130 interrupted (143 by SIGTERM), 1 if an object
    failed, else 0."""
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        print("finished objects are kept; run the same command again to resume", file=sys.stderr)
        return summary.exit_code
    return 1 if summary.failed else 0

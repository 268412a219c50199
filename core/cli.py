"""The ``lrmzero`` command line: core's ``generate``, ``render`` and ``plugins``, and the
subcommands plugins contribute (``gallery``; a trainer's ``train``, ``eval``, ``reconstruct``)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence


from lrmzero.errors import ConfigError, LrmzeroError

log = logging.getLogger("lrmzero")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrmzero", description="Synthetic 3D training data and reconstruction models, as plugins."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a dataset: compose, augment, render and write objects")
    gen.add_argument("--out", required=True, help="dataset folder (created; re-running resumes)")
    gen.add_argument("--num-objects", type=int, required=True, help="objects in the whole dataset")
    gen.add_argument("--seed", type=int, required=True, help="dataset seed; object i depends on (seed, i)")
    gen.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    gen.add_argument("--shard", default="0/1", help="I/N: generate every N-th object from I (default 0/1)")
    gen.add_argument("--config", default=None,
                     help="YAML file or packaged config name (`lrmzero plugins` lists them)")
    gen.add_argument("--executor", default=None,
                     help="executor plugin (sets execute.executor; packaged default: local processes)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    ren = sub.add_parser("render", help="render existing meshes (a file or a folder) into the dataset layout")
    ren.add_argument("input", help="a mesh file (GLB, OBJ, PLY, ...) or a folder of them")
    ren.add_argument("--out", required=True, help="dataset folder")
    ren.add_argument("--seed", type=int, default=0, help="seed of the camera draws")
    ren.add_argument("--workers", type=int, default=1)
    ren.add_argument("--config", default=None)
    ren.add_argument("--quiet", action="store_true")
    ren.add_argument("overrides", nargs="*", metavar="key=value")


    plugins = sub.add_parser("plugins", help="list every registered component and its parameters")
    plugins.add_argument("--check", action="store_true",
                         help="also build every component with its defaults; exit 1 if any plugin is broken")
    return parser


def add_plugin_commands(parser: argparse.ArgumentParser, registries) -> dict:
    """Subcommands contributed by plugins (``register_commands``), e.g. a trainer's ``train``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {}
    for entry in registries.commands:
        if entry.name in sub.choices:
            raise ConfigError(f"plugin command {entry.name!r} from {entry.provider} clashes with a core command")
        command = entry.factory(entry.config_cls())
        command.add_arguments(sub.add_parser(entry.name, help=command.help))
        commands[entry.name] = command
    return commands


def cmd_generate(args: argparse.Namespace) -> int:
    from lrmzero.config import load_config
    from lrmzero.generate import generate_dataset, parse_shard

    shard = parse_shard(args.shard)
    overrides = list(args.overrides) + ([f"execute.executor={args.executor}"] if args.executor else [])
    run = load_config(args.config, overrides)
    summary = generate_dataset(run, args.out, args.num_objects, args.seed, workers=args.workers, shard=shard,
                               progress=not args.quiet)
    return report(summary)


def report(summary) -> int:
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        print("finished objects are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 1 if summary.failed else 0


def cmd_render(args: argparse.Namespace) -> int:
    from lrmzero.config import load_config
    from lrmzero.generate import generate_dataset
    from lrmzero.mesh_io import find_meshes

    try:
        inputs = [str(p) for p in find_meshes(args.input)]
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if not inputs:
        raise ConfigError(f"INPUT: {args.input!r} holds no mesh files")
    run = load_config(args.config, args.overrides)
    summary = generate_dataset(run, args.out, len(inputs), args.seed, workers=args.workers,
                               progress=not args.quiet, inputs=inputs)
    return report(summary)


def cmd_plugins(args: argparse.Namespace) -> int:
    from lrmzero.components import RendererUnavailable
    from lrmzero.params import param_table
    from lrmzero.plugin_manager import get_registries

    registries = get_registries()
    problems = []
    for kind in registries.kinds():
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
                except RendererUnavailable as exc:
                    print(f"      (unavailable on this machine: {exc})")
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"{kind}.{entry.name}: {type(exc).__name__}: {exc}")
    from lrmzero.config import packaged_configs

    print(f"packaged configs (--config NAME): {', '.join(packaged_configs())}")
    if registries.broken:
        print("broken plugins")
        for b in registries.broken:
            print(f"  {b.entry_point:<16} {b.distribution}: {b.error}")
    for p in problems:
        print(f"broken component {p}")
    return 1 if args.check and (registries.broken or problems) else 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="lrmzero: %(message)s")
    command = "?"
    try:
        from lrmzero.plugin_manager import get_registries

        parser = build_parser()
        plugin_commands = add_plugin_commands(parser, get_registries())
        argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
        # key=value overrides may come before, between or after options: collect the stragglers that
        # argparse cannot place after a positional argument.
        args, extra = parser.parse_known_args(argv)
        command = args.command
        stray = [e for e in extra if e.startswith("-") or "=" not in e]
        if stray or (extra and not hasattr(args, "overrides")):
            parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
        if extra:
            args.overrides = list(args.overrides) + extra
        commands = {"generate": cmd_generate, "render": cmd_render, "plugins": cmd_plugins}
        commands.update({name: command.run for name, command in plugin_commands.items()})
        return commands[args.command](args)
    except LrmzeroError as exc:
        print(f"lrmzero {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return report_interrupted(command)
    except OSError as exc:  # a full disk, a read-only or vanished folder: the system's words, one line
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"lrmzero {command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Ctrl-C while a class body runs (an import at start-up) reaches us wrapped: Python re-raises
        # it as the cause of "RuntimeError: Error calling __set_name__".
        if caused_by_interrupt(exc):
            return report_interrupted(command)
        raise


def report_interrupted(command: str) -> int:
    print(f"lrmzero {command}: interrupted; finished work is kept, run the same command to resume",
          file=sys.stderr)
    return 130


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is anywhere in ``exc``'s chain of causes and contexts."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


VALUE_OPTIONS_THAT_MAY_LOOK_NEGATIVE = ("--shard",)


def join_negative_values(argv: list[str]) -> list[str]:
    """``--shard -1/2`` -> ``--shard=-1/2``: argparse reads a value starting with ``-`` as an option
    and would print its usage instead of our message about the value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in VALUE_OPTIONS_THAT_MAY_LOOK_NEGATIVE and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


if __name__ == "__main__":
    sys.exit(main())

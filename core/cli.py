"""The ``lrmzero`` command line: core's ``plugins`` listing and the subcommands plugins contribute
through ``register_commands`` (the generation pipeline's ``generate`` and ``render``, a trainer's
``train``, ``eval`` and ``reconstruct``, the tools' ``gallery``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from typing import Sequence

from lrmzero.errors import ConfigError, LrmzeroError, Terminated

log = logging.getLogger("lrmzero")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrmzero", description="Synthetic 3D training data and reconstruction models, as plugins."
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
    if registries.broken:
        print("broken plugins")
        for b in registries.broken:
            print(f"  {b.entry_point:<16} {b.distribution}: {b.error}")
    for p in problems:
        print(f"broken component {p}")
    return 1 if args.check and (registries.broken or problems) else 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="lrmzero: %(message)s")
    with sigterm_as_interrupt():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    command = "?"
    try:
        with sigint_deferred():  # plugins import native modules; a Ctrl-C inside one aborts the process
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
        commands = {"plugins": cmd_plugins}
        commands.update({name: command.run for name, command in plugin_commands.items()})
        return commands[args.command](args)
    except LrmzeroError as exc:
        if exc.shown:
            print(f"lrmzero {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return report_interrupted(command, exc)
    except OSError as exc:  # a full disk, a read-only or vanished folder: the system's words, one line
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"lrmzero {command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Ctrl-C while a class body runs (an import at start-up) reaches us wrapped: Python re-raises
        # it as the cause of "RuntimeError: Error calling __set_name__".
        interrupt = caused_by_interrupt(exc)
        if interrupt is not None:
            return report_interrupted(command, interrupt)
        raise


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises :class:`lrmzero.errors.Terminated` (a KeyboardInterrupt) in the main thread while
    a command runs, so that it stops as on Ctrl-C instead of dying with its worker processes left
    running; the previous handler is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C (and SIGTERM) back while the plugins load: a KeyboardInterrupt raised inside a native
    module's initialisation (manifold3d, torch) cannot unwind and aborts the process with a C++ message.
    A signal received meanwhile is delivered when the block ends, as a KeyboardInterrupt here."""
    block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if block else None
    try:
        yield
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def report_interrupted(command: str, interrupt: BaseException | None = None) -> int:
    """One line; the exit code a shell gives a process the signal killed (130 Ctrl-C, 143 SIGTERM)."""
    terminated = isinstance(interrupt, Terminated)
    print(f"lrmzero {command}: {'terminated (SIGTERM)' if terminated else 'interrupted'}; finished work is kept, "
          "run the same command to resume", file=sys.stderr)
    return Terminated.exit_code if terminated else 130


def caused_by_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt anywhere in ``exc``'s chain of causes and contexts, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def join_negative_values(argv: list[str]) -> list[str]:
    """``--shard -1/2`` -> ``--shard=-1/2``: argparse reads a value such as ``-1/2`` as an unknown
    option and would print its usage instead of the command's message about the value."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        value = argv[i + 1] if i + 1 < len(argv) else ""
        if argv[i].startswith("--") and "=" not in argv[i] and value[:2] in {f"-{d}" for d in "0123456789."}:
            out.append(f"{argv[i]}={value}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


if __name__ == "__main__":
    sys.exit(main())

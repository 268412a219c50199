"""Exception types that the CLI turns into one-line messages."""


class LrmzeroError(Exception):
    """Base class for errors caused by user input (bad config, bad data), not by bugs.

    ``shown = False`` (set on an instance): the CLI exits with its code without printing it, because
    another process says the same (the other ranks of a run that all refuse together: rank zero says it).
    """

    shown: bool = True


class ConfigError(LrmzeroError, ValueError):
    """A config key has a wrong type, an out-of-range value, or is unknown."""


class PluginError(LrmzeroError):
    """A plugin name is unknown, claimed twice, or its module failed to import."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler stopping the job, ``kill``), raised in the main thread by the CLI so that a
    command stops as it does on Ctrl-C: queued work cancelled, finished work kept, worker processes
    ended; the exit code is 143 (128 + SIGTERM) instead of Ctrl-C's 130."""

    exit_code = 143

"""Exception types that the CLI turns into one-line messages."""


class LrmzeroError(Exception):
    """Base class for errors caused by user input (bad config, bad data), not by bugs."""


class ConfigError(LrmzeroError, ValueError):
    """A config key has a wrong type, an out-of-range value, or is unknown."""


class PluginError(LrmzeroError):
    """A plugin name is unknown, claimed twice, or its module failed to import."""

"""Where lrmzero keeps what it can make again: one folder per kind under ``$LRMZERO_CACHE``, else
``$XDG_CACHE_HOME/lrmzero``, else ``~/.cache/lrmzero``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(kind: str) -> Path:
    """The cache folder for ``kind`` (e.g. ``materials``, ``validated``); not created here."""
    if os.environ.get("LRMZERO_CACHE"):
        return Path(os.environ["LRMZERO_CACHE"]) / kind
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lrmzero" / kind

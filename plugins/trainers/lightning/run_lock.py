"""One run per run folder: ``RUN/.lock``, held while a run trains into the folder, so that a second
``lrmzero train`` into it (a job submitted twice, a requeued job whose first copy still runs) is
refused before it touches the checkpoints and logs, instead of both writing them (the lock:
:mod:`lrmzero.locks`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from lrmzero.errors import ConfigError
from lrmzero.locks import hold_lock

LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold_run_folder(out: Path, take: bool = True) -> Iterator[None]:
    """Hold ``out/.lock`` for the ``with`` block (``take=False``: do nothing; the other ranks of a run
    share the folder its rank 0 holds). A folder the block made and left empty (a run refused before
    it wrote anything) is removed again.

    Raises:
        ConfigError: naming ``--out`` and the process that holds the folder, before anything in it
            is written.
    """
    if not take:
        yield
        return
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME

    def refusal(holder: str) -> ConfigError:
        return ConfigError(f"--out: {str(out)!r} is in use by another lrmzero train{holder}; allowed: another "
                           "--out, or wait for that run to end (--resume continues it then)")

    try:
        with hold_lock(path, refusal, f"--out: a second run into {out} would not be refused"):
            yield
    finally:
        if created and [p.name for p in out.iterdir()] == [LOCK_NAME]:  # refused before writing: leave no trace
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                out.rmdir()

"""One run per run folder: ``RUN/.lock``, held while a run trains into the folder, so that a second
``lrmzero train`` into it (a job submitted twice, a requeued job whose first copy still runs) is
refused before it touches the checkpoints and logs, instead of both writing them.

The lock is an advisory POSIX record lock on the file (``lockf``): the kernel releases it when the
process ends, however it ends, so a kill leaves no stale lock; and unlike ``flock`` it is not shared
with forked children, so loader workers outliving a killed run for a moment do not hold the folder
against its ``--resume``. On file systems without lock support (some network mounts) the run goes on
with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from lrmzero.errors import ConfigError

log = logging.getLogger("lrmzero")

LOCK_NAME = ".lock"
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


def _holder(path: Path) -> str:
    """Who holds the lock, as the holder wrote it (``pid N on HOST since TIME``), or ``""``."""
    try:
        info = json.loads(path.read_text() or "{}")
        return f" (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


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
    import fcntl  # POSIX; the trainer's other parts (signals, DDP launchers) assume it too

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise ConfigError(f"--out: {str(out)!r} is in use by another lrmzero train{_holder(path)}; allowed: "
                                  "another --out, or wait for that run to end (--resume continues it then)") from None
            if exc.errno not in _UNSUPPORTED:
                raise
            log.warning("--out: %s cannot be locked on this file system (%s): a second run into it would not be "
                        "refused", out, os.strerror(exc.errno))
        else:
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
        if created and [p.name for p in out.iterdir()] == [LOCK_NAME]:  # refused before writing: leave no trace
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                out.rmdir()

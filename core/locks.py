"""One process at a time: an advisory lock on a file, held for a ``with`` block.

Used where two copies of one job (submitted twice, or requeued while the first copy still runs) would
otherwise write the same files: a run folder of ``lrmzero train``, a shard of ``lrmzero generate``.

The lock is a POSIX record lock (``lockf``): the kernel releases it when the process ends, however it
ends, so a kill leaves no stale lock; unlike ``flock`` it is not shared with forked children, so
workers outliving a killed job for a moment do not hold it against the job's resumption. The file
records its holder (pid, host, start) for the refusal's message. On file systems without lock support
(some network mounts) the block runs with a warning.
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
from typing import Callable, Iterator

log = logging.getLogger("lrmzero")

_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


def lock_holder(path: Path) -> str:
    """Who holds the lock, as the holder wrote it (``" (pid N on HOST, since TIME)"``), or ``""``."""
    try:
        info = json.loads(Path(path).read_text() or "{}")
        return f" (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


@contextlib.contextmanager
def hold_lock(path: Path, refusal: Callable[[str], Exception], unsupported: str) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created if missing; its folder must exist) for the block.

    Args:
        refusal: the exception to raise when another process holds the lock, given
            :func:`lock_holder`'s text; raised before the block starts.
        unsupported: the warning's words when the file system cannot lock (the block then runs).

    Yields:
        whether the lock is held (False only where the file system cannot lock).
    """
    try:
        import fcntl  # POSIX
    except ImportError:  # Windows: nothing to lock with; run as before there
        log.warning("%s (no POSIX file locks on this system)", unsupported)
        yield False
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise refusal(lock_holder(path)) from None
            if exc.errno not in _UNSUPPORTED:
                raise
            log.warning("%s (%s cannot be locked on this file system: %s)", unsupported, path,
                        os.strerror(exc.errno))
            held = False
        else:
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            held = True
        yield held
    finally:
        os.close(fd)  # releases the lock

"""The ``local`` executor: this process (one worker) or a pool of spawned worker processes."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from lrmzero.components import Executor, ObjectJobSpec


class LocalExecutor(Executor):
    """Worker processes on this machine (spawned, so each has its own GL context); with one worker,
    objects are made in this process. A failing object is retried, then recorded as failed."""

    name = "local"

    @dataclass
    class Config:
        pass

    def run(self, spec: ObjectJobSpec, indices: list[int], workers: int,
            record: Callable[[dict[str, Any]], None], failed: Callable[[int, BaseException], dict]) -> None:
        if workers == 1:
            for index in indices:
                for attempt in range(spec.retries + 1):
                    try:
                        record(spec(index))
                        break
                    except Exception as exc:  # noqa: BLE001 - one object's failure must not stop the run
                        if attempt == spec.retries:
                            record(failed(index, exc))
            return
        ctx = mp.get_context("spawn")  # each worker gets its own, clean state (GL contexts, threads)
        pending: dict[Future, tuple[int, int]] = {}
        queue = list(reversed(indices))
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_start) as pool:
            try:
                with _stop_signals_ignored_by_children():  # the pool spawns its workers on these submits
                    while queue and len(pending) < 2 * workers:
                        index = queue.pop()
                        pending[pool.submit(spec, index)] = (index, 0)
                while queue or pending:
                    while queue and len(pending) < 2 * workers:
                        index = queue.pop()
                        pending[pool.submit(spec, index)] = (index, 0)
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        index, attempt = pending.pop(fut)
                        exc = fut.exception()
                        if exc is None:
                            record(fut.result())
                        elif attempt < spec.retries:
                            pending[pool.submit(spec, index)] = (index, attempt + 1)
                        else:
                            record(failed(index, exc))
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _worker_start() -> None:
    """A worker's first call. Ctrl-C reaches every process of the terminal's group and a scheduler's
    SIGTERM often every process of the job: the parent cancels the queue and lets running objects
    finish, so workers ignore both instead of each dying with a traceback (and breaking the pool).
    A parent that dies without that (kill -9) takes its workers with it: otherwise they would wait
    on the queue for ever."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    _die_with_parent()


def _die_with_parent() -> None:
    # Linux's prctl(PR_SET_PDEATHSIG): no library offers it (psutil watches from outside, by polling)
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return  # not Linux: a worker outlives a killed parent there
    if os.getppid() != parent:  # the parent died before the request: nobody would send the signal
        os._exit(1)


@contextlib.contextmanager
def _stop_signals_ignored_by_children():
    """Spawn worker processes with SIGINT and SIGTERM ignored from their first instruction (an ignored
    signal is inherited, and Python keeps it ignored), so a signal during their imports prints nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

"""The ``local`` executor: this process (one worker) or a pool of spawned worker processes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
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
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_ignore_sigint) as pool:
            try:
                with _sigint_ignored_by_children():  # the pool spawns its workers on these submits
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


def _ignore_sigint() -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent cancels the queue and lets
    # running objects finish; workers ignore it instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Spawn worker processes with SIGINT ignored from their first instruction (an ignored signal
    is inherited, and Python keeps it ignored), so a Ctrl-C during their imports prints nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

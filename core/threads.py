"""Running a function over many items on a few threads, in order, with a progress bar."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_threads(fn: Callable[[Item], Result], items: Sequence[Item], workers: int = 1, bar=None,
                   chunk: int = 1024) -> Iterator[Result]:
    """``fn(item)`` of every item, yielded in order: on ``workers`` threads (for work that releases the
    GIL: Pillow's decoding and encoding, zlib, file reads), in this thread where ``workers`` <= 1.
    Submitted ``chunk`` items at a time (not 800K futures at once); ``bar`` (a tqdm) advances per result.
    Why not ``pool.map`` alone: it submits every item up front."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        try:
            for start in range(0, len(items), chunk):
                part = items[start:start + chunk]
                for result in pool.map(fn, part) if workers > 1 else map(fn, part):
                    if bar is not None:
                        bar.update()
                    yield result
        except BaseException:  # Ctrl-C, SIGTERM, a failure: the items not started are dropped, not waited for
            pool.shutdown(wait=False, cancel_futures=True)
            raise

"""The order a run reads its objects in: one seeded stream for the whole run, shared out among the
ranks by position, so that a resumed run continues it exactly."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch


class StepSampler(torch.utils.data.Sampler):
    """Yields ``(index, epoch)``: this rank's share of one stream of objects for the whole run.

    Position p of the stream is object ``perm_e[p mod size]`` of epoch ``e = p // size``
    (``perm_e`` a permutation from (seed, e), or weighted draws with per-object ``weights``).
    Global batch b is positions ``[b B W, (b + 1) B W)`` for batch size B and W ranks; rank r reads
    ``b B W + r B + [0, B)``. With ``repeats`` r > 1, r consecutive positions share one object, each
    with its own views (a generated object serves r samples: see ``data.samples_per_object``). So
    ranks never share an object within an epoch (r = 1), and the stream
    depends only on the seed: a run resumed after ``start_batch`` global batches (skipped ones
    included) sees exactly the batches an uninterrupted one does.
    """

    def __init__(self, size: int, seed: int, total_batches: int, batch_size: int,
                 weights: np.ndarray | None = None, rank: int = 0, world_size: int = 1,
                 start_batch: int = 0, repeats: int = 1) -> None:
        self.repeats = repeats
        self.size = size
        self.seed = seed
        self.total_batches = total_batches
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.weights = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        self._orders: dict[int, np.ndarray] = {}

    def order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            rng = np.random.default_rng([self.seed, epoch])
            self._orders = {epoch: rng.permutation(self.size) if self.weights is None
                            else rng.choice(self.size, size=self.size, p=self.weights)}
        return self._orders[epoch]

    def positions(self) -> Iterator[int]:
        """This rank's stream positions, in order."""
        B, W = self.batch_size, self.world_size
        for b in range(self.start_batch, self.total_batches):
            first = (b * W + self.rank) * B
            yield from range(first, first + B)

    def __len__(self) -> int:
        return max(0, self.total_batches - self.start_batch) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        r = self.repeats
        for p in self.positions():
            # with repeats r, r consecutive positions take one object (each with its own draw of
            # views: the second value keys the view choice); r = 1 is the plain stream
            q, k = divmod(p, r)
            epoch = q // self.size
            yield int(self.order(epoch)[q % self.size]), epoch * r + k

"""Object identity in a dataset: the folder name of object ``index`` and its random streams."""

from __future__ import annotations

import numpy as np


def object_id(index: int) -> str:
    """The folder name of object ``index`` in a dataset."""
    return f"{index:08d}"


def object_streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for (shape, augmentations, textures, cameras) of object ``index``.

    They depend only on (seed, index), so any worker, process or shard builds the same object;
    separate streams keep, e.g., the shapes unchanged when only the texture config changes.
    Composers use the first three; the render stage draws cameras from the fourth.
    """
    children = np.random.SeedSequence(entropy=seed, spawn_key=(index,)).spawn(4)
    return tuple(np.random.default_rng(c) for c in children)


def camera_stream(seed: int, index: int) -> np.random.Generator:
    """The generator the render stage draws object ``index``'s cameras from (:func:`object_streams`' fourth)."""
    return object_streams(seed, index)[3]

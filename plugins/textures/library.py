"""A fixed library of painted materials, kept on disk so that each is painted once per machine.

The official Zeroverse objects draw their materials from a fixed set (MatSynth's); a texture
source with a library does the same with its own materials: entry ``k`` is painted from its own
seed, so an object's materials depend only on the indices it draws, whether an entry came from
the disk or was painted just now. Painting a 512 px PBR material costs ~0.1-0.2 s on a CPU core;
reading one back, ~5 ms.

Written by hand: a cache of numpy arrays keyed by content is a few lines over ``np.savez``, and
joblib.Memory (the maintained option) hashes every call's arguments and pickles, which costs as
much as a small painting.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from lrmzero.cache import cache_folder
from lrmzero.components import Material

FIELDS = ("base_color", "roughness", "metallic", "normal")


def default_cache_dir() -> Path:
    """``$LRMZERO_CACHE/materials``, else ``$XDG_CACHE_HOME/lrmzero/materials``, else
    ``~/.cache/lrmzero/materials``."""
    return cache_folder("materials")


def source_fingerprint(*parts: object) -> str:
    """A short hash of ``parts`` (the painting code's text, its settings): a library folder's
    name, so that a change to either starts a new library instead of reading a stale one."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


class MaterialLibrary:
    """Entries ``0 .. size - 1`` of a library of materials.

    Args:
        paint: ``paint(rng) -> Material``, called for an entry not yet on disk with
            ``np.random.default_rng([seed, k])``.
        size: number of entries.
        folder: where entries are kept (one ``.npz`` per entry, written atomically, so processes
            and machines sharing the folder never read a partial file).
        seed: the library's seed.
    """

    def __init__(self, paint: Callable[[np.random.Generator], Material], size: int,
                 folder: Path, seed: int = 0) -> None:
        self.paint = paint
        self.size = size
        self.folder = Path(folder)
        self.seed = seed

    def draw(self, rng: np.random.Generator) -> Material:
        """An entry chosen uniformly with ``rng``."""
        return self.get(int(rng.integers(self.size)))

    def get(self, k: int) -> Material:
        if not 0 <= k < self.size:
            raise IndexError(f"material library entry {k} out of 0..{self.size - 1}")
        path = self.folder / f"{k:05d}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return Material(**{f: stored[f] if f in stored.files else None for f in FIELDS})
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                pass  # unreadable (a disk error, a foreign file): paint it again and replace it
        material = self.paint(np.random.default_rng([self.seed, k]))
        self._store(path, material)
        return material

    def _store(self, path: Path, material: Material) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f: getattr(material, f) for f in FIELDS if getattr(material, f) is not None}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # uncompressed: reading back costs a copy, not a decompression
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

"""The ``procedural`` data source: objects made by the generation pipeline inside the loader's
worker processes, never written to disk.

``--data procedural:objects=100000,seed=0,config=demo`` gives object i of seed s exactly as
``lrmzero generate --seed s --config demo`` writes it (the same function makes the files). Each
worker keeps its pipeline (components, GL context) and the last ``cache`` objects it made, so
several samples of one object (other input/target views) cost one generation.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lrmzero import param
from lrmzero.components import DataSource
from lrmzero.dataset import DONE_MARKER
from lrmzero.objects import object_id
from lrmzero.errors import ConfigError

_JOBS: dict[tuple[str, int], Any] = {}
_MADE: "OrderedDict[tuple[str, int, int], dict[str, bytes]]" = OrderedDict()


@dataclass(frozen=True)
class ProceduralObject:
    """Handle of object ``index``: made on first :meth:`read` in the reading process."""

    config: str
    seed: int
    index: int
    views: int
    cache: int

    @property
    def name(self) -> str:
        return object_id(self.index)

    def read(self, rel_path: str) -> bytes:
        files = self._files()
        if rel_path not in files:
            raise ValueError(f"procedural object {self.name} has no {rel_path}")
        return files[rel_path]

    def _files(self) -> dict[str, bytes]:
        key = (self.config, self.seed, self.index)
        if key in _MADE:
            _MADE.move_to_end(key)
            return _MADE[key]
        job = _JOBS.get((self.config, self.seed))
        if job is None:
            from lrmzero.plugins.generation.config import load_config
            from lrmzero.plugins.generation.runner import ObjectJob

            job = _JOBS[(self.config, self.seed)] = ObjectJob(load_config(self.config), self.seed, None)
        _, files, meta, _ = job.make_files(self.index)
        files = {**files, DONE_MARKER: json.dumps(meta, indent=2, sort_keys=True).encode()}
        _MADE[key] = files
        while len(_MADE) > self.cache:
            _MADE.popitem(last=False)
        return files


class ProceduralSource(DataSource):
    """Objects made on the fly by the generation pipeline (``--data procedural:objects=N,...``)."""

    name = "procedural"

    @dataclass
    class Config:
        objects: int = param(1000, "objects in the stream (object ids 0 .. objects-1)", ge=1)
        seed: int = param(0, "dataset seed: object i is what `lrmzero generate --seed SEED` makes", ge=0)
        config: str = param("default", "generation config: a packaged name or a YAML file")
        cache: int = param(8, "objects each worker keeps, so several samples share one generation", ge=1)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        from lrmzero.plugins.generation.config import load_config

        run = load_config(self.cfg.config)  # a wrong config fails here, before any work
        if not run.generate.render.enabled:
            raise ConfigError(f"procedural: config {self.cfg.config!r} renders no views (render.enabled=false)")
        self.views = run.generate.render.views

    def objects(self) -> list[ProceduralObject]:
        c = self.cfg
        return [ProceduralObject(c.config, c.seed, i, self.views, c.cache) for i in range(c.objects)]

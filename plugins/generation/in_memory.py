"""Objects in memory, for a notebook or a script: what ``lrmzero generate`` writes for an object, as
arrays, without writing it.

    from lrmzero.plugins.generation.in_memory import ObjectMaker

    make = ObjectMaker(config="demo", seed=0)       # components and renderer made once
    obj = make(3)                                   # object 3 of seed 0
    obj.views.rgba                                  # [V, H, W, 4] uint8, as rgba/NNN.png
    obj.views.cameras.c2w, obj.views.cameras.K      # [V, 4, 4] OpenCV camera-to-world, [V, 3, 3]
    obj.asset.vertices, obj.asset.faces             # the mesh mesh.glb holds
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from lrmzero.asset import Asset
from lrmzero.errors import ConfigError
from lrmzero.objects import camera_stream, object_id
from lrmzero.views import Views


@dataclass
class MadeObject:
    """One object: ``asset`` (mesh, UVs, PBR texture atlases, ``meta``), ``views`` (RGBA, depth,
    normals and cameras; None where the config's ``render.enabled`` is false) and its ``object_id``."""

    object_id: str
    asset: Asset
    views: Optional[Views]

    @property
    def meta(self) -> dict[str, Any]:
        """What ``meta.json`` describes: seed, index, parts, augmentations, materials, timings."""
        return self.asset.meta


class ObjectMaker:
    """Makes objects of one run: ``ObjectMaker(config, seed, overrides)(index)`` is object ``index`` of
    ``lrmzero generate --seed SEED --config CONFIG OVERRIDES`` (its views decode from the PNGs that
    command writes to these arrays). The composer and the renderer (a GL context) are made once,
    on the first call, and reused.

    Raises:
        ConfigError / PluginError: as ``lrmzero generate`` would, naming the key, when it is made.
    """

    def __init__(self, config: str | Path | None = None, seed: int = 0, overrides: Sequence[str] = ()) -> None:
        from lrmzero.plugins.generation.config import load_config

        if not isinstance(seed, int) or seed < 0:  # numpy's SeedSequence takes none below 0
            raise ConfigError(f"seed: got {seed!r}; allowed: an integer >= 0")
        self.run = load_config(config, overrides)
        self.seed = seed
        self._job = None

    def __call__(self, index: int) -> MadeObject:
        from lrmzero.plugins.generation.runner import ObjectJob

        if not isinstance(index, int) or index < 0:
            raise ConfigError(f"index: got {index!r}; allowed: an integer >= 0")
        if self._job is None:
            self._job = ObjectJob(self.run, self.seed, None)
        asset = self._job.composer.build(self.seed, index)
        stage = self._job.renderer
        views = stage.render(asset, camera_stream(self.seed, index)) if stage is not None else None
        oid = asset.meta["object_id"] = object_id(index)
        return MadeObject(oid, asset, views)

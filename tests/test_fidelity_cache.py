"""benchmarks/fidelity.py's Cycles render cache: a render is reused only for the same object, cameras
and what Cycles reads of the settings, and a cached render equals the one it stands for."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import trimesh

from lrmzero.asset import Asset
from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
from lrmzero.views import ShadingSettings

_spec = importlib.util.spec_from_file_location("fidelity", Path(__file__).parents[1] / "benchmarks" / "fidelity.py")
fidelity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fidelity)


@dataclasses.dataclass
class _Config:
    samples: int = 64


class _CountingRenderer:
    """Stands in for the cycles renderer: counts its renders, each one's pixels telling them apart."""

    blender_version = "5.0.1"

    def __init__(self) -> None:
        self.cfg, self.calls = _Config(), 0

    def render(self, asset, cams, settings):
        self.calls += 1
        rgba = np.full((len(cams), cams.height, cams.width, 4), self.calls, np.uint8)
        return type("Views", (), {"rgba": rgba})()


def _scene():
    box = trimesh.creation.box()
    asset = Asset(np.asarray(box.vertices), np.asarray(box.faces, np.int64), np.full((8, 2), 0.5),
                  np.full((4, 4, 3), 100, np.uint8), {"metallic_roughness": np.zeros((4, 4, 3), np.uint8)})
    cams = Cameras(look_at(np.array([[2.0, 0.5, 1.0]])), intrinsics_from_fov(16, 16, 50.0)[None], 16, 16)
    return asset, cams


def test_cache_reuses_a_render_only_for_what_it_depends_on(tmp_path):
    asset, cams = _scene()
    settings = ShadingSettings(shading="ao", levels=True)
    renderer = _CountingRenderer()
    first = fidelity.cached_render(renderer, asset, cams, settings, tmp_path)
    again = fidelity.cached_render(renderer, asset, cams, settings, tmp_path)
    assert renderer.calls == 1 and np.array_equal(first, again) and first.shape == (1, 16, 16, 4)
    # gl's bake settings are not Cycles' business: still cached
    fidelity.cached_render(renderer, asset, cams, dataclasses.replace(settings, ao_rays=64, ao_max_edge=0.1), tmp_path)
    assert renderer.calls == 1
    # each of these renders anew
    moved = Cameras(look_at(np.array([[2.0, 0.6, 1.0]])), cams.K, 16, 16)
    repainted = dataclasses.replace(asset, texture=np.full((4, 4, 3), 101, np.uint8))
    rough = dataclasses.replace(asset, maps={"metallic_roughness": np.ones((4, 4, 3), np.uint8)})
    for other in [(asset, moved, settings), (repainted, cams, settings), (rough, cams, settings),
                  (asset, cams, dataclasses.replace(settings, levels=False)),
                  (asset, cams, dataclasses.replace(settings, background=(0.0, 0.0, 0.0)))]:
        before = renderer.calls
        fidelity.cached_render(renderer, *other, tmp_path)
        assert renderer.calls == before + 1, other
    renderer.cfg.samples = 16
    fidelity.cached_render(renderer, asset, cams, settings, tmp_path)
    assert renderer.calls == 7
    assert len(list(tmp_path.glob("*.npy"))) == 7 and not list(tmp_path.glob("*.tmp.npy"))

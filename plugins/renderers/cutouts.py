"""Cut-outs (:data:`~lrmzero.asset.CUTOUT_MAP`, glTF's alphaMode MASK): where a ray meets a face in a hole
of its opacity map, the ray goes on. `gl` discards such fragments in its shader; this is the same test for
rays (the raycast renderer's, the light bake's), written here because Embree's filter callbacks, which
would do it inside the traversal, are not reachable through embreex."""

from __future__ import annotations

from typing import Callable

import numpy as np

from lrmzero.asset import CUTOUT_MAP
from lrmzero.plugins.renderers.texels import nearest

# A ray passes at most this many holes (leaves over leaves); the surface after them counts as hit.
MAX_HOLES = 16

SeeThrough = Callable[[np.ndarray, np.ndarray], np.ndarray]


def hole_test(asset) -> SeeThrough | None:
    """``test(face [N], bary [N, 3]) -> [N] bool``: whether the point of ``asset``'s face ``face`` at
    barycentric weights ``bary`` lies in a hole (its opacity below one half, the nearest texel); None for an
    asset without cut-outs."""
    opacity = asset.maps.get(CUTOUT_MAP)
    if opacity is None:
        return None
    coverage = np.ascontiguousarray(opacity[..., 0]) >= 128
    uv, faces = asset.uv, asset.faces

    def in_hole(face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        return ~nearest(coverage, np.einsum("ni,nij->nj", bary, uv[faces[face]]))

    return in_hole

"""Faces seen from both sides (:attr:`~lrmzero.asset.Asset.double_sided`), drawn as each face plus a copy
wound the other way: back-face culling then keeps, of each pair, the copy that faces the camera, and the
light baked per vertex (:mod:`occlusion`, which splits a position's corners by the side their face looks
to) is each side's own, so the inside of a cup of one wall is lit as an inside, as in Cycles.

Written here rather than left to the rasterizer (no culling, the normal turned to the viewer): that shows
the back of a face, but lit with what its front sees."""

from __future__ import annotations

import dataclasses

import numpy as np

BACK_CORNERS = [0, 2, 1]  # a face's back copy: its corners (a, b, c) as (a, c, b)


def with_back_faces(asset):
    """A double-sided asset with its back faces made explicit: faces ``[2F, 3]``, face ``F + i`` being face
    ``i``'s corners ``(a, c, b)`` (the same vertices, wound the other way); any other asset as it is."""
    if not asset.double_sided:
        return asset
    return dataclasses.replace(asset, faces=np.concatenate([asset.faces, asset.faces[:, BACK_CORNERS]]))


def has_back_faces(faces: np.ndarray) -> bool:
    """Whether ``faces [2F, 3]`` are F faces followed by their copies wound the other way, as
    :func:`with_back_faces` makes them."""
    half = len(faces) // 2
    return len(faces) % 2 == 0 and np.array_equal(faces[half:], faces[:half, BACK_CORNERS])


def facing_copies(tri: np.ndarray, bary: np.ndarray, away: np.ndarray, num_faces: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Hits on a mesh made by :func:`with_back_faces` (``num_faces`` = 2F), each moved to the copy of its
    face that faces the ray: ``tri [N]`` hit faces, ``bary [N, 3]`` their corners' weights, ``away [N]``
    whether the hit face looks away from where the ray came from. The two copies lie in one plane, so a ray's
    closest hit may be either; the copy of face ``i`` is ``(i + F) mod 2F``, its corners ``(a, c, b)``."""
    half = num_faces // 2
    tri = np.where(away, (tri + half) % num_faces, tri)
    bary = np.where(away[:, None], bary[:, BACK_CORNERS], bary)
    return tri, bary

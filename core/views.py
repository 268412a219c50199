"""`Views`: what a renderer returns for one object, and the settings every renderer honours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrmzero.cameras import Cameras


@dataclass
class ShadingSettings:
    """Settings common to all renderers (the `render` config section passes them on).

    Attributes:
        shading: ``unlit`` (albedo), ``lambert`` (albedo x (ambient + directional lights)),
            ``ao`` (albedo x per-vertex ambient occlusion: a uniform white environment's look).
        background: RGB in [0, 1] written where alpha is 0 (RGB stays straight, not premultiplied).
        ao_rays: rays per vertex when baking ambient occlusion.
        ao_distance: occluders farther than this do not darken.
    """

    shading: str = "ao"
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ao_rays: int = 16
    ao_distance: float = 0.5


@dataclass
class Views:
    """Rendered views of one object.

    Attributes:
        rgba: ``[V, H, W, 4]`` uint8, straight alpha; RGB is ``background`` where alpha is 0.
        depth: ``[V, H, W]`` float32 camera-space z (along the optical axis), 0 where empty.
        normal: ``[V, H, W, 3]`` float32 world-space unit normals, 0 where empty.
        cameras: the cameras they were rendered with.
    """

    rgba: np.ndarray
    depth: np.ndarray
    normal: np.ndarray
    cameras: Cameras

    @property
    def mask(self) -> np.ndarray:
        """``[V, H, W]`` bool: pixels covered by the object (alpha >= 0.5)."""
        return self.rgba[..., 3] >= 128

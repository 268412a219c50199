"""`Views`: what a renderer returns for one object, and the settings every renderer honours."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrmzero.cameras import Cameras


@dataclass
class ShadingSettings:
    """Settings common to all renderers (the `render` config section passes them on).

    Attributes:
        shading: ``unlit`` (base colour), ``lambert`` (base colour x (ambient + directional
            lights)), ``ao`` (Zeroverse's uniform white environment: ambient occlusion, one diffuse
            bounce, roughness-dependent specular with Fresnel). Shading is in linear space.
        background: display RGB in [0, 1] that the colour is composited over (all of it where
            alpha is 0).
        ao_rays: rays per vertex when baking ambient occlusion.
        ao_distance: occluders farther than this do not darken.
        ao_smoothing: neighbour-averaging passes over the baked occlusion (less noise).
        levels: the official per-object auto-levels (1st/99th percentiles of the opaque pixels,
            of all views together) before gamma; off gives the shaded values as they are.
        ao_split_creases: bake the occlusion once per side of each sharp edge instead of once per
            position, so a strut's inner face is as dark as the cage around it makes it.
        ao_bounce: the light along occluded directions (one diffuse bounce): ``uniform``, one grey
            value per object (mean albedo x mean visibility); ``traced``, per vertex, the colour and
            light of the surfaces its occluded rays hit.
        ao_max_edge: renderers that bake light per vertex first split the mesh's edges longer than
            this (object units; 0: never), so a long face is lit along its length, not from its ends.
        ao_bounce_stride: with ``traced``, every this-th ray of a vertex's pattern is traced to what it
            hits (the others only say whether they are occluded: faster).
    """

    shading: str = "ao"
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ao_rays: int = 16
    ao_distance: float = 1.0
    ao_smoothing: int = 0
    levels: bool = False
    ao_split_creases: bool = False
    ao_bounce: str = "uniform"
    ao_max_edge: float = 0.0
    ao_bounce_stride: int = 1


@dataclass
class Views:
    """Rendered views of one object.

    Attributes:
        rgba: ``[V, H, W, 4]`` uint8, gamma 1/2.2; RGB composited over ``background`` as the
            official Zeroverse renders are (``background`` where alpha is 0, blended at edges);
            alpha is the pixel's coverage.
        depth: ``[V, H, W]`` float32 camera-space z (along the optical axis), 0 where empty.
        normal: ``[V, H, W, 3]`` float32 world-space unit normals, 0 where empty.
        cameras: the cameras they were rendered with.
        timings: seconds the renderer spent on its steps, by name (optional: ``gl`` gives ``bake``,
            ``upload``, ``draw`` and ``tone``, ``raycast`` ``bake``, ``trace`` and ``tone``); the generation
            writes them into ``meta.json``'s ``timings`` as ``render.<step>``.
    """

    rgba: np.ndarray
    depth: np.ndarray
    normal: np.ndarray
    cameras: Cameras
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        """``[V, H, W]`` bool: pixels covered by the object (alpha >= 0.5)."""
        return self.rgba[..., 3] >= 128

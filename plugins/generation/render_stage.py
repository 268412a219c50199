"""The render stage: choose a renderer and camera sampler, render an asset, encode the views."""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from lrmzero.cameras import opencv_cameras_dict
from lrmzero.components import RendererUnavailable
from lrmzero.plugins.generation.config import RenderConfig, RunConfig
from lrmzero.registry import Registries
from lrmzero.views import ShadingSettings, Views

log = logging.getLogger("lrmzero")


def make_renderer(run: RunConfig, registries: Registries):
    """The configured renderer; ``auto`` takes the first of ``render.auto_order`` that can start
    here, and says once (a warning) why it passed over the others."""
    name = run.generate.render.renderer
    configs = run.components.get("renderers", {})
    if name != "auto":
        return registries.renderers.get(name).factory(configs[name])
    reasons = []
    for candidate in run.generate.render.auto_order:
        if candidate not in registries.renderers:
            continue
        try:
            renderer = registries.renderers.get(candidate).factory(configs[candidate])
        except RendererUnavailable as exc:
            reasons.append(str(exc))
            continue
        if reasons:
            log.warning("render.renderer=auto chose %s because %s", candidate, "; ".join(reasons))
        return renderer
    raise RendererUnavailable("render.renderer=auto: no renderer can run here: " + "; ".join(reasons))


def shading_settings(cfg: RenderConfig) -> ShadingSettings:
    return ShadingSettings(cfg.shading, tuple(cfg.background), cfg.ao_rays, cfg.ao_distance, cfg.ao_smoothing,
                           cfg.levels, cfg.ao_split_creases, cfg.ao_bounce, cfg.ao_max_edge, cfg.ao_bounce_stride)


class RenderStage:
    """One per worker process: renders assets and encodes their views into files."""

    def __init__(self, run: RunConfig, registries: Registries) -> None:
        self.cfg = run.generate.render
        self.png_level = run.generate.output.png_compress_level
        self.renderer = make_renderer(run, registries)
        self.sampler = registries.camera_samplers.get(self.cfg.cameras).factory(
            run.components["camera_samplers"][self.cfg.cameras]
        )
        self.settings = shading_settings(self.cfg)
        # PNG encoding releases the GIL: two threads overlap it with other work.
        self.pool = ThreadPoolExecutor(2)

    def render(self, asset, rng: np.random.Generator, on_view=None) -> Views:
        """The asset's views from ``render.views`` cameras the run's sampler draws from ``rng``
        (``on_view(i, rgba, depth, normal)``: called as each view is ready, where the renderer can)."""
        res = self.cfg.resolution
        cameras = self.sampler.sample(self.cfg.views, res, res, rng)
        return self.renderer.render(asset, cameras, self.settings, on_view=on_view)

    def render_and_encode(self, asset, rng: np.random.Generator) -> tuple[Views, dict[str, bytes], dict[str, Any]]:
        """Render the asset and encode its views into files while the next views render.

        Returns the views, the object folder's files (rgba, depth, normal, opencv_cameras.json)
        and the render part of meta.json.
        """
        jobs: dict[str, Any] = {}

        def on_view(i, rgba, depth, normal) -> None:
            jobs.update(self._submit(f"{i:03d}", rgba.copy(), depth.copy(), normal.copy()))

        views = self.render(asset, rng, on_view)
        names = [f"{i:03d}" for i in range(len(views.rgba))]
        if len(jobs) < len(names) * (3 if self.cfg.depth_format == "png16" else 2):
            for i, n in enumerate(names):  # a renderer that does not call on_view
                if f"rgba/{n}.png" not in jobs:
                    jobs.update(self._submit(n, views.rgba[i], views.depth[i], views.normal[i]))
        files = {path: fut.result() for path, fut in sorted(jobs.items())}
        if self.cfg.depth_format == "npz":
            buf = io.BytesIO()
            np.savez_compressed(buf, depth=views.depth.astype(np.float32))
            files["depth/depth.npz"] = buf.getvalue()
        cams = opencv_cameras_dict(views.cameras, [f"rgba/{n}.png" for n in names])
        files["opencv_cameras.json"] = json.dumps(cams, indent=1).encode()
        meta = {
            "renderer": self.renderer.name,
            "camera_sampler": self.cfg.cameras,
            "views": len(names),
            "resolution": self.cfg.resolution,
            "shading": self.cfg.shading,
            "background": list(self.cfg.background),
            "levels": self.cfg.levels,
            "rgb": "composited over background, gamma 1/2.2",
            "rgb_composited": True,
            "depth": {"format": self.cfg.depth_format, "scale": self.cfg.depth_scale, "empty": 0},
            "normal": "world-space, (n * 0.5 + 0.5) * 255, alpha = mask",
        }
        return views, files, meta

    def _submit(self, name: str, rgba, depth, normal) -> dict[str, Any]:
        level = self.png_level
        jobs = {f"rgba/{name}.png": self.pool.submit(png_bytes, rgba, level)}
        jobs[f"normal/{name}.png"] = self.pool.submit(normal_png, normal, depth > 0, level)
        if self.cfg.depth_format == "png16":
            jobs[f"depth/{name}.png"] = self.pool.submit(depth_png, depth, self.cfg.depth_scale, level)
        return jobs


def normal_png(normal: np.ndarray, mask: np.ndarray, level: int) -> bytes:
    """World normals ``[H, W, 3]`` as RGBA PNG: RGB = (n * 0.5 + 0.5) * 255, A = mask."""
    rgb = np.round((normal * 0.5 + 0.5) * 255.0).astype(np.uint8) * mask[..., None]
    return png_bytes(np.concatenate([rgb, mask[..., None].astype(np.uint8) * 255], -1), level)


def depth_png(depth: np.ndarray, scale: float, level: int) -> bytes:
    """Camera z ``[H, W]`` as 16-bit PNG in units of ``scale`` (0: empty)."""
    return png_bytes(np.clip(np.round(depth / scale), 0, 65535).astype(np.uint16), level)


def png_bytes(image: np.ndarray, level: int) -> bytes:
    """PNG of a uint8 ``[H, W, C]`` (C = 1, 3, 4; RGB order) or uint16 ``[H, W]`` image.

    OpenCV's libpng with the Paeth filter and run-length zlib: at level 1, ~2x faster than Pillow's
    adaptive filtering for these images (flat backgrounds, smooth shading) and a few % smaller.
    Releases the GIL, so the stage's threads overlap it with rendering."""
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, level,
                                             cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
                                             cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH])
    if not ok:
        raise ValueError(f"PNG encoding failed for an image of {image.dtype} {image.shape}")
    return data.tobytes()

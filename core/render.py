"""The render stage: choose a renderer and camera sampler, render an asset, encode the views."""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from lrmzero.cameras import opencv_cameras_dict
from lrmzero.components import RendererUnavailable
from lrmzero.config import RenderConfig, RunConfig
from lrmzero.registry import Registries
from lrmzero.views import ShadingSettings, Views

log = logging.getLogger("lrmzero")
AUTO_ORDER = ("gl", "raycast")


def make_renderer(run: RunConfig, registries: Registries):
    """The configured renderer; ``auto`` takes ``gl`` if it can start here, else ``raycast``, and
    says once (a warning) why it fell back."""
    name = run.generate.render.renderer
    configs = run.components.get("renderers", {})
    if name != "auto":
        return registries.renderers.get(name).factory(configs[name])
    reasons = []
    for candidate in AUTO_ORDER:
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
    return ShadingSettings(cfg.shading, tuple(cfg.background), cfg.ao_rays, cfg.ao_distance)


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
        # Pillow releases the GIL while encoding: two threads overlap it with other work.
        self.pool = ThreadPoolExecutor(2)

    def render(self, asset, rng: np.random.Generator) -> Views:
        res = self.cfg.resolution
        cameras = self.sampler.sample(self.cfg.views, res, res, rng)
        return self.renderer.render(asset, cameras, self.settings)

    def encode(self, views: Views) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Files of the object's folder (rgba, depth, normal, opencv_cameras.json) and render meta."""
        names = [f"{i:03d}" for i in range(len(views.rgba))]
        jobs = {}
        for i, n in enumerate(names):
            jobs[f"rgba/{n}.png"] = self.pool.submit(png_bytes, views.rgba[i], self.png_level)
            normal = np.round((views.normal[i] * 0.5 + 0.5) * 255.0).astype(np.uint8)
            mask = (views.depth[i] > 0).astype(np.uint8)[..., None] * 255
            jobs[f"normal/{n}.png"] = self.pool.submit(png_bytes, np.concatenate([normal * (mask > 0), mask], -1), self.png_level)
            if self.cfg.depth_format == "png16":
                steps = np.round(views.depth[i] / self.cfg.depth_scale)
                jobs[f"depth/{n}.png"] = self.pool.submit(png_bytes, np.clip(steps, 0, 65535).astype(np.uint16), self.png_level)
        files = {path: fut.result() for path, fut in jobs.items()}
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
            "depth": {"format": self.cfg.depth_format, "scale": self.cfg.depth_scale, "empty": 0},
            "normal": "world-space, (n * 0.5 + 0.5) * 255, alpha = mask",
        }
        return files, meta


def png_bytes(image: np.ndarray, level: int) -> bytes:
    """PNG of a uint8 ``[H, W, C]`` or uint16 ``[H, W]`` image."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=level)  # uint16 -> mode I;16
    return buf.getvalue()

"""`cycles`: Blender Cycles with the official Zeroverse settings (uniform white world, 64 samples,
one diffuse and one glossy bounce, denoising, 1.5 px filter, transparent film), on the CPU or with
OptiX / CUDA where present. The paper-faithful renderer, and the reference `gl` is measured against
(benchmarks/fidelity.py).

Blender's `bpy` pins its own numpy, so it lives in its own environment::

    python -m venv ~/.bpy && ~/.bpy/bin/pip install bpy   # Python 3.11
    lrmzero generate ... render.renderer=cycles renderers.cycles.python=~/.bpy/bin/python

(or set LRMZERO_BPY_PYTHON). Each object is rendered by `cycles_worker.py` in a child process of that
Python; colour goes through the same tone chain as `gl` (levels over all views, composite over the
background, gamma 1/2.2). Depth and normals are geometry, so they are ray cast here (embree) at the
pixel centres: the same values a Cycles pass would hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lrmzero import param
from lrmzero.asset import CUTOUT_MAP, EMISSIVE_MAP, MAP_NAMES
from lrmzero.cameras import Cameras
from lrmzero.components import Renderer, RendererUnavailable
from lrmzero.plugins.renderers.raycast import RaycastRenderer
from lrmzero.tone import finish_views
from lrmzero.views import ShadingSettings, Views

WORKER = Path(__file__).with_name("cycles_worker.py")


class CyclesRenderer(Renderer):
    """Blender Cycles in a child process with bpy (see the module docstring)."""

    name = "cycles"

    @dataclass
    class Config:
        python: str = param("", "a Python with bpy installed (empty: $LRMZERO_BPY_PYTHON, else this one)")
        samples: int = param(64, "path-tracing samples per pixel", ge=1, le=65536)
        denoise: bool = param(True, "OpenImageDenoise on the result, as the official renders")
        filter_width: float = param(1.5, "pixel filter width in pixels", gt=0.0, le=10.0)
        device: str = param("auto", "auto (OptiX, then CUDA, else CPU), CPU, CUDA or OPTIX",
                            choices=["auto", "CPU", "CUDA", "OPTIX"])
        threads: int = param(0, "CPU threads (0: all)", ge=0, le=1024)
        timeout_s: float = param(3600.0, "longest a single object may render", gt=0.0)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self.python = os.path.expanduser(self.cfg.python or os.environ.get("LRMZERO_BPY_PYTHON", "") or sys.executable)
        try:
            probe = subprocess.run([self.python, "-c", "import bpy; print(bpy.app.version_string)"],
                                   capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RendererUnavailable(f"cycles: cannot run {self.python!r} ({exc})") from None
        if probe.returncode != 0:
            raise RendererUnavailable(
                f"cycles: {self.python!r} has no bpy; install it in its own environment "
                "(python3.11 -m venv ~/.bpy && ~/.bpy/bin/pip install bpy) and set "
                "renderers.cycles.python=~/.bpy/bin/python or LRMZERO_BPY_PYTHON")
        self.blender_version = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "?"

    def render(self, asset, cameras: Cameras, settings: ShadingSettings, on_view=None) -> Views:
        W, H = int(cameras.width), int(cameras.height)
        if not np.allclose(cameras.K[:, 0, 0], cameras.K[:, 1, 1], rtol=1e-6):
            raise ValueError("renderer cycles: fx != fy (non-square pixels) is not supported")
        if settings.shading != "ao":
            raise ValueError(f"renderer cycles: shading {settings.shading!r}; allowed: ao (Cycles lights the "
                             "object with the uniform white world)")
        with tempfile.TemporaryDirectory(prefix="lrmzero-cycles-") as tmp:
            folder = Path(tmp)
            np.savez(folder / "scene.npz", vertices=asset.vertices, faces=asset.faces, uv=asset.uv,
                     w2c=cameras.w2c, K=cameras.K)
            Image.fromarray(asset.texture).save(folder / "base_color.png")
            for name in MAP_NAMES:
                Image.fromarray(asset.map_or_flat(name)).save(folder / f"{name}.png")
            for name in (CUTOUT_MAP, EMISSIVE_MAP):  # the worker wires them where there are any
                if name in asset.maps:
                    Image.fromarray(asset.maps[name]).save(folder / f"{name}.png")
            (folder / "settings.json").write_text(json.dumps({
                "samples": self.cfg.samples, "denoise": self.cfg.denoise, "filter_width": self.cfg.filter_width,
                "device": self.cfg.device, "threads": self.cfg.threads, "width": W, "height": H, "seed": 0}))
            run = subprocess.run([self.python, str(WORKER), str(folder)], capture_output=True, text=True,
                                 timeout=self.cfg.timeout_s)
            if run.returncode != 0 or not (folder / "rgba.npy").exists():
                tail = (run.stdout + run.stderr).strip().splitlines()[-8:]
                raise RuntimeError("renderer cycles: Blender failed:\n" + "\n".join(tail))
            premultiplied = np.load(folder / "rgba.npy")
        alpha = np.clip(premultiplied[..., 3], 0.0, 1.0)
        # the official chain un-premultiplies where alpha > 1e-3
        straight = np.where(alpha[..., None] > 1e-3, premultiplied[..., :3] / np.maximum(alpha[..., None], 1e-3), 0.0)
        geometry = RaycastRenderer().render(asset, cameras, ShadingSettings(shading="unlit"))
        return finish_views(straight, alpha, geometry.depth, geometry.normal, cameras, settings, on_view)

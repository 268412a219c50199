"""A trained checkpoint as a Python object: posed views in, the model's 3D outputs, renders and export
out. ``lrmzero reconstruct`` is this plus files; a notebook uses it directly:

    from lrmzero.plugins.trainers.lightning.reconstructor import Reconstructor

    rec = Reconstructor("runs/tiny")                       # a .ckpt or a run folder; device="auto"
    outputs = rec(views, cameras)                          # views [V, H, W, 4] uint8 RGBA, OpenCV cameras
    images = rec.render(outputs, other_cameras)            # [T, S, S, 3] float32 in [0, 1]
    rec.export(outputs, "out/")                            # gaussians.ply / .splat, or mesh.glb
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from lrmzero.cameras import Cameras
from lrmzero.components import render_model
from lrmzero.errors import ConfigError
from lrmzero.plugin_manager import get_registries
from lrmzero.plugins.trainers.lightning.checkpoints import inference_device, load_checkpoint, to_device
from lrmzero.plugins.trainers.lightning.data.views import composite, resize_rgba
from lrmzero.rays import plucker_rays


class Reconstructor:
    """A checkpoint of ``lrmzero train`` loaded for inference on ``device`` (``auto``: CUDA where there
    is one; kernels and renderers the device lacks fall back, see ``ReconstructionModel.prepare``).

    Attributes:
        model: the model component (its ``render`` and ``export``); ``net``: the network, in eval mode.
        resolution: the square size views are resized to, as trained; ``background``: the RGB [3] in
            [0, 1] the model was trained over; ``input_views``: the view count it was trained with
            (others work where the model allows, e.g. GS-LRM).

    Raises:
        ConfigError: naming ``--checkpoint`` or ``--device`` when either is not usable.
    """

    def __init__(self, checkpoint: str | Path, device: str = "auto") -> None:
        self.device = inference_device(device)
        self.model, self.net, self.hparams = load_checkpoint(checkpoint, get_registries(), self.device)
        data = self.hparams["train"]["data"]
        self.resolution: int = int(data["resolution"])
        self.background: tuple = tuple(float(x) for x in data["background"])
        self.input_views: int = int(data["input_views"])

    def views_as_seen(self, views: np.ndarray, composited_over: Optional[Sequence[float]] = None) -> torch.Tensor:
        """``views [V, H, W, 4]`` uint8 RGBA (or ``[V, H, W, 3]`` RGB: opaque) as the model sees them:
        resized to :attr:`resolution` and composited over :attr:`background`, ``[V, 3, S, S]`` float32
        in [0, 1]. ``composited_over``: the background their RGB is already composited over (lrmzero's
        renders: ``render.background``, white by default), else None: straight alpha.

        Raises:
            ConfigError: naming ``views`` when their shape, type or aspect is not one of these.
        """
        views = np.asarray(views)
        if views.ndim != 4 or views.shape[-1] not in (3, 4) or views.dtype != np.uint8:
            raise ConfigError(f"views: got {views.dtype} {tuple(views.shape)}; allowed: uint8 [V, H, W, 4] "
                              "RGBA or [V, H, W, 3] RGB")
        mode = "RGBA" if views.shape[-1] == 4 else "RGB"
        try:
            rgba = np.stack([resize_rgba(Image.fromarray(v, mode).convert("RGBA"), self.resolution,
                                         composited_over is not None, f"views[{i}]") for i, v in enumerate(views)])
        except ValueError as exc:
            raise ConfigError(f"views: {exc}") from None
        baked = None if composited_over is None else torch.tensor([[*composited_over, 1.0]]).expand(len(views), 4)
        return composite(torch.from_numpy(rgba), torch.tensor(self.background, dtype=torch.float32), baked)

    @torch.no_grad()
    def __call__(self, views: np.ndarray | torch.Tensor, cameras: Cameras,
                 composited_over: Optional[Sequence[float]] = None) -> dict:
        """The network's outputs (batch of one object) for posed views: ``views`` as
        :meth:`views_as_seen` takes them (or a float tensor ``[V, 3, S, S]`` it returned), ``cameras``
        their OpenCV cameras (any image size: their intrinsics are rescaled to :attr:`resolution`).

        Raises:
            ConfigError: naming ``cameras`` when their count differs from the views'.
        """
        seen = views if isinstance(views, torch.Tensor) else self.views_as_seen(views, composited_over)
        if len(cameras) != len(seen):
            raise ConfigError(f"cameras: got {len(cameras)} for {len(seen)} views; allowed: one per view")
        res = self.resolution
        c2w = torch.from_numpy(cameras.c2w).float()
        K = torch.from_numpy(cameras.resized(res, res).K).float()
        batch = {"images": seen[None], "rays": plucker_rays(c2w, K, res, res)[None], "c2w": c2w[None], "K": K[None]}
        return self.net(to_device(batch, self.device))

    @torch.no_grad()
    def render(self, outputs: dict, cameras: Cameras, size: Optional[int] = None) -> np.ndarray:
        """The reconstruction seen by ``cameras`` (OpenCV, rescaled to ``size``; default: their own
        width, which must equal their height) over :attr:`background`: ``[T, S, S, 3]`` float32 in [0, 1]."""
        if size is None:
            if cameras.width != cameras.height:
                raise ConfigError(f"cameras: {cameras.width}x{cameras.height} images; allowed: square ones, or a size")
            size = cameras.width
        w2c = torch.from_numpy(np.linalg.inv(cameras.c2w)).float()[None].to(self.device)
        K = torch.from_numpy(cameras.resized(size, size).K).float()[None].to(self.device)
        background = torch.tensor(self.background, dtype=torch.float32, device=self.device)
        rgb = render_model(self.model, outputs, w2c, K, size, background, with_depth=False)["rgb"]
        return rgb[0].clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()

    def export(self, outputs: dict, folder: str | Path) -> dict[str, Path]:
        """The model's export of the object into ``folder`` (GS-LRM: ``gaussians.ply`` and
        ``gaussians.splat``; the triplane LRM: ``mesh.glb``): ``{name: path}``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return self.model.export(outputs, folder)

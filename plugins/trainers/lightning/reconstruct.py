"""`lrmzero reconstruct`: posed images -> the model's export (Gaussians as .ply, a mesh, ...) and a
turntable of rendered views."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at, read_opencv_cameras, write_opencv_cameras
from lrmzero.dataset import check_output_folder, check_positive, view_path
from lrmzero.plugins.trainers.lightning.data.sources import spec_options
from lrmzero.plugins.trainers.lightning.data.views import composited_over, load_view, render_section
from lrmzero.errors import ConfigError
from lrmzero.plugins.trainers.lightning.reconstructor import Reconstructor
from lrmzero.plugin_manager import get_registries

log = logging.getLogger("lrmzero")


def turntable_cameras(radius: float, views: int, size: int, fov_deg: float = 50.0, elevation_deg: float = 20.0):
    az = np.radians(np.arange(views) * 360.0 / views)
    el = np.radians(elevation_deg)
    eyes = radius * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.full_like(az, np.sin(el))], -1)
    c2w = look_at(eyes)
    K = np.repeat(intrinsics_from_fov(size, size, fov_deg)[None], views, 0)
    return c2w, K


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def input_cameras(spec: str, folder: Path, size: int, registries) -> tuple[Cameras, list[Path]]:
    """The input views' cameras and image files, from ``spec``: a cameras file (``opencv_cameras.json``;
    its ``file_path`` entries name the images under ``folder``), or a camera sampler
    ``NAME[:key=value,...]`` (e.g. ``orbit:elevations_deg=[20],radius=2.2``) that poses every image of
    ``folder``, in name order: images from a turntable or a multi-view diffusion model, whose
    cameras are a known rig rather than a file.

    Raises:
        ConfigError: naming ``--cameras`` or ``--images`` and what is wrong.
    """
    name = spec.partition(":")[0]
    samplers = registries.kind("camera_samplers")
    if not Path(spec).is_file() and name in samplers:
        sampler = samplers.build(name, spec_options(spec, "--cameras"), f"--cameras {name}")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(f"--images: no image ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r} "
                              f"for --cameras {spec!r} to pose")
        try:
            return sampler.sample(len(files), size, size, np.random.default_rng(0)), files
        except ValueError as exc:
            raise ConfigError(f"--cameras {spec!r}: {exc}") from None
    if not Path(spec).is_file():
        raise ConfigError(f"--cameras: got {spec!r}, neither a file nor a camera sampler; allowed: a cameras file "
                          f"(opencv_cameras.json) or NAME[:key=value,...] of {', '.join(samplers.names())}")
    try:
        cams, paths = read_opencv_cameras(spec)
    except ValueError as exc:
        raise ConfigError(f"--cameras: {exc}") from None
    if cams.width != cams.height:
        raise ConfigError(f"--cameras: {spec!r}: views are {cams.width}x{cams.height}; allowed: square views")
    files = []
    for p in paths:
        try:
            candidates = [view_path(folder, p)]
        except ValueError as exc:
            raise ConfigError(f"--cameras: {exc}") from None
        candidates.append(folder / Path(p).name)
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"--images: no image {p!r} under {str(folder)!r}")
        files.append(found)
    return cams, files


@torch.no_grad()
def reconstruct(checkpoint: str, images: str, cameras: str, out: str, turntable_views: int = 24,
                turntable_size: int = 128, device: str = "auto") -> dict[str, Path]:
    """The model's export of the object seen in ``images`` (posed by ``cameras``) written to
    ``out`` (``gaussians.ply`` and ``.splat`` for GS-LRM), with ``inputs/`` (the views as the model
    saw them) and ``turntable/`` (rendered predictions), each an ``opencv_cameras.json`` with its
    PNGs so ``lrmzero view OUT`` shows them around the reconstruction, and ``turntable.png``/``.gif``.
    Arguments, checkpoint and images are all checked first. ``device``: ``auto`` (CUDA where there
    is one), ``cpu``, ``cuda[:N]``.

    Raises:
        ConfigError: naming the option, file or value that is wrong; nothing is written then.
    """
    check_positive(turntable_views, "--turntable-views")
    check_output_folder(out, "--out")
    rec = Reconstructor(checkpoint, device)
    res = rec.resolution
    folder = Path(images)
    if not folder.is_dir():
        raise ConfigError(f"--images: {images!r} is not a folder")
    cams, files = input_cameras(cameras, folder, res, get_registries())
    try:
        under = composited_over(render_section(folder))  # lrmzero's views: RGB already over a background
        seen = torch.from_numpy(np.stack([load_view(f, res, rec.background, under) for f in files]))
    except ValueError as exc:
        raise ConfigError(f"--images: {exc}") from None
    warn_if_not_over_background(seen, rec.background)
    outputs = rec(seen, cams)
    out_dir = Path(out)
    written = rec.export(outputs, out_dir)
    radius = float(np.linalg.norm(cams.c2w[:, :3, 3], axis=1).mean())
    fov = float(np.degrees(2 * np.arctan(cams.width / 2 / cams.K[0, 0, 0])))
    tc2w, tK = turntable_cameras(radius, turntable_views, turntable_size, fov)
    turntable = Cameras(tc2w, tK, turntable_size, turntable_size)
    frames = (rec.render(outputs, turntable) * 255).astype(np.uint8)
    seen = (seen.permute(0, 2, 3, 1).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    _write_views(out_dir / "inputs", cams.resized(res, res), seen)
    _write_views(out_dir / "turntable", turntable, frames)
    strip = out_dir / "turntable.png"
    Image.fromarray(np.concatenate(list(frames[:: max(1, len(frames) // 8)]), axis=1)).save(strip)
    gif = out_dir / "turntable.gif"
    pil = [Image.fromarray(f) for f in frames]
    pil[0].save(gif, save_all=True, append_images=pil[1:], duration=80, loop=0)
    return {**written, "turntable": strip, "gif": gif}


def warn_if_not_over_background(views: torch.Tensor, background, frame: int = 2, tolerance: float = 0.1) -> bool:
    """Say so when input views ``[V, 3, S, S]`` (composited as the model sees them) do not show the
    object alone over the training background, as photos with their own background do: in more
    than half of the views, 90% of the outer ``frame`` pixels differ from it by more than
    ``tolerance``. (A Zeroverse object may fill some views' frames: at most a quarter of the views
    of 80 generated objects; a photo's background fills every one.) Returns whether it warned."""
    S = views.shape[-1]
    ring = torch.ones(S, S, dtype=torch.bool)
    ring[frame:S - frame, frame:S - frame] = False
    off = (views[:, :, ring] - torch.tensor(background, dtype=views.dtype)[None, :, None]).abs().amax(dim=1)
    covered = int(((off > tolerance).float().mean(dim=1) > 0.9).sum())
    if covered * 2 <= len(views):
        return False
    log.warning("--images: %d of %d views are framed by something other than the background the model was "
                "trained on (%s): it expects the object alone over it; remove a photo's background first "
                "(keep the alpha), or the reconstruction will try to explain the background too", covered,
                len(views), list(background))
    return True


def _write_views(folder: Path, cameras: Cameras, images: np.ndarray) -> None:
    """``images`` ``[V, H, W, 3]`` uint8 as ``folder/NNN.png`` with their ``opencv_cameras.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:03d}.png" for i in range(len(images))]
    for name, image in zip(names, images):
        Image.fromarray(image).save(folder / name)
    write_opencv_cameras(folder / "opencv_cameras.json", cameras, names)

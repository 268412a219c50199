"""An object's views and depth maps read as arrays: RGBA decoded and resized (``[4, S, S]`` uint8),
composited over a background, depth maps in object units; the conventions of ``meta.json``'s ``render``
section and of the official ``zeroverse_rgba.py`` layout."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from lrmzero.dataset import DONE_MARKER
from lrmzero.images import convert_8bit
from lrmzero.shards import ShardObject, has_object_file, read_object_file


def read_view(obj: Path | ShardObject, rel: str, size: int, composited: bool = False) -> np.ndarray:
    """View ``rel`` of an object as :func:`load_rgba` gives it; a JPEG view ``X/N.jpg`` (JPEG
    shards) takes its alpha from ``alpha/N.png``, and is opaque without one (another tool's JPEG views;
    lrmzero's own, with a ``meta.json``, always keep it: one missing is an error, as ``validate`` says).

    Raises:
        ValueError: a view of lrmzero's own JPEG shards whose alpha is missing.
    """
    alpha = None
    if rel.endswith(".jpg"):
        alpha_rel = f"alpha/{Path(rel).stem}.png"
        try:
            alpha = read_object_file(obj, alpha_rel)
        except FileNotFoundError:
            if has_object_file(obj, DONE_MARKER):  # not opaque: its silhouette was lost, not absent
                raise ValueError(f"{rel}: its alpha {alpha_rel} is missing") from None
    return load_rgba(rel, size, read_object_file(obj, rel), alpha, composited)


# What the official zeroverse_rgba.py writes beside opencv_cameras.json (its tone chain's levels) and the
# convention of its views: RGB composited over white in linear light, then gamma 1/2.2, as lrmzero's.
OFFICIAL_MARKER = "minmax.txt"
OFFICIAL_RENDER = {"rgb_composited": True, "background": [1.0, 1.0, 1.0]}


def render_section(obj: Path | ShardObject) -> dict | None:
    """The ``render`` section of an object's ``meta.json``; for a folder without one that the official
    ``zeroverse_rgba.py`` wrote (its ``minmax.txt`` present), that script's convention (RGB composited over
    white, no depth maps); else None (or where it cannot be read)."""
    try:
        return json.loads(read_object_file(obj, "meta.json")).get("render")
    except FileNotFoundError:
        official = isinstance(obj, (Path, ShardObject)) and has_object_file(obj, OFFICIAL_MARKER)
        return dict(OFFICIAL_RENDER) if official else None
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def composited_over(render: dict | None) -> tuple[float, float, float] | None:
    """The background an object's view RGB is already composited over, as its ``meta.json``'s
    ``render`` section (:func:`render_section`) records with ``rgb_composited`` (lrmzero's renders:
    the official convention), else None: straight alpha, as other datasets store RGBA."""
    if not render or not render.get("rgb_composited"):
        return None
    return tuple(float(x) for x in render["background"])


def load_rgba(path: Path | str, size: int, data: bytes | None = None, alpha: bytes | None = None,
              composited: bool = False) -> np.ndarray:
    """An RGBA view (the file ``path``, or its bytes ``data``; ``alpha``: the bytes of a separate
    8-bit alpha image) resized to ``size``: ``[4, S, S]`` uint8. Straight alpha is resized
    premultiplied (Pillow's RGBA rule); a ``composited`` view (RGB already over a background) is
    resized as the plain image it is, alpha beside it.

    Raises:
        ValueError: for a non-square view (it would be squashed) or an image that cannot be decoded.
    """
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as im:
            im.load()
            rgba = convert_8bit(im, "RGBA")
        if alpha is not None:
            with Image.open(io.BytesIO(alpha)) as a:
                rgba.putalpha(convert_8bit(a, "L"))
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: cannot be decoded as an image ({' '.join(str(exc).split())})") from None
    return resize_rgba(rgba, size, composited, str(path))


def resize_rgba(rgba: Image.Image, size: int, composited: bool = False, name: str = "view") -> np.ndarray:
    """A square RGBA image resized to ``size`` as :func:`load_rgba` does: ``[4, S, S]`` uint8.

    Raises:
        ValueError: for a non-square image (it would be squashed), naming it ``name``.
    """
    if rgba.size[0] != rgba.size[1]:
        raise ValueError(f"{name}: the view is {rgba.size[0]}x{rgba.size[1]}; allowed: square views")
    if rgba.size != (size, size):
        method = Image.BOX if rgba.size[0] > size else Image.BILINEAR
        if composited:
            resized = rgba.convert("RGB").resize((size, size), method)
            resized.putalpha(rgba.getchannel("A").resize((size, size), method))
            rgba = resized
        else:
            rgba = rgba.resize((size, size), method)
    return np.asarray(rgba).transpose(2, 0, 1)


def read_depths(obj: Path | ShardObject, views: Sequence[tuple[int, str]], size: int,
                render: dict | None = None) -> np.ndarray:
    """The camera-z depth maps of ``views`` (``(index, file path)`` pairs) resized to ``size``:
    ``[T, 1, S, S]`` float32 in object units, 0 where a view is empty. The format and scale come from
    ``render`` (the ``meta.json`` section the caller read) or ``meta.json``, then ``depth/NNN.png``
    (16-bit) per view or ``depth/depth.npz`` once; resizing averages the non-empty pixels of each box.

    Raises:
        ValueError, KeyError, FileNotFoundError: a missing or unreadable depth map (named).
    """
    if render is None:
        render = render_section(obj)
    spec = (render or {}).get("depth")
    if not spec:
        raise ValueError("has no depth maps (no render.depth in its meta.json): loss.depth_weight needs them")
    if spec["format"] == "npz":
        stack = np.load(io.BytesIO(read_object_file(obj, "depth/depth.npz")))["depth"]
        maps = [stack[index].astype(np.float32) for index, _ in views]
    else:
        maps = []
        for _, rel in views:
            name = f"depth/{Path(rel).stem}.png"
            try:
                with Image.open(io.BytesIO(read_object_file(obj, name))) as im:
                    maps.append(np.asarray(im, np.float32) * float(spec["scale"]))
            except (OSError, SyntaxError) as exc:
                raise ValueError(f"{name}: cannot be decoded as a depth map ({exc})") from None
    return np.stack([_resize_depth(depth, size) for depth in maps])


def _resize_depth(depth: np.ndarray, size: int) -> np.ndarray:
    """``[H, W]`` depth (0 = empty) -> ``[1, S, S]``: the mean of each box's non-empty pixels, 0
    where fewer than half of them are non-empty."""
    if depth.shape != (size, size):
        valid = (depth > 0).astype(np.float32)
        box = lambda a: np.asarray(Image.fromarray(a, mode="F").resize((size, size), Image.BOX))  # noqa: E731
        coverage = box(valid)
        depth = np.where(coverage > 0.5, box(depth * valid) / np.maximum(coverage, 1e-6), 0.0).astype(np.float32)
    return depth[None]


def composite(rgba: torch.Tensor, background: torch.Tensor, baked: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 RGBA ``[B, ..., 4, H, W]`` over an RGB ``background [3]``: float ``[B, ..., 3, H, W]``
    in [0, 1].

    ``baked [B, 4]``: per item, the background its RGB is already composited over and a flag (1:
    composited, 0: straight alpha). Straight RGB is composited as ``c a + bg (1 - a)``; composited
    RGB ``x`` becomes ``x + (bg - baked) (1 - a)``: itself when the backgrounds agree (no second
    blend at the edges), exact where alpha is 0 or 1 otherwise, blended in display values between."""
    f = rgba.float() / 255.0
    alpha = f[..., 3:, :, :]
    colour = f[..., :3, :, :]
    bg = background.to(f.device, f.dtype)[:, None, None]
    straight = colour * alpha + bg * (1 - alpha)
    if baked is None:
        return straight
    shape = (baked.shape[0],) + (1,) * (rgba.dim() - 4)
    under = baked[:, :3].to(f.dtype).reshape(*shape, 3, 1, 1)
    flag = baked[:, 3].reshape(*shape, 1, 1, 1) > 0.5
    return torch.where(flag, colour + (bg - under) * (1 - alpha), straight)


def load_view(path: Path, size: int, background: Sequence[float],
              under: Sequence[float] | None = None) -> np.ndarray:
    """An RGBA view resized to ``size`` and composited over ``background``: ``[3, S, S]`` float32.
    ``under``: the background its RGB is already composited over (see :func:`composited_over`)."""
    rgba = torch.from_numpy(load_rgba(path, size, composited=under is not None).copy())[None]  # writable
    baked = torch.tensor([[*under, 1.0]]) if under is not None else None
    return composite(rgba, torch.tensor(background, dtype=torch.float32), baked)[0].numpy()

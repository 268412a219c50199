"""Training data: objects written by `lrmzero generate` as batches of the model contract (input
views, their Plucker rays and cameras) plus target views."""

from __future__ import annotations

import glob
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from lrmzero.cameras import parse_opencv_cameras
from lrmzero.dataset import DONE_MARKER, object_folders, why_no_objects
from lrmzero.errors import ConfigError
from lrmzero.images import convert_8bit
from lrmzero.rays import plucker_rays
from lrmzero.shards import ShardObject, has_object_file, is_shard_dataset, is_url, read_index, read_object_file

log = logging.getLogger("lrmzero")


def find_objects(root: str | Path) -> list[Path | ShardObject]:
    """The objects of a dataset: its finished object folders (sorted), or, for a packed dataset
    (``index.json``), its objects inside the shards in index order. Either kind is read through
    :func:`read_object_file`."""
    source = data_source(root)
    if source is not None:
        return list(source.objects())
    if not is_url(root) and not Path(root).is_dir():
        raise ConfigError(f"--data: {str(root)!r} is not a folder")
    try:  # shards, in a folder or behind an fsspec URL (s3://, gs://, https://, ...)
        if is_shard_dataset(root):
            return read_index(root)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigError(f"--data: {root}: {exc}") from None
    if is_url(root):
        raise ConfigError(f"--data: {root} holds no index.json; allowed at a URL: shards (lrmzero pack)")
    objects = [p for p in object_folders(root) if (p / "opencv_cameras.json").is_file()]
    if objects and not (objects[0] / DONE_MARKER).is_file():  # object_folders' lrmzero folders all have one
        log.warning("--data %s: no meta.json in its %d object folders: read as the Zeroverse layout another tool "
                    "wrote; views are straight RGBA, except beside the official zeroverse_rgba.py's minmax.txt "
                    "(RGB composited over white, as that script writes it); no depth maps", root, len(objects))
    return objects


def data_source_name(spec: str | Path) -> str | None:
    """The registered data source ``--data NAME:key=value,...`` names, or None when ``spec`` is a
    path or a URL (cheap: nothing is built)."""
    text = str(spec)
    name, sep, _ = text.partition(":")
    if not sep or Path(text).exists():
        return None
    from lrmzero.plugin_manager import get_registries

    return name if name in get_registries().kind("data_sources") else None


def expand_data_roots(roots: Sequence[str | Path]) -> list[str]:
    """``--data`` values with each local glob pattern (``data/zv-*``: the folders 16 machines wrote
    with ``--shard k/16``) replaced by the folders it matches, sorted; paths that exist, URLs and data
    sources as they are.

    Raises:
        ConfigError: a pattern that matches no folder.
    """
    expanded = []
    for root in map(str, roots):
        if Path(root).exists() or is_url(root) or data_source_name(root) is not None \
                or not any(c in root for c in "*?["):
            expanded.append(root)
            continue
        folders = sorted(p for p in glob.glob(root) if Path(p).is_dir())
        if not folders:
            raise ConfigError(f"--data: {root!r} matches no folder; allowed: a dataset folder, a pattern of "
                              "dataset folders (data/zv-*), shards (a folder or URL) or a data source NAME:...")
        expanded += folders
    return expanded


def data_source(spec: str | Path):
    """The data source component ``--data NAME:key=value,...`` names (e.g. ``procedural:objects=1000,
    seed=0,config=demo``), built and validated; None when ``spec`` is a path."""
    name = data_source_name(spec)
    if name is None:
        return None  # not a data source: treated as a path (and refused as one if missing)
    from lrmzero.plugin_manager import get_registries

    return get_registries().kind("data_sources").build(name, spec_options(str(spec)), f"--data {name}")


def spec_options(spec: str, option: str = "--data") -> dict:
    """The options of a component spec ``NAME:key=value,...`` (``--data procedural:objects=1000``,
    ``--cameras orbit:elevations_deg=[20,-10],radius=2.2``) as a dict; commas inside brackets belong
    to a list value.

    Raises:
        ConfigError: naming ``option``, the component and the option that is not ``key=value``."""
    from omegaconf import OmegaConf

    from lrmzero.config import parse_overrides

    name, _, params = spec.partition(":")
    options = [p for p in re.split(r",(?![^\[]*\])", params) if p]
    layer = parse_overrides(options, f"{name}:key=value,key=value", f"{option} {name}:") if options else None
    return OmegaConf.to_container(layer) if layer is not None else {}


def view_count(obj: Path | ShardObject) -> int | None:
    """Frames in the object's ``opencv_cameras.json``, or None if it cannot be read (a data
    source's handle says how many it will have, without making the object)."""
    if not isinstance(obj, (Path, ShardObject)):
        return obj.views
    try:
        frames = json.loads(read_object_file(obj, "opencv_cameras.json")).get("frames")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return len(frames) if isinstance(frames, list) else None


def objects_with_views(objects: Sequence[Path], needed: int, where: str, option: str) -> list[Path]:
    """The objects that have at least ``needed`` views; a warning counts those left out.

    Raises:
        ConfigError: when no object has enough views (naming ``where`` and the counts found), so a
            run never starts on data it cannot use.
    """
    counts = [view_count(o) for o in objects]
    usable = [o for o, n in zip(objects, counts) if n is not None and n >= needed]
    if not usable:
        found = sorted({n for n in counts if n is not None})
        unreadable = sum(n is None for n in counts)
        raise ConfigError(
            f"--data: no object of {where} has the {needed} views that {option} needs "
            f"(view counts found: {found or 'none'}; unreadable cameras: {unreadable} of {len(objects)})"
        )
    if len(usable) < len(objects):
        log.warning("--data %s: %d of %d objects have fewer than %d views (or unreadable cameras) and "
                    "are left out", where, len(objects) - len(usable), len(objects), needed)
    return usable


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


@dataclass
class ViewSelection:
    input_views: int = 4
    target_views: int = 8
    resolution: int = 64
    background: tuple = (1.0, 1.0, 1.0)
    fixed: bool = False  # the same views every epoch (inputs evenly spaced), e.g. to over-fit
    depth: bool = False  # also read the target views' depth maps (``target_depth``)


class ObjectViews(torch.utils.data.Dataset):
    """Items are ``(index, epoch)`` (or an index): V input views with Plucker rays and T target views
    (the inputs first, then other views), drawn from a generator seeded by (seed, index, epoch).

    ``holdout=True`` (evaluation) takes inputs evenly spaced and every other view as a target;
    ``select.fixed`` (training) takes the same evenly spaced inputs and the first other views.
    A broken object (missing view, corrupt PNG, inconsistent cameras) yields None and a warning
    naming it; the collate function drops it.
    """

    def __init__(self, objects: Sequence[Path], select: ViewSelection, seed: int = 0, holdout: bool = False):
        self.objects = list(objects)
        self.select = select
        self.seed = seed
        self.holdout = holdout
        self._warned: set[Path] = set()

    def __len__(self) -> int:
        return len(self.objects)

    def choose(self, num_views: int, index: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.select
        needed = s.input_views + 1 if self.holdout else max(s.input_views, s.target_views)
        if num_views < needed:
            raise ValueError(f"has {num_views} views, fewer than the {needed} needed "
                             f"(input_views={s.input_views}, target_views={s.target_views})")
        if self.holdout or s.fixed:
            inputs = np.linspace(0, num_views, s.input_views, endpoint=False).astype(int)
            rest = np.setdiff1d(np.arange(num_views), inputs)
            if self.holdout:
                return inputs, rest
            return inputs, np.concatenate([inputs, rest[: max(0, s.target_views - s.input_views)]])
        rng = np.random.default_rng([self.seed, index, epoch])
        order = rng.permutation(num_views)
        inputs = order[: s.input_views]
        extra = order[s.input_views : max(s.input_views, s.target_views)]
        return inputs, np.concatenate([inputs, extra])

    def __getitem__(self, key) -> dict[str, Any] | None:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        folder = self.objects[index]
        try:
            return self.load(folder, index, epoch)
        except (OSError, ValueError, KeyError) as exc:
            if folder not in self._warned:  # once per object and process: a broken set must not flood the log
                self._warned.add(folder)
                log.warning("skipping object %s: %s", folder, exc)
            return None

    def load(self, folder: Path | ShardObject, index: int, epoch: int) -> dict[str, Any]:
        s = self.select
        cams, paths = parse_opencv_cameras(read_object_file(folder, "opencv_cameras.json"),
                                           f"{folder}/opencv_cameras.json")
        inputs, targets = self.choose(len(cams), index, epoch)
        K = cams.resized(s.resolution, s.resolution).K

        if cams.width != cams.height:
            raise ValueError(f"views are {cams.width}x{cams.height}; allowed: square views")

        # every view once (the inputs are also targets in training), as uint8 RGBA: composited
        # and turned into rays on the device (to_model_batch), a quarter of the bytes of float RGB
        unique = list(dict.fromkeys([*inputs.tolist(), *targets.tolist()]))
        render = render_section(folder)  # meta.json once: the RGB convention and the depth format
        under = composited_over(render)
        views = np.stack([read_view(folder, paths[i], s.resolution, under is not None) for i in unique])
        position = {view: n for n, view in enumerate(unique)}
        c2w = torch.from_numpy(cams.c2w).float()
        Kt = torch.from_numpy(K).float()
        extra = {}
        if s.depth:
            extra["target_depth"] = torch.from_numpy(
                read_depths(folder, [(i, paths[i]) for i in targets.tolist()], s.resolution, render))
        return {
            **extra,
            "object_id": folder.name,
            "views": torch.from_numpy(views),
            # the background the RGB is composited over and 1, or zeros: straight alpha
            "baked": torch.tensor([*under, 1.0] if under is not None else [0.0] * 4),
            "input_index": torch.as_tensor([position[i] for i in inputs.tolist()]),
            "target_index": torch.as_tensor([position[i] for i in targets.tolist()]),
            "c2w": c2w[inputs],
            "K": Kt[inputs],
            "target_w2c": torch.linalg.inv(c2w[targets]),
            "target_K": Kt[targets],
            "input_ids": torch.as_tensor(inputs),
            "target_ids": torch.as_tensor(targets),
        }


def to_model_batch(batch: dict[str, Any], background: torch.Tensor) -> dict[str, Any]:
    """A collated batch as the model contract takes it, computed where ``batch`` is (the GPU in
    training): ``images [B, V, 3, S, S]`` and ``target_images [B, T, 3, S, S]`` composited over
    ``background``, ``target_alpha [B, T, 1, S, S]`` in [0, 1], Plucker ``rays [B, V, 6, S, S]``;
    c2w, K, target_w2c, target_K (and target_depth where read) as given."""
    views = batch["views"]  # [B, U, 4, S, S] uint8
    B, _, _, S, _ = views.shape
    rgb = composite(views, background, batch.get("baked"))
    rows = torch.arange(B, device=views.device)[:, None]
    out = {k: v for k, v in batch.items() if k not in ("views", "input_index", "target_index", "baked")}
    out["images"] = rgb[rows, batch["input_index"]]
    out["target_images"] = rgb[rows, batch["target_index"]]
    out["target_alpha"] = views[rows, batch["target_index"], 3:4].float() / 255.0
    V = batch["c2w"].shape[1]
    out["rays"] = plucker_rays(batch["c2w"].flatten(0, 1), batch["K"].flatten(0, 1), S, S).reshape(B, V, 6, S, S)
    return out


def collate(items: list[dict | None]) -> dict[str, Any] | None:
    """Stack items, dropping broken ones (None); None if nothing is left."""
    items = [i for i in items if i is not None]
    if not items:
        return None
    out: dict[str, Any] = {"object_id": [i["object_id"] for i in items]}
    for key in items[0]:
        if key != "object_id":
            out[key] = torch.stack([i[key] for i in items])
    return out


def collate_for_training(items: list[dict | None]) -> dict[str, Any]:
    """:func:`collate`, except that a batch whose objects were all broken becomes an empty batch
    (``object_id == []``) rather than None: Lightning silently skips None batches, and the trainer
    must see them to stop after too many in a row."""
    return collate(items) or {"object_id": []}


class StepSampler(torch.utils.data.Sampler):
    """Yields ``(index, epoch)``: this rank's share of one stream of objects for the whole run.

    Position p of the stream is object ``perm_e[p mod size]`` of epoch ``e = p // size``
    (``perm_e`` a permutation from (seed, e), or weighted draws with per-object ``weights``).
    Global batch b is positions ``[b B W, (b + 1) B W)`` for batch size B and W ranks; rank r reads
    ``b B W + r B + [0, B)``. With ``repeats`` r > 1, r consecutive positions share one object, each
    with its own views (a generated object serves r samples: see ``data.samples_per_object``). So
    ranks never share an object within an epoch (r = 1), and the stream
    depends only on the seed: a run resumed after ``start_batch`` global batches (skipped ones
    included) sees exactly the batches an uninterrupted one does.
    """

    def __init__(self, size: int, seed: int, total_batches: int, batch_size: int,
                 weights: np.ndarray | None = None, rank: int = 0, world_size: int = 1,
                 start_batch: int = 0, repeats: int = 1) -> None:
        self.repeats = repeats
        self.size = size
        self.seed = seed
        self.total_batches = total_batches
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.weights = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        self._orders: dict[int, np.ndarray] = {}

    def order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            rng = np.random.default_rng([self.seed, epoch])
            self._orders = {epoch: rng.permutation(self.size) if self.weights is None
                            else rng.choice(self.size, size=self.size, p=self.weights)}
        return self._orders[epoch]

    def positions(self) -> Iterator[int]:
        """This rank's stream positions, in order."""
        B, W = self.batch_size, self.world_size
        for b in range(self.start_batch, self.total_batches):
            first = (b * W + self.rank) * B
            yield from range(first, first + B)

    def __len__(self) -> int:
        return max(0, self.total_batches - self.start_batch) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        r = self.repeats
        for p in self.positions():
            # with repeats r, r consecutive positions take one object (each with its own draw of
            # views: the second value keys the view choice); r = 1 is the plain stream
            q, k = divmod(p, r)
            epoch = q // self.size
            yield int(self.order(epoch)[q % self.size]), epoch * r + k


def recorded_min_views(root: str | Path) -> int | None:
    """The fewest views of an object of ``root`` that a clean check recorded (``validated.json``),
    while the objects stay as they were then; else None."""
    from lrmzero.dataset_check import dataset_fingerprint, matching_record

    record = matching_record(root, False, dataset_fingerprint(root))
    views = record.get("min_views") if record else None
    return views if isinstance(views, int) else None


def mixed_objects(roots: Sequence[str | Path], weights: Sequence[float] | None, min_views: int = 1,
                  option: str = "data.input_views", fewest_views: dict[str, int | None] | None = None,
                  uncounted: Collection[str] = ()) -> tuple[list[Path], np.ndarray | None]:
    """All objects of several dataset roots with at least ``min_views`` views, and per-object
    sampling weights so that root r is drawn with probability weights[r] (None: every object equally).
    ``fewest_views``: the fewest views per object of the roots the start-up check just checked or
    trusted (:func:`refuse_invalid`); other roots' counts come from a matching record, else from
    reading every object's cameras, except for ``uncounted`` roots: ranks started together count
    their views in their shared check and leave out the objects with too few there.

    Raises:
        ConfigError: a root that is not a folder, holds no rendered objects or none with enough views,
            or a weight count that does not match the roots.
    """
    per_root = []
    for root in roots:
        objs = find_objects(root)
        if not objs:
            raise ConfigError(f"--data: {str(root)!r} {why_no_objects(root)}")
        known = fewest_views or {}
        recorded = known[str(root)] if str(root) in known else recorded_min_views(root)
        if (recorded is not None and recorded >= min_views) or str(root) in uncounted:
            per_root.append(objs)  # a clean check counted them (or will): not 800K camera files read again
        else:
            per_root.append(objects_with_views(objs, min_views, repr(str(root)), option))
    objects = [o for objs in per_root for o in objs]
    if weights is None:
        return objects, None
    if len(weights) != len(roots):
        raise ConfigError(f"data.weights: got {len(weights)} weights for {len(roots)} --data roots; "
                          "allowed: one weight per --data")
    if sum(weights) <= 0:
        raise ConfigError(f"data.weights: got {list(weights)}; allowed: non-negative numbers with a positive sum")
    w = np.concatenate([np.full(len(objs), wt / len(objs)) for objs, wt in zip(per_root, weights)])
    return objects, w

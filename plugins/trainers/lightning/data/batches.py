"""lrmzero data in a training loop of your own: batches of posed views, the stream ``lrmzero train``
reads (same seed, same objects, same views), as the model contract's tensors.

    from lrmzero.plugins.trainers.lightning.data.batches import posed_view_batches

    for batch in posed_view_batches("data/zv", steps=1000, batch_size=8, device="cuda"):
        batch["images"], batch["rays"]                 # [B, V, 3, S, S] in [0, 1], Plucker [B, V, 6, S, S]
        batch["target_images"], batch["target_w2c"]    # [B, T, 3, S, S], OpenCV [B, T, 4, 4]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from lrmzero.errors import ConfigError
from lrmzero.plugins.trainers.lightning.checkpoints import to_device
from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection, collate, to_model_batch
from lrmzero.plugins.trainers.lightning.data.sampler import StepSampler
from lrmzero.plugins.trainers.lightning.data.sources import find_objects


def posed_view_batches(data: str | Path | Sequence[str | Path], steps: int, batch_size: int = 8,
                       input_views: int = 4, target_views: int = 8, resolution: int = 256, seed: int = 0,
                       background: Sequence[float] = (1.0, 1.0, 1.0), num_workers: int = 0,
                       device: str | torch.device = "cpu") -> Iterator[dict[str, Any]]:
    """``steps`` batches of ``batch_size`` objects from the dataset(s) ``data`` (folders or shards;
    several are pooled), each with ``input_views`` inputs and ``target_views`` targets (the inputs
    first) drawn per object and pass, resized to ``resolution`` and composited over ``background``,
    on ``device``:

    ``images [B, V, 3, S, S]`` and ``target_images [B, T, 3, S, S]`` in [0, 1], ``target_alpha
    [B, T, 1, S, S]``, Plucker ``rays [B, V, 6, S, S]`` (o x d, d), ``c2w [B, V, 4, 4]`` OpenCV
    camera-to-world and ``K [B, V, 3, 3]`` pixel intrinsics of the inputs, ``target_w2c [B, T, 4, 4]``
    and ``target_K [B, T, 3, 3]``, ``object_id`` (a list); broken objects are left out with a warning
    (a batch may hold fewer). The order is ``lrmzero train``'s for this ``seed`` and ``batch_size``:
    every object once per pass, shuffled per pass.

    Raises:
        ConfigError: naming the dataset when it holds no objects.
    """
    roots = [data] if isinstance(data, (str, Path)) else list(data)
    objects = [obj for root in roots for obj in find_objects(str(root))]
    if not objects:
        raise ConfigError(f"data: {', '.join(repr(str(r)) for r in roots)} holds no finished object")
    select = ViewSelection(input_views, target_views, resolution, tuple(background))
    views = ObjectViews(objects, select, seed=seed)
    sampler = StepSampler(len(objects), seed, steps, batch_size)
    loader = torch.utils.data.DataLoader(views, batch_size=batch_size, sampler=sampler, collate_fn=collate,
                                         num_workers=num_workers, pin_memory=torch.device(device).type == "cuda")
    background_t = torch.tensor(background, dtype=torch.float32, device=device)
    for batch in loader:
        if batch is None:  # every object of this batch was broken (warned)
            continue
        yield to_model_batch(to_device(batch, device, non_blocking=True), background_t)

"""Texture tiles cropped from a user's own folder of images (e.g. a local MatSynth copy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lrmzero import ConfigError, param
from lrmzero.components import TextureSource

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageFolder(TextureSource):
    """A random crop (random scale, position and right-angle rotation) of a random image in ``path``.

    Images are found recursively and sorted by path, so the choice is deterministic per generator.
    """

    name = "image_folder"

    @dataclass
    class Config:
        path: str = param("", "folder searched recursively for images (required when selected)")
        min_crop: float = param(0.25, "smallest crop side, as a fraction of the image's short side", gt=0.0, le=1.0)
        max_crop: float = param(1.0, "largest crop side, as a fraction of the image's short side", gt=0.0, le=1.0)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        root = Path(self.cfg.path).expanduser()
        if not self.cfg.path or not root.is_dir():
            raise ConfigError(
                f"textures.image_folder.path: got {self.cfg.path!r}; allowed: an existing folder "
                "of images (set textures.image_folder.path=/your/folder)"
            )
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS)
        if not self.files:
            raise ConfigError(
                f"textures.image_folder.path: {str(root)!r} holds no images with extensions "
                f"{', '.join(EXTENSIONS)}"
            )

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        path = self.files[int(rng.integers(len(self.files)))]
        try:
            with Image.open(path) as im:
                img = im.convert("RGB")
        except OSError as exc:
            raise ValueError(f"texture image {str(path)!r} cannot be read: {exc}") from None
        short = min(img.size)
        lo, hi = sorted((self.cfg.min_crop, self.cfg.max_crop))
        side = max(1, int(short * rng.uniform(lo, hi)))
        x0 = int(rng.integers(0, img.size[0] - side + 1))
        y0 = int(rng.integers(0, img.size[1] - side + 1))
        tile = img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)
        return np.rot90(np.asarray(tile, np.uint8), int(rng.integers(4))).copy()

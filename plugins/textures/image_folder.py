"""Texture tiles cropped from a user's own folder of images, or PBR materials from MatSynth-style
folders (one folder per material holding its basecolor, roughness, metallic and normal maps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lrmzero import ConfigError, param
from lrmzero.components import Material, TextureSource
from lrmzero.images import convert_8bit

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# File-name stems (lower case, as MatSynth and most PBR sets name them) of each map.
MAP_NAMES = {
    "base_color": ("basecolor", "base_color", "albedo", "diffuse", "color"),
    "roughness": ("roughness", "rough"),
    "metallic": ("metallic", "metalness", "metal"),
    "normal": ("normal", "normalgl", "normal_gl"),
}


def map_kind(path: Path) -> str | None:
    """Which map a file's name says it is (``basecolor.png``, ``Wood_042_roughness.jpg``), or None."""
    stem = path.stem.lower()
    for key, names in MAP_NAMES.items():
        if any(stem == n or stem.endswith("_" + n) for n in names):
            return key
    return None


def material_maps(images: list[Path]) -> dict[str, Path] | None:
    """The maps among one folder's ``images`` when they include a base colour (a material), else None."""
    found: dict[str, Path] = {}
    for path in sorted(images):
        key = map_kind(path)
        if key is not None:
            found.setdefault(key, path)
    return found if "base_color" in found else None


def rotate_normals(normal: np.ndarray, quarter_turns: int) -> np.ndarray:
    """A tangent-space normal map ``[S, S, 3]`` uint8 turned by ``quarter_turns`` x 90 degrees
    counter-clockwise (``np.rot90``): the texels move and their (x, y) turn with them."""
    n = np.rot90(normal, quarter_turns).astype(np.int16) - 128
    x, y = n[..., 0].copy(), n[..., 1].copy()
    for _ in range(quarter_turns % 4):
        x, y = -y, x
    out = np.stack([x, y, n[..., 2]], -1) + 128
    return np.clip(out, 0, 255).astype(np.uint8)


class ImageFolder(TextureSource):
    """A random crop (random scale, position and right-angle rotation) of a random image or
    material in ``path``.

    Found recursively and sorted by path, so the choice is deterministic per generator. A folder
    whose images include a base colour (``basecolor.png``, ``albedo.jpg``, ``..._basecolor.png``;
    also roughness, metallic and normal maps, as MatSynth stores them) is one PBR material, cropped
    alike in every map; other images are plain base colours.
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
        # each entry: the maps of one material ({"base_color": path} for a plain image)
        self.entries: list[dict[str, Path]] = []
        by_folder: dict[Path, list[Path]] = {}
        for p in root.rglob("*"):
            if p.suffix.lower() in EXTENSIONS and p.is_file():
                by_folder.setdefault(p.parent, []).append(p)
        for images in by_folder.values():
            maps = material_maps(images)
            if maps is not None:  # a material folder: its other images (height, AO, ...) are not colours
                self.entries.append(maps)
            else:  # plain images; a lone roughness, metallic or normal map is never a base colour
                self.entries += [{"base_color": p} for p in images if map_kind(p) in (None, "base_color")]
        self.entries.sort(key=lambda e: str(e["base_color"]))
        if not self.entries:
            raise ConfigError(
                f"textures.image_folder.path: {str(root)!r} holds no images with extensions "
                f"{', '.join(EXTENSIONS)}"
            )
        self.files = [e["base_color"] for e in self.entries]

    def paint_material(self, size: int, rng: np.random.Generator) -> Material:
        entry = self.entries[int(rng.integers(len(self.entries)))]
        images = {key: self._open(path, "L" if key in ("roughness", "metallic") else "RGB")
                  for key, path in entry.items()}
        base = images["base_color"]
        short = min(base.size)
        lo, hi = sorted((self.cfg.min_crop, self.cfg.max_crop))
        side = max(1, int(short * rng.uniform(lo, hi)))
        x0 = int(rng.integers(0, base.size[0] - side + 1))
        y0 = int(rng.integers(0, base.size[1] - side + 1))
        turns = int(rng.integers(4))
        tiles = {}
        for key, img in images.items():
            if img.size != base.size:  # maps stored at another resolution: crop the same region
                img = img.resize(base.size, Image.BILINEAR)
            tile = np.asarray(img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR), np.uint8)
            tiles[key] = rotate_normals(tile, turns) if key == "normal" else np.rot90(tile, turns).copy()
        return Material(tiles["base_color"], tiles.get("roughness"), tiles.get("metallic"), tiles.get("normal"))

    def paint(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return self.paint_material(size, rng).base_color

    @staticmethod
    def _open(path: Path, mode: str) -> Image.Image:
        try:
            with Image.open(path) as im:
                return convert_8bit(im, mode)
        except OSError as exc:
            raise ValueError(f"texture image {str(path)!r} cannot be read: {exc}") from None

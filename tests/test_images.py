"""Views and texture maps of any bit depth read as 8 bits per channel, scaled, not clipped
(Pillow's own conversion of 16-bit greyscale clips every value above 255 to white)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from lrmzero.images import convert_8bit, to_8bit
from lrmzero.plugin_manager import get_registries
from lrmzero.plugins.trainers.lightning.data.views import load_rgba


def wide_grey(tmp_path, values: np.ndarray, name: str = "grey16.png"):
    path = tmp_path / name
    assert cv2.imwrite(str(path), values.astype(np.uint16))  # OpenCV writes the 16-bit PNG: an independent writer
    return path


def test_16_bit_grey_scales_to_8_bits(tmp_path):
    values = np.linspace(0, 65535, 64 * 64).reshape(64, 64)
    path = wide_grey(tmp_path, values)
    expected = np.rint(cv2.imread(str(path), cv2.IMREAD_UNCHANGED) / 257.0).astype(np.uint8)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # what Pillow makes of it; its convert("L") would clip to 255
        assert np.array_equal(np.asarray(to_8bit(im)), expected)
        rgba = np.asarray(convert_8bit(im, "RGBA"))
    assert np.array_equal(rgba[..., 0], expected) and np.array_equal(rgba[..., 2], expected)
    assert (rgba[..., 3] == 255).all()
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0, 2.0]], np.float32), "F")
    assert np.asarray(to_8bit(floats)).tolist() == [[0, 128, 255, 255]]
    eight = Image.fromarray(np.zeros((2, 2, 3), np.uint8))
    assert to_8bit(eight) is eight


def test_views_of_16_bits_load_as_their_values(tmp_path):
    grey = wide_grey(tmp_path, np.full((32, 32), 30000))
    view = load_rgba(grey, 16)  # [4, S, S] uint8
    assert view.shape == (4, 16, 16) and (view[:3] == round(30000 / 257)).all() and (view[3] == 255).all()
    rgba16 = np.random.default_rng(0).integers(0, 65536, (16, 16, 4)).astype(np.uint16)
    rgba16[..., 3] = 65535
    path = tmp_path / "rgba16.png"
    cv2.imwrite(str(path), rgba16[..., [2, 1, 0, 3]])  # OpenCV's channel order is BGRA
    view = load_rgba(path, 16).transpose(1, 2, 0).astype(int)
    assert np.abs(view - rgba16 / 257.0).max() <= 1.0  # Pillow keeps each value's high byte


def test_image_folder_reads_16_bit_roughness_and_metallic(tmp_path):
    mat = tmp_path / "materials" / "Metal_001"
    mat.mkdir(parents=True)
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(mat / "basecolor.png")
    wide_grey(mat, np.full((64, 64), 0.25 * 65535), "roughness.png")
    wide_grey(mat, np.full((64, 64), 0.75 * 65535), "metallic.png")
    src = get_registries().textures.build("image_folder", {"path": str(tmp_path / "materials")})
    m = src.paint_material(32, np.random.default_rng(0))
    assert (m.roughness == 64).all() and (m.metallic == 191).all()  # 0.25 and 0.75 of 255, not 255

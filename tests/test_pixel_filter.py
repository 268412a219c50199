"""The pixel filter `gl` resolves its sub-samples with: Cycles' Blackman-Harris window (Blender's
filter_width 1.5, spanning 3 px), its taps, their bilinear pairing, and the rendered step response."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import integrate
from scipy.signal import windows

from lrmzero import get_registries
from lrmzero.asset import Asset
from lrmzero.cameras import Cameras
from lrmzero.components import RendererUnavailable
from lrmzero.plugins.renderers.pixel_filter import bilinear_fetches, blackman_harris, filter_taps
from lrmzero.views import ShadingSettings


@pytest.mark.parametrize("width", [0.5, 1.5, 2.0])
def test_window_is_scipys_blackman_harris_over_twice_the_width(width):
    points = 41
    x = np.linspace(-width, width, points)  # scipy's symmetric window spans these points
    assert np.allclose(blackman_harris(x[1:-1], width), windows.blackmanharris(points, sym=True)[1:-1], atol=1e-7)
    assert blackman_harris(np.array([-width, width, 2 * width]), width).tolist() == [0.0, 0.0, 0.0]


def test_taps_sum_to_one_are_symmetric_and_converge_to_the_window():
    for factor in (1, 2, 3, 4):
        first, weights = filter_taps(factor, 1.5)
        assert np.isclose(weights.sum(), 1.0) and np.allclose(weights, weights[::-1])
        centres = (first + np.arange(len(weights)) + 0.5) / factor - 0.5
        assert np.isclose(centres @ weights, 0.0)  # centred on the pixel
        assert np.all(np.abs(centres) < 1.5)
    # many sub-samples: the taps' variance is the continuous window's (~0.415^2 px^2)
    first, weights = filter_taps(64, 1.5)
    centres = (first + np.arange(len(weights)) + 0.5) / 64 - 0.5
    mass = integrate.quad(lambda t: blackman_harris(t, 1.5), -1.5, 1.5)[0]
    variance = integrate.quad(lambda t: t * t * blackman_harris(t, 1.5), -1.5, 1.5)[0] / mass
    assert abs(centres ** 2 @ weights / variance - 1) < 1e-3
    assert 0.41 < np.sqrt(variance) < 0.42
    # width 0: a box over the pixel's own sub-samples
    first, weights = filter_taps(3, 0.0)
    assert first == 0 and np.allclose(weights, 1 / 3)
    with pytest.raises(ValueError, match="width must be >= 0"):
        filter_taps(2, -1.0)


@pytest.mark.parametrize("factor,width", [(2, 1.5), (3, 1.5), (4, 0.7), (2, 0.0)])
def test_bilinear_fetches_equal_the_taps_on_a_linearly_interpolated_signal(factor, width):
    first, weights = filter_taps(factor, width)
    signal = np.random.default_rng(0).random(64)
    start = 20  # the pixel's first sub-sample
    direct = weights @ signal[start + first: start + first + len(weights)]
    offsets, merged = bilinear_fetches(first, weights)
    assert len(merged) == (len(weights) + 1) // 2 and np.isclose(merged.sum(), 1.0)
    # a bilinear fetch at texture coordinate c reads the texel centres (i + 0.5) linearly
    fetched = np.interp(start + offsets - 0.5, np.arange(64), signal)
    assert np.isclose(merged @ fetched, direct)


@pytest.mark.parametrize("supersample,width", [(2, 1.5), (3, 1.5), (2, 0.0)])
def test_gl_alpha_across_a_straight_edge_is_the_filters_step_response(supersample, width):
    """A box covering the left half of the view, its edge on the column boundary at cx: each
    pixel's alpha is the sum of the taps that fall on covered sub-samples."""
    try:
        renderer = get_registries().renderers.build("gl", {"supersample": supersample, "pixel_filter": width})
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    box = trimesh.creation.box(extents=[20.0, 20.0, 1.0])
    box.apply_translation([-10.0, 0.0, 2.5])  # x in [-20, 0], in front of a camera at the origin
    asset = Asset(np.asarray(box.vertices), np.asarray(box.faces, np.int64), np.full((8, 2), 0.5),
                  np.full((4, 4, 3), 150, np.uint8), {})
    size = 32
    K = np.array([[40.0, 0, size / 2], [0, 40.0, size / 2], [0, 0, 1]])
    cams = Cameras(np.eye(4)[None], K[None], size, size)  # OpenCV: looking down +z
    alpha = renderer.render(asset, cams, ShadingSettings(shading="unlit", levels=False)).rgba[0, ..., 3]
    first, weights = filter_taps(supersample, width)
    sub = np.arange(size)[:, None] * supersample + first + np.arange(len(weights))  # each pixel's taps
    covered = np.clip(sub, 0, None) < (size // 2) * supersample  # sub-samples left of the edge
    expected = np.round(255 * (covered * weights).sum(1))
    assert np.all(alpha == alpha[size // 2])  # every row the same
    assert np.abs(alpha[size // 2].astype(int) - expected).max() <= 1, (alpha[size // 2], expected)
    assert expected[0] == 255 and expected[-1] == 0
    # the filter reaches across the edge: the first uncovered pixel gets some alpha, the last covered one loses some
    assert width == 0 or (0 < expected[size // 2] and expected[size // 2 - 1] < 255)

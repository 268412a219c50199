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
from lrmzero.plugins.renderers.pixel_filter import bilinear_fetches, blackman_harris, filter_taps, resolve_coverage
from lrmzero.plugins.renderers.raycast import _front_geometry
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


def _resampling_matrix(size: int, factor: int, width: float) -> np.ndarray:
    """``[size, size * factor]``: row i holds pixel i's tap weights, clamped at the borders."""
    first, weights = filter_taps(factor, width)
    matrix = np.zeros((size, size * factor))
    for i in range(size):
        for k, weight in enumerate(weights):
            matrix[i, min(max(i * factor + first + k, 0), size * factor - 1)] += weight
    return matrix


@pytest.mark.parametrize("factor,width", [(2, 1.5), (3, 1.0), (2, 0.0), (1, 0.0)])
def test_resolve_coverage_is_the_separable_filter_of_premultiplied_colour(factor, width):
    rng = np.random.default_rng(factor)
    H, W = 5, 7
    color = rng.random((H * factor, W * factor, 3))
    covered = (rng.random((H * factor, W * factor)) < 0.6).astype(float)
    rows, cols = _resampling_matrix(H, factor, width), _resampling_matrix(W, factor, width)
    alpha_ref = rows @ covered @ cols.T
    premultiplied_ref = np.einsum("ij,jkc,lk->ilc", rows, color * covered[..., None], cols)
    straight, alpha = resolve_coverage(color, covered, factor, width)
    assert straight.shape == (H, W, 3) and alpha.shape == (H, W)
    assert np.allclose(alpha, alpha_ref)
    assert np.allclose(straight * alpha[..., None], premultiplied_ref)
    if factor == 1 and width == 0:
        assert np.array_equal(alpha, covered)


def test_front_geometry_averages_the_nearest_surface_only():
    depth = np.array([[1.0, 1.02], [3.0, 0.0]])  # one pixel's 2 x 2 sub-samples: two near, one far, one empty
    normal = np.array([[[0, 0, 1.0], [0, 1.0, 0]], [[1.0, 0, 0], [0, 0, 0]]])
    d, n = _front_geometry(depth, normal, 2)
    assert np.isclose(d[0, 0], 1.01) and np.allclose(n[0, 0], np.array([0, 1.0, 1.0]) / np.sqrt(2))
    d, n = _front_geometry(np.zeros((2, 2)), np.zeros((2, 2, 3)), 2)
    assert d[0, 0] == 0 and np.all(n == 0)


@pytest.mark.parametrize("renderer_name,supersample,width", [("gl", 2, 1.5), ("gl", 3, 1.5), ("gl", 2, 0.0),
                                                             ("raycast", 2, 1.5), ("raycast", 3, 0.0)])
def test_alpha_across_a_straight_edge_is_the_filters_step_response(renderer_name, supersample, width):
    """A box covering the left half of the view, its edge on the column boundary at cx: each
    pixel's alpha is the sum of the taps that fall on covered sub-samples (gl, and raycast with the
    same settings)."""
    try:
        renderer = get_registries().renderers.build(renderer_name, {"supersample": supersample, "pixel_filter": width})
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

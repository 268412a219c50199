"""The example plugins honour lrmzero's contracts."""

import numpy as np
import pytest
import trimesh

from lrmzero import get_registries, testing
from lrmzero_extra_shapes.twist import twist_vertices


@pytest.mark.parametrize("kind", ["primitives", "augmentations"])
def test_lrmzero_property_suite(kind):
    names = testing.component_names(kind, "lrmzero-extra-shapes")
    assert names  # capsule, twist
    for name in names:
        testing.check_component(kind, name)  # the same properties lrmzero's builtins pass


def closed(part):
    v, f = part.welded()
    tm = trimesh.Trimesh(v, f, process=False)
    return tm.is_watertight and tm.is_winding_consistent and part.signed_volume() > 0


@pytest.mark.parametrize("size", [(0.5, 0.7, 1.2), (1.0, 0.3, 0.4)])
def test_capsule_closed_and_volume(size):
    reg = get_registries()
    assert reg.primitives.get("capsule").provider.distribution == "lrmzero-extra-shapes"
    prim = reg.primitives.build("capsule")
    part = prim.build(np.array(size), np.random.default_rng(0))
    assert closed(part)
    assert part.uv.min() >= 0 and part.uv.max() <= 1
    expected = prim.analytic_volume(part)
    assert abs(part.signed_volume() - expected) / expected < 0.01
    assert np.allclose(np.abs(part.vertices).max(0), size)


def test_twist_keeps_parts_closed_and_volume():
    reg = get_registries()
    part = reg.primitives.build("cube").build(np.array([0.5, 0.3, 0.9]), np.random.default_rng(0))
    twist = reg.augmentations.build("twist", {"max_angle_deg": 60.0})
    (out,), record = twist.apply([part], np.random.default_rng(1), None)
    assert closed(out)
    assert abs(out.signed_volume() - part.signed_volume()) / part.signed_volume() < 0.01
    assert -60 <= record["angle_deg"] <= 60 and record["angle_deg"] != 0
    # the bottom stays, the top turns by the angle
    v = twist_vertices(np.array([[1.0, 0, 0], [1.0, 0, 1]]), 90.0, 0.0, 1.0)
    np.testing.assert_allclose(v, [[1, 0, 0], [0, 1, 1]], atol=1e-12)

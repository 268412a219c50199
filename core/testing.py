"""`lrmzero.testing`: the properties every component of a kind must have, as plain functions that
raise ``AssertionError`` — the project's tests run them over every registered component, and an
outside plugin package runs them over its own with one line each::

    import pytest
    from lrmzero import testing

    @pytest.mark.parametrize("name", testing.component_names("primitives", "my-distribution"))
    def test_my_primitive(name):
        testing.check_component("primitives", name)

What each check asserts is in its docstring. Inputs are built from the registries only (core names
no plugin), small enough to run in well under a second per component on a CPU (models: a few
seconds).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lrmzero.components import AugmentContext, render_model
from lrmzero.mesh import PartMesh

SIZES = (np.array([0.7, 1.1, 0.5]), np.array([0.25, 1.6, 1.3]))


def component_names(kind: str, distribution: str | None = None) -> list[str]:
    """Names registered for ``kind`` (only those of ``distribution`` when given), for parametrizing."""
    from lrmzero.plugin_manager import get_registries

    return [e.name for e in get_registries().kind(kind)
            if distribution is None or e.provider.distribution == distribution]


def check_component(kind: str, name: str) -> None:
    """Build ``name`` of ``kind`` with its defaults and run the checks of that kind on it."""
    from lrmzero.plugin_manager import get_registries

    checks: dict[str, Callable[[Any], None]] = {
        "primitives": check_primitive, "augmentations": check_augmentation, "textures": check_texture,
        "camera_samplers": check_camera_sampler, "renderers": check_renderer, "models": check_model,
    }
    if kind not in checks:
        raise ValueError(f"kind: got {kind!r}; allowed: {', '.join(checks)}")
    component = get_registries().kind(kind).build(name)
    component.use_components(_default_components())
    checks[kind](component)


def _default_components() -> dict[str, dict[str, Any]]:
    """Every registered primitive and texture with its defaults (what augmentations and blends use)."""
    from lrmzero.plugin_manager import get_registries

    reg = get_registries()
    out: dict[str, dict[str, Any]] = {}
    for kind in ("primitives", "textures"):
        out[kind] = {}
        for entry in reg.kind(kind):
            try:
                out[kind][entry.name] = entry.factory(entry.config_cls())
            except Exception:  # noqa: BLE001 - a component that needs configuration is left out
                continue
    for texture in out["textures"].values():
        texture.use_components(out)
    return out


def assert_closed(part: PartMesh, what: str) -> None:
    """Closed by position (UV seams welded), consistently wound, outward (positive volume), finite."""
    import trimesh

    assert np.isfinite(part.vertices).all(), f"{what}: non-finite vertices"
    v, f = part.welded()
    tm = trimesh.Trimesh(v, f, process=False)
    assert tm.is_watertight, f"{what}: not closed (after welding UV seams)"
    assert tm.is_winding_consistent, f"{what}: inconsistent winding"
    assert part.signed_volume() > 0, f"{what}: normals point inward (negative volume)"


def check_primitive(primitive) -> None:
    """Closed, outward, finite; UVs in [0, 1]; ``material == surface`` with ids ``0..len(surfaces)-1``;
    inside its box ``[-size, size]`` and reaching it; the same generator state gives the same bytes."""
    for size in SIZES:
        part = primitive.build(size, np.random.default_rng(0))
        what = f"primitive {primitive.name} size {size.tolist()}"
        assert_closed(part, what)
        assert part.uv.min() >= 0.0 and part.uv.max() <= 1.0, f"{what}: UVs outside [0, 1]"
        assert np.array_equal(part.material, part.surface), f"{what}: material must equal surface"
        if primitive.surfaces:
            assert set(np.unique(part.surface)) <= set(range(len(primitive.surfaces))), f"{what}: surface ids"
        lo, hi = part.vertices.min(0), part.vertices.max(0)
        assert np.all(hi <= size + 1e-6) and np.all(lo >= -size - 1e-6), f"{what}: leaves its box"
        assert np.all(hi >= size * 0.9), f"{what}: does not fill its box"
        again = primitive.build(size, np.random.default_rng(0))
        assert np.array_equal(part.vertices, again.vertices) and np.array_equal(part.faces, again.faces), \
            f"{what}: the same generator state gave another mesh"
        coarse = primitive.coarse(6).build(size, np.random.default_rng(0))
        assert_closed(coarse, f"{what}, coarse(6)")


def check_augmentation(augmentation) -> None:
    """On parts of every registered primitive (normalized to a 1.8 box): returns closed, outward parts
    and a JSON-ready record; the same generator state gives the same bytes."""
    components = _default_components()
    primitives = components["primitives"]
    names = sorted(primitives)[:2]
    assert names, "no primitive is registered to build parts from"
    parts = [primitives[n].build(np.array([0.6, 0.5, 0.4]), np.random.default_rng(i)) for i, n in enumerate(names)]
    parts[-1] = parts[-1].transformed(_translation([0.4, 0.1, 0.0]))
    from lrmzero.plugin_manager import get_registries

    def run(seed: int):
        slots = [int(max(p.material.max() for p in parts)) + 1]

        def new_material() -> int:
            slots[0] += 1
            return slots[0] - 1

        context = AugmentContext(primitives, get_registries().primitives, new_material)
        return augmentation.apply([p.copy() for p in parts], np.random.default_rng(seed), context)

    out, record = run(5)
    what = f"augmentation {augmentation.name}"
    assert out, f"{what}: returned no parts"
    for i, part in enumerate(out):
        assert_closed(part, f"{what}, part {i}")
    json.dumps(record)  # raises if not JSON-ready
    out2, record2 = run(5)
    assert len(out) == len(out2) and all(np.array_equal(a.vertices, b.vertices) for a, b in zip(out, out2)), \
        f"{what}: the same generator state gave other parts"
    assert json.dumps(record, sort_keys=True) == json.dumps(record2, sort_keys=True)


def _translation(offset) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def check_texture(texture) -> None:
    """``[S, S, 3]`` uint8 tiles, the same for the same generator state, not constant."""
    a = texture.paint(48, np.random.default_rng(7))
    b = texture.paint(48, np.random.default_rng(7))
    what = f"texture {texture.name}"
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8, f"{what}: tile is {a.shape} {a.dtype}"
    assert np.array_equal(a, b), f"{what}: the same generator state gave another tile"
    assert a.std() > 1.0, f"{what}: the tile is (nearly) constant"


def check_camera_sampler(sampler) -> None:
    """``views`` OpenCV cameras of the asked size: rigid c2w, the origin in front of every camera and
    projecting inside the image; the same generator state gives the same cameras."""
    cams = sampler.sample(6, 40, 40, np.random.default_rng(1))
    what = f"camera sampler {sampler.name}"
    assert len(cams) == 6 and (cams.width, cams.height) == (40, 40), f"{what}: wrong count or size"
    R = cams.c2w[:, :3, :3]
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-6), f"{what}: c2w is not rigid"
    uv, z = cams.project(np.zeros((1, 3)))
    assert (z > 0).all() and ((uv >= 0) & (uv <= 40)).all(), f"{what}: the origin is not in view"
    again = sampler.sample(6, 40, 40, np.random.default_rng(1))
    assert np.array_equal(cams.c2w, again.c2w), f"{what}: the same generator state gave other cameras"


def check_renderer(renderer) -> None:
    """A sphere of radius 0.8 (an icosphere) from four cameras: the alpha mask agrees with the
    analytic silhouette (ray-sphere intersection) on >= 97% of pixels, camera depth within 2% where
    both see it (at fully covered pixels), unit world normals, and RGB is the background where
    alpha is 0; and a double-sided square (``Asset.double_sided``) covers the same pixels from behind as
    from the front."""
    import trimesh

    from lrmzero.asset import Asset
    from lrmzero.cameras import Cameras, intrinsics_from_fov, look_at
    from lrmzero.views import ShadingSettings

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.8)
    uv = np.full((len(sphere.vertices), 2), 0.5)
    asset = Asset(np.asarray(sphere.vertices), np.asarray(sphere.faces, np.int64), uv,
                  np.full((4, 4, 3), 180, np.uint8), {})
    eyes = np.array([[2.5, 0, 0.5], [0, -2.4, 1.0], [-1.5, 1.5, -1.0], [0.3, 0.2, 2.6]])
    size = 48
    cams = Cameras(look_at(eyes), np.repeat(intrinsics_from_fov(size, size, 50.0)[None], 4, 0), size, size)
    # "ao": the one shading every renderer has (Cycles lights with its white world and nothing else)
    settings = ShadingSettings(shading="ao", ao_rays=4, background=(0.0, 1.0, 0.0))
    views = renderer.render(asset, cams, settings)
    what = f"renderer {renderer.name}"
    assert views.rgba.shape == (4, size, size, 4) and views.rgba.dtype == np.uint8, f"{what}: rgba shape/dtype"
    v, u = np.mgrid[0:size, 0:size] + 0.5
    pix = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3)
    for i in range(4):
        d = (cams.c2w[i, :3, :3] @ (np.linalg.inv(cams.K[i]) @ pix.T)).T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        o = cams.c2w[i, :3, 3]
        b = d @ o
        disc = b * b - (o @ o - 0.8 ** 2)
        hit = disc > 0
        t = -b - np.sqrt(np.where(hit, disc, 0))
        z = t * (d @ cams.c2w[i, :3, 2])  # along the optical axis
        mask = views.mask[i].ravel()
        agree = np.mean(mask == hit)
        assert agree >= 0.97, f"{what}: view {i}: mask agrees with the analytic sphere on {agree:.1%}"
        # depth at fully covered pixels (a silhouette pixel's surface does not lie on its centre ray)
        both = (views.rgba[i, ..., 3].ravel() == 255) & hit
        depth = views.depth[i].ravel()
        assert np.all(np.abs(depth[both] - z[both]) <= 0.02 * z[both]), f"{what}: view {i}: depth off"
        n = views.normal[i].reshape(-1, 3)[both]
        assert np.allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-2), f"{what}: normals not unit"
        empty = views.rgba[i].reshape(-1, 4)[:, 3] == 0
        assert np.all(views.rgba[i].reshape(-1, 4)[empty, :3] == [0, 255, 0]), f"{what}: background"
    # an open surface, wound to face +x: from -x, half a turn about z away (which turns the square onto
    # itself), it covers the same pixels
    square = Asset(np.array([[0.0, -0.6, -0.6], [0.0, 0.6, -0.6], [0.0, 0.6, 0.6], [0.0, -0.6, 0.6]]),
                   np.array([[0, 1, 2], [0, 2, 3]]), np.full((4, 2), 0.5), np.full((4, 4, 3), 180, np.uint8),
                   double_sided=True)
    eyes = np.array([[2.5, 0.4, 0.5], [-2.5, -0.4, 0.5]])
    views = renderer.render(square, Cameras(look_at(eyes), cams.K[:2], size, size), settings)
    front, back = views.mask
    assert front.mean() > 0.1 and np.mean(front == back) >= 0.99, (
        f"{what}: a double-sided square covers {front.mean():.1%} of the view from the front, {back.mean():.1%} "
        "from behind (Asset.double_sided: show back faces)")


def check_model(model, steps: int = 8) -> None:
    """The model contract on a tiny batch (2 objects, 2 input and 3 target views at the smallest
    size the model takes): render's shapes and finiteness (and the same colour and alpha with
    ``with_depth=False``), finite gradients reaching the weights,
    a few Adam steps lower the loss on a fixed batch, and export writes files that exist."""
    import torch

    from lrmzero.cameras import intrinsics_from_fov, look_at

    torch.manual_seed(0)
    size = next(s for s in range(8, 129, 4) if _takes(model, s))
    rng = np.random.default_rng(0)
    d = rng.normal(size=(10, 3))
    c2w = torch.tensor(look_at(d / np.linalg.norm(d, axis=1, keepdims=True) * 2.4), dtype=torch.float32).reshape(2, 5, 4, 4)
    K = torch.tensor(intrinsics_from_fov(size, size, 50.0), dtype=torch.float32).expand(2, 5, 3, 3).contiguous()
    batch = {"images": torch.rand(2, 2, 3, size, size), "rays": _plucker(c2w[:, :2], K[:, :2], size),
             "c2w": c2w[:, :2], "K": K[:, :2]}
    target = torch.rand(2, 3, 3, size, size) * 0.5 + 0.25
    w2c = torch.linalg.inv(c2w[:, 2:])
    net = model.build_network()
    model.prepare(torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    what = f"model {model.name}"
    losses = []
    for step in range(steps):
        out = model.render(net(batch), w2c, K[:, 2:], size, torch.ones(3))
        if step == 0:
            for key, channels in (("rgb", 3), ("alpha", 1), ("depth", 1)):
                assert out[key].shape == (2, 3, channels, size, size), f"{what}: {key} is {tuple(out[key].shape)}"
                assert torch.isfinite(out[key]).all(), f"{what}: non-finite {key}"
        loss = ((out["rgb"] - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), f"{what}: no or non-finite gradients"
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0], f"{what}: {steps} steps did not lower the loss ({losses[0]:.4f} -> {losses[-1]:.4f})"
    net.eval()  # deterministic rendering (no sample jitter) for the comparison below
    with torch.no_grad():
        outputs = net(batch)
        full = model.render(outputs, w2c, K[:, 2:], size, torch.ones(3))
        lean = render_model(model, outputs, w2c, K[:, 2:], size, torch.ones(3), with_depth=False)
    for key in ("rgb", "alpha"):
        assert torch.allclose(lean[key], full[key], atol=1e-5), f"{what}: with_depth=False changes {key}"
    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        written = model.export(net(batch), Path(folder))
        assert written and all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in written.values()), \
            f"{what}: export wrote {written}"
        for path in map(Path, written.values()):
            _assert_loads(path, what)


def _assert_loads(path: Path, what: str) -> None:
    """An exported file opens with the field's readers: meshes and point clouds with trimesh, JSON."""
    import trimesh

    if path.suffix.lower() in (".glb", ".gltf", ".ply", ".obj", ".stl", ".off"):
        loaded = trimesh.load(path)
        assert loaded is not None, f"{what}: {path.name} does not load"
    elif path.suffix.lower() == ".json":
        json.loads(path.read_text())


def _takes(model, size: int) -> bool:
    try:
        model.check_resolution(size, "size")
        return True
    except Exception:  # noqa: BLE001 - any refusal means: not this size
        return False


def _plucker(c2w, K, size: int):
    """Plucker rays ``[B, V, 6, S, S]`` of the batch contract, object by object."""
    import torch

    from lrmzero.rays import plucker_rays

    return torch.stack([plucker_rays(c2w[b], K[b], size, size) for b in range(len(c2w))])

"""Shading shared by the renderers: Zeroverse's uniform white environment approximated by ambient
occlusion, one bounce and a split-sum specular term; lights for `lambert`. Shading is in linear
space; `lrmzero.tone` decodes textures (sRGB) and holds the official tone chain the results go through.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse
from scipy.ndimage import map_coordinates
import trimesh

from lrmzero.mesh import weld_positions
from lrmzero.tone import to_linear

# Directional lights for `lambert` (world frame, Z up): key, fill and rim, plus ambient.
LIGHT_DIRECTIONS = np.array([[0.4, -0.5, 0.75], [-0.6, 0.3, 0.4], [0.1, 0.8, -0.3]])
LIGHT_DIRECTIONS = LIGHT_DIRECTIONS / np.linalg.norm(LIGHT_DIRECTIONS, axis=1, keepdims=True)
LIGHT_INTENSITIES = np.array([0.6, 0.3, 0.2])
AMBIENT = 0.25
DIELECTRIC_F0 = 0.04


DFG_SIZE = 32
_DFG = None


def dfg_table(size: int = DFG_SIZE, samples: int = 512) -> np.ndarray:
    """``[size (n . v), size (roughness), 2]`` float32: the split-sum terms ``(A, B)`` of a GGX
    microfacet BRDF (height-correlated Smith masking, Schlick Fresnel) under a uniform white
    environment, so that its directional albedo is ``F0 A + B``. Entries sit at texel centres
    ``(i + 0.5) / size`` (the `gl` shader samples it as a texture); integrated once per process by
    importance sampling GGX over a Hammersley set (deterministic). Written by hand: the usual analytic
    fits are off by up to 0.06 at grazing angles, which the per-object levels then amplify."""
    global _DFG
    if _DFG is not None and _DFG.shape[0] == size:
        return _DFG
    i = np.arange(samples)
    bits = i.astype(np.uint32)
    bits = ((bits << 16) | (bits >> 16)) & 0xFFFFFFFF
    bits = ((bits & 0x55555555) << 1) | ((bits & 0xAAAAAAAA) >> 1)
    bits = ((bits & 0x33333333) << 2) | ((bits & 0xCCCCCCCC) >> 2)
    bits = ((bits & 0x0F0F0F0F) << 4) | ((bits & 0xF0F0F0F0) >> 4)
    bits = ((bits & 0x00FF00FF) << 8) | ((bits & 0xFF00FF00) >> 8)
    u1, u2 = (i + 0.5) / samples, bits.astype(np.float64) / 2.0 ** 32
    centres = (np.arange(size) + 0.5) / size
    nov = centres[:, None, None]
    alpha = (centres ** 2)[None, :, None]
    cos_h = np.sqrt((1 - u2) / (1 + (alpha ** 2 - 1) * u2))  # GGX-distributed half vectors
    sin_h = np.sqrt(1 - cos_h ** 2)
    phi = 2 * np.pi * u1
    view = np.concatenate([np.sqrt(1 - nov ** 2), np.zeros_like(nov), nov], -1)  # [size, 1, 3]
    h = np.stack([sin_h * np.cos(phi), sin_h * np.sin(phi), np.broadcast_to(cos_h, (1,) + cos_h.shape[1:])], -1)
    v_dot_h = np.sum(h * view[:, :, None, :], -1)  # [size, size, samples]
    n_dot_l = 2 * v_dot_h * h[..., 2] - nov
    k = alpha ** 2

    def smith_lambda(c):
        c = np.clip(c, 1e-6, 1.0)
        return (-1 + np.sqrt(1 + k * (1 - c * c) / (c * c))) / 2

    visible = smith_lambda(nov) + smith_lambda(n_dot_l)
    weight = np.where(n_dot_l > 0, v_dot_h / (np.maximum(h[..., 2], 1e-6) * nov * (1 + visible)), 0.0)
    fresnel = (1 - np.clip(v_dot_h, 0, 1)) ** 5
    _DFG = np.stack([np.mean(weight * (1 - fresnel), -1), np.mean(weight * fresnel, -1)], -1).astype(np.float32)
    return _DFG


def _lookup(table: np.ndarray, n_dot_v: np.ndarray, roughness: np.ndarray) -> np.ndarray:
    """Bilinear lookup like the GPU's (texel centres, clamped at the edges): ``[..., 2]``."""
    size = table.shape[0]
    y, x = np.broadcast_arrays(np.asarray(n_dot_v, np.float64) * size - 0.5,
                               np.asarray(roughness, np.float64) * size - 0.5)
    where = np.stack([y.ravel(), x.ravel()])
    channels = [map_coordinates(table[..., c], where, order=1, mode="nearest") for c in range(table.shape[-1])]
    return np.stack(channels, -1).reshape(y.shape + (table.shape[-1],))


def env_brdf(f0: np.ndarray, roughness: np.ndarray, n_dot_v: np.ndarray) -> np.ndarray:
    """Specular reflectance of a uniform white environment: the GGX split sum of
    :func:`dfg_table` plus the energy that single scattering loses on rough surfaces, returned
    by multiple scattering (Fdez-Aguera 2019; Cycles' multiscatter GGX does the same): ``f0 [..., 3]``,
    ``roughness [...]``, ``n_dot_v [...]`` -> ``[..., 3]``. The `gl` fragment shader computes the
    same from the same table."""
    ab = _lookup(dfg_table(), np.clip(n_dot_v, 0.0, 1.0), np.clip(roughness, 0.0, 1.0))
    a, b = ab[..., 0:1], ab[..., 1:2]
    single = f0 * a + b
    lost = 1.0 - (a + b)
    average = f0 + (1.0 - f0) / 21.0
    return single + single * average * lost / (1.0 - lost * average)


def environment_shade(base: np.ndarray, visibility: np.ndarray, bounce: float, roughness=0.5, metallic=0.0,
                      n_dot_v=None) -> np.ndarray:
    """Linear radiance ``[..., 3]`` of a surface under a uniform white environment of radiance 1.

    ``base``: linear base colour ``[..., 3]``; ``visibility``: ambient occlusion ``[...]`` (1: open
    sky); ``bounce``: the radiance seen along occluded directions (one diffuse bounce, see
    :func:`bounce_radiance`), so closed interiors are dim, not black. Diffuse ``base (1 - metallic)``
    minus what the dielectric specular reflects, plus :func:`env_brdf` specular; both lit by
    ``visibility + (1 - visibility) * bounce``. Without ``n_dot_v`` the view is head-on.
    """
    base = np.asarray(base, np.float64)
    shape = base.shape[:-1]
    roughness = np.broadcast_to(np.asarray(roughness, np.float64), shape)
    metallic = np.broadcast_to(np.asarray(metallic, np.float64), shape)[..., None]
    n_dot_v = np.ones(shape) if n_dot_v is None else np.broadcast_to(n_dot_v, shape)
    f0 = DIELECTRIC_F0 * (1 - metallic) + base * metallic
    spec = env_brdf(f0, roughness, n_dot_v)
    dielectric = env_brdf(np.full(shape + (1,), DIELECTRIC_F0), roughness, n_dot_v)
    light = (visibility + (1.0 - visibility) * bounce)[..., None]
    return light * (base * (1 - metallic) * (1 - dielectric) + spec)


def bounce_radiance(texture: np.ndarray, visibility: np.ndarray) -> float:
    """What an occluded direction sees, for one diffuse bounce (Cycles renders Zeroverse with
    ``diffuse_bounces = 1``): another part of the object lit by the sky, i.e. its mean linear
    albedo times its mean visibility. ``texture``: uint8 ``[H, W, 3]``; ``visibility``: ``[V]``."""
    albedo = float(to_linear(texture.reshape(-1, 3)[:: max(1, texture.size // 3 // 65536)] / 255.0).mean())
    return albedo * float(np.mean(visibility)) if len(visibility) else 0.0


def lambert(normals: np.ndarray) -> np.ndarray:
    """Shading factor for world normals ``[..., 3]``: ambient + sum of clamped n . l."""
    dots = np.clip(normals @ LIGHT_DIRECTIONS.T, 0.0, None)
    return AMBIENT + dots @ LIGHT_INTENSITIES


def hemisphere_directions(count: int) -> np.ndarray:
    """``[count, 3]`` fixed, cosine-weighted directions about +z (a Fibonacci spiral)."""
    i = np.arange(count) + 0.5
    r = np.sqrt(i / count)
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1.0 - r * r)], axis=-1)


def bake_ambient_occlusion(vertices: np.ndarray, faces: np.ndarray, rays: int, distance: float,
                           smoothing: int = 0) -> np.ndarray:
    """Per-vertex visibility in [0, 1] of a cosine-weighted hemisphere (1: nothing within ``distance``).

    Rays start just off the surface along the smooth vertex normal. Each vertex turns the fixed
    directions by its own angle about its normal (a hash of its index: deterministic), so that
    neighbours sample different directions and ``smoothing`` passes of neighbour averaging
    (:func:`smooth_over_mesh`) cut the noise as more rays would, at a fraction of their cost.
    Copies of a position (UV seams) are baked once. Embree occlusion queries (no hit locations)
    when embreex is present, else trimesh's ray intersector.
    """
    unique, group = weld_positions(vertices)
    mesh = trimesh.Trimesh(unique, group[faces], process=False)
    normals = np.asarray(mesh.vertex_normals)
    local = hemisphere_directions(rays)
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    t1 = np.cross(normals, helper)
    t1 /= np.maximum(np.linalg.norm(t1, axis=1, keepdims=True), 1e-12)
    t2 = np.cross(normals, t1)
    turn = (np.arange(len(unique)) * 0.6180339887498949 % 1.0)[:, None] * 2 * np.pi
    t1, t2 = np.cos(turn) * t1 + np.sin(turn) * t2, -np.sin(turn) * t1 + np.cos(turn) * t2
    # dirs[v, r] = local[r] @ frame[v] for the frames [t1, t2, n] (rows), as one 2D matmul: [R, 3] @ [3, U*3]
    frames = np.stack([t1, t2, normals], 0).astype(np.float32).reshape(3, -1)
    dirs = (local.astype(np.float32) @ frames).reshape(rays, len(unique), 3).transpose(1, 0, 2).reshape(-1, 3)
    origins = np.repeat((unique + normals * (1e-4 + 1e-3 * distance)).astype(np.float32), rays, axis=0)
    try:
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        scene = rtcore_scene.EmbreeScene()
        TriangleMesh(scene, unique[group[faces]].astype(np.float32))
        dists = np.full(len(origins), distance, np.float32)

        def occluded(part: slice) -> np.ndarray:  # embree releases the GIL: threads run in parallel
            return np.asarray(scene.run(origins[part], dirs[part], query="OCCLUDED", dists=dists[part])) == 0

        chunks = np.array_split(np.arange(len(origins)), max(1, min(os.cpu_count() or 1, 8)))
        with ThreadPoolExecutor(len(chunks)) as pool:
            parts = list(pool.map(occluded, [slice(c[0], c[-1] + 1) for c in chunks if len(c)]))
        hit = np.concatenate(parts)  # embree reports 0 for an occluded ray, -1 for a free one
    except ImportError:
        hit = np.zeros(len(origins), bool)
        locations, index_ray, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
        near = np.linalg.norm(locations - origins[index_ray], axis=1) < distance
        hit[index_ray[near]] = True
    visibility = 1.0 - hit.reshape(len(unique), rays).mean(axis=1)
    return smooth_over_mesh(visibility, group[faces], smoothing)[group]


def smooth_over_mesh(values: np.ndarray, faces: np.ndarray, passes: int) -> np.ndarray:
    """``passes`` rounds of replacing each vertex value ``[U]`` by the mean of itself and its edge
    neighbours (``faces [F, 3]`` index the values)."""
    if passes <= 0 or len(faces) == 0:
        return values
    n = len(values)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adjacency = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    adjacency.data[:] = 1.0  # an edge shared by two faces counts once
    degree = np.asarray(adjacency.sum(axis=1)).ravel() + 1.0
    for _ in range(passes):
        values = (values + adjacency @ values) / degree
    return values


def shade_factor_per_vertex(asset, settings) -> np.ndarray | None:
    """``[V]`` AO factors for ``ao`` shading, else None (``unlit`` / ``lambert`` shade per pixel)."""
    if settings.shading != "ao":
        return None
    return bake_ambient_occlusion(asset.vertices, asset.faces, settings.ao_rays, settings.ao_distance,
                                  settings.ao_smoothing)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)

"""Shading shared by the renderers: lights for `lambert`, ambient occlusion baked per vertex."""

from __future__ import annotations

import numpy as np
import trimesh

from lrmzero.mesh import weld_positions

# Directional lights for `lambert` (world frame, Z up): key, fill and rim, plus ambient.
LIGHT_DIRECTIONS = np.array([[0.4, -0.5, 0.75], [-0.6, 0.3, 0.4], [0.1, 0.8, -0.3]])
LIGHT_DIRECTIONS = LIGHT_DIRECTIONS / np.linalg.norm(LIGHT_DIRECTIONS, axis=1, keepdims=True)
LIGHT_INTENSITIES = np.array([0.6, 0.3, 0.2])
AMBIENT = 0.25


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


def bake_ambient_occlusion(vertices: np.ndarray, faces: np.ndarray, rays: int, distance: float) -> np.ndarray:
    """Per-vertex visibility in [0, 1] of a cosine-weighted hemisphere (1: nothing within ``distance``).

    Rays start just off the surface along the smooth vertex normal; the same fixed directions
    (rotated into each vertex's frame) make the result deterministic. Copies of a position (UV
    seams) are baked once. Embree occlusion queries (no hit locations) when embreex is present,
    else trimesh's ray intersector.
    """
    unique, group = weld_positions(vertices)
    mesh = trimesh.Trimesh(unique, group[faces], process=False)
    normals = np.asarray(mesh.vertex_normals)
    local = hemisphere_directions(rays)
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    t1 = np.cross(normals, helper)
    t1 /= np.maximum(np.linalg.norm(t1, axis=1, keepdims=True), 1e-12)
    t2 = np.cross(normals, t1)
    dirs = (local[None, :, 0:1] * t1[:, None] + local[None, :, 1:2] * t2[:, None]
            + local[None, :, 2:3] * normals[:, None]).reshape(-1, 3)
    origins = np.repeat(unique + normals * (1e-4 + 1e-3 * distance), rays, axis=0)
    try:
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        scene = rtcore_scene.EmbreeScene()
        TriangleMesh(scene, unique[group[faces]].astype(np.float32))
        result = scene.run(origins.astype(np.float32), dirs.astype(np.float32), query="OCCLUDED",
                           dists=np.full(len(origins), distance, np.float32))
        hit = np.asarray(result) == 0  # embree reports 0 for an occluded ray, -1 for a free one
    except ImportError:
        hit = np.zeros(len(origins), bool)
        locations, index_ray, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
        near = np.linalg.norm(locations - origins[index_ray], axis=1) < distance
        hit[index_ray[near]] = True
    return (1.0 - hit.reshape(len(unique), rays).mean(axis=1))[group]


def shade_factor_per_vertex(asset, settings) -> np.ndarray | None:
    """``[V]`` AO factors for ``ao`` shading, else None (``unlit`` / ``lambert`` shade per pixel)."""
    if settings.shading != "ao":
        return None
    return bake_ambient_occlusion(asset.vertices, asset.faces, settings.ao_rays, settings.ao_distance)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def finish_rgba(albedo_shaded: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """Straight-alpha RGBA uint8 from linear colour ``[..., 3]`` in [0, 1] and alpha ``[...]``;
    RGB is ``background`` where alpha is 0."""
    rgb = np.where(alpha[..., None] > 0, albedo_shaded, np.asarray(background, np.float32))
    out = np.concatenate([rgb, alpha[..., None]], axis=-1)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)

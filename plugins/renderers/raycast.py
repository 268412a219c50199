"""`raycast`: Embree rays (2 x 2 per pixel, filtered as `gl`; one per pixel centre
with ``supersample=1 pixel_filter=0``); no OpenGL needed. It is the fallback renderer and the
independent reference the `gl` renderer is tested against."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from lrmzero import param
from lrmzero.asset import DEFAULT_METALLIC, DEFAULT_ROUGHNESS, EMISSIVE_MAP
from lrmzero.cameras import Cameras
from lrmzero.components import Renderer
from lrmzero.plugins.renderers.cutouts import hole_test
from lrmzero.plugins.renderers.occlusion import ambient_occlusion, split_for_baking
from lrmzero.plugins.renderers.pixel_filter import resolve_coverage
from lrmzero.plugins.renderers.ray_caster import RayCaster
from lrmzero.plugins.renderers.shading import environment_shade, face_normals, lambert, specular_visibility
from lrmzero.plugins.renderers.two_sided import facing_copies, with_back_faces
from lrmzero.tone import finish_views, to_linear
from lrmzero.views import ShadingSettings, Views

FAR = 1e4  # rays end here (object units; objects span 1.8)


def bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Sample ``texture [H, W, 3]`` (row 0 = top = v 1) at ``uv [N, 2]``: ``[N, 3]`` in [0, 1]."""
    h, w = texture.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip((1.0 - uv[:, 1]) * h - 0.5, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(int), w - 2)
    y0 = np.minimum(np.floor(y).astype(int), h - 2)
    tx, ty = (x - x0)[:, None], (y - y0)[:, None]

    def texel(row, col):  # only the texels used become floats (not the whole 2048^2 atlas each call)
        return texture[row, col].astype(np.float32)

    return ((1 - tx) * (1 - ty) * texel(y0, x0) + tx * (1 - ty) * texel(y0, x0 + 1)
            + (1 - tx) * ty * texel(y0 + 1, x0) + tx * ty * texel(y0 + 1, x0 + 1)) / 255.0


class RaycastRenderer(Renderer):
    """Ray casting with Embree (trimesh's intersector without embreex), antialiased as `gl` (2 x 2
    rays per pixel, Cycles' pixel filter), so a dataset looks the same whichever of the two ``auto``
    picks (gl vs raycast ~43-45 dB at 256 px). The environment shading uses the metallic-roughness
    map but not the normal map; cut-outs and emission as gl."""

    name = "raycast"

    @dataclass
    class Config:
        cull_back_faces: bool = param(True, "ignore hits on back faces of closed meshes, as `gl` culls them; a "
                                      "double-sided asset (an open mesh) shows both sides whatever this says")
        supersample: int = param(2, "rays per pixel along each axis, filtered down as gl's (4x the rays of 1; 1 with "
                                 "pixel_filter 0: no antialiasing)", ge=1, le=4)
        pixel_filter: float = param(1.5, "Blackman-Harris pixel filter width, as Cycles' filter_width and "
                                    "renderers.gl.pixel_filter; 0: a box over each pixel", ge=0.0, le=3.0)

    def render(self, asset, cameras: Cameras, settings: ShadingSettings, on_view=None) -> Views:
        W, H, V = int(cameras.width), int(cameras.height), len(cameras)
        ss = self.cfg.supersample
        start = time.perf_counter()
        asset = with_back_faces(split_for_baking(asset, settings))  # the same lighting resolution as gl's
        # one acceleration structure: the bake's and every view's
        caster = RayCaster(asset.vertices, asset.faces, hole_test(asset))
        fn = face_normals(asset.vertices, asset.faces)
        ao = ambient_occlusion(asset, settings, caster)
        tracing = time.perf_counter()
        mr, emission = asset.maps.get("metallic_roughness"), asset.maps.get(EMISSIVE_MAP)
        # sub-sample centres, in pixels (pixel centres at +0.5 with one sample)
        u, v = np.meshgrid((np.arange(W * ss) + 0.5) / ss, (np.arange(H * ss) + 0.5) / ss)
        pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=-1)
        linear = np.zeros((V, H, W, 3), np.float32)
        coverage = np.zeros((V, H, W), np.float32)
        depth = np.zeros((V, H, W), np.float32)
        normal = np.zeros((V, H, W, 3), np.float32)
        for i in range(V):
            sub_linear = np.zeros((H * ss, W * ss, 3), np.float32)
            sub_covered = np.zeros((H * ss, W * ss), np.float32)
            sub_depth = np.zeros((H * ss, W * ss), np.float32)
            sub_normal = np.zeros((H * ss, W * ss, 3), np.float32)
            c2w = cameras.c2w[i]
            d_cam = pix @ np.linalg.inv(cameras.K[i]).T
            dirs = d_cam @ c2w[:3, :3].T
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            origins = np.broadcast_to(c2w[:3, 3], dirs.shape).astype(np.float32)
            ray, tri, hit_uv = caster.cast(origins, dirs.astype(np.float32), FAR, closest=True)
            bary = np.column_stack([1.0 - hit_uv.sum(1), hit_uv])  # Embree's (u, v): v1 and v2's shares
            loc = np.einsum("ni,nij->nj", bary, asset.vertices[asset.faces[tri]])
            away = np.einsum("ij,ij->i", fn[tri], dirs[ray]) >= 0
            if asset.double_sided:  # of a face and its back copy, in one plane, the one facing the camera
                tri, bary = facing_copies(tri, bary, away, len(asset.faces))
            elif self.cfg.cull_back_faces and len(tri):
                loc, ray, tri, bary = loc[~away], ray[~away], tri[~away], bary[~away]
            if len(tri):
                uv = np.einsum("ni,nij->nj", bary, asset.uv[asset.faces[tri]])
                base = to_linear(bilinear(asset.texture, uv))
                if settings.shading == "ao":
                    roughness, metallic = DEFAULT_ROUGHNESS, DEFAULT_METALLIC
                    if mr is not None:
                        packed = bilinear(mr, uv)
                        roughness, metallic = np.clip(packed[:, 1], 0.03, 1.0), packed[:, 2]
                    corners = ao.mesh.faces[tri]  # the asset's faces, as baked (split at creases if asked)
                    visibility = np.einsum("ni,ni->n", bary, ao.visibility[corners])
                    bounce = np.einsum("ni,nij->nj", bary, ao.bounce[corners])
                    bent, smooth = (np.einsum("ni,nij->nj", bary, per_vertex[corners])
                                    for per_vertex in (ao.bent, ao.mesh.normals))
                    bent /= np.maximum(np.linalg.norm(bent, axis=1, keepdims=True), 1e-12)
                    smooth /= np.maximum(np.linalg.norm(smooth, axis=1, keepdims=True), 1e-12)
                    n_dot_v = -np.einsum("ij,ij->i", fn[tri], dirs[ray])
                    reflected = dirs[ray] + 2.0 * n_dot_v[:, None] * fn[tri]
                    seen = specular_visibility(bent, visibility, smooth, reflected, roughness)
                    base = environment_shade(base, visibility, bounce, roughness, metallic, n_dot_v, seen)
                elif settings.shading == "lambert":
                    base = base * lambert(fn[tri])[:, None]
                if emission is not None:  # light the surface gives off, on top of what it reflects
                    base = base + to_linear(bilinear(emission, uv))
                sub_linear.reshape(-1, 3)[ray] = base
                sub_covered.reshape(-1)[ray] = 1.0
                sub_depth.reshape(-1)[ray] = (loc - c2w[:3, 3]) @ c2w[:3, 2]
                sub_normal.reshape(-1, 3)[ray] = fn[tri]
            linear[i], coverage[i] = resolve_coverage(sub_linear, sub_covered, ss, self.cfg.pixel_filter)
            depth[i], normal[i] = _front_geometry(sub_depth, sub_normal, ss)
        toning = time.perf_counter()
        views = finish_views(linear, coverage, depth, normal, cameras, settings, on_view)
        views.timings.update(bake=tracing - start, trace=toning - tracing, tone=time.perf_counter() - toning)
        return views


def _front_geometry(depth: np.ndarray, normal: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's depth ``[H, W]`` and unit normal ``[H, W, 3]`` from its own ``factor`` x ``factor``
    sub-samples (``depth [H*f, W*f]``, 0 where empty; ``normal [H*f, W*f, 3]``): the mean over the
    covered ones within 5% of the nearest, as `gl`'s resolve pass, so an edge pixel gets the front
    surface's geometry, not a blend that lies on neither; 0 where none is covered."""
    if factor == 1:
        return depth, normal
    H, W = depth.shape[0] // factor, depth.shape[1] // factor
    d = depth.reshape(H, factor, W, factor).transpose(0, 2, 1, 3).reshape(H, W, -1)
    n = normal.reshape(H, factor, W, factor, 3).transpose(0, 2, 1, 3, 4).reshape(H, W, -1, 3)
    nearest = np.where(d > 0, d, np.inf).min(-1, keepdims=True)
    front = (d > 0) & (d <= nearest * 1.05)
    count = front.sum(-1)
    mean_depth = np.where(count > 0, (d * front).sum(-1) / np.maximum(count, 1), 0.0)
    summed = (n * front[..., None]).sum(-2)
    unit = summed / np.maximum(np.linalg.norm(summed, axis=-1, keepdims=True), 1e-12)
    return mean_depth.astype(np.float32), np.where(count[..., None] > 0, unit, 0.0).astype(np.float32)

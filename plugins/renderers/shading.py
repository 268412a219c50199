"""Shading shared by the renderers: Zeroverse's uniform white environment approximated by ambient
occlusion, one bounce and a split-sum specular term (the light per vertex comes from :mod:`occlusion`);
lights for `lambert`. Shading is in linear space; `lrmzero.tone` decodes textures (sRGB) and holds the
official tone chain the results go through.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

# Directional lights for `lambert` (world frame, Z up): key, fill and rim, plus ambient.
LIGHT_DIRECTIONS = np.array([[0.4, -0.5, 0.75], [-0.6, 0.3, 0.4], [0.1, 0.8, -0.3]])
LIGHT_DIRECTIONS = LIGHT_DIRECTIONS / np.linalg.norm(LIGHT_DIRECTIONS, axis=1, keepdims=True)
LIGHT_INTENSITIES = np.array([0.6, 0.3, 0.2])
AMBIENT = 0.25
DIELECTRIC_IOR = 1.5  # Blender's Principled BSDF default (F0 = 0.04)


def dielectric_fresnel(cos_theta: np.ndarray, ior: float = DIELECTRIC_IOR) -> np.ndarray:
    """Unpolarized Fresnel reflectance of a dielectric of index ``ior`` seen from air, at incidence
    cosines ``cos_theta`` (exact, as Cycles' Principled BSDF uses for dielectrics; Schlick's fit of it
    is up to 0.02 low at 50-70 degrees for ior 1.5)."""
    c = np.clip(np.asarray(cos_theta, np.float64), 0.0, 1.0)
    g = np.sqrt(ior * ior - 1.0 + c * c)
    a = (g - c) / (g + c)
    b = (c * (g + c) - 1.0) / (c * (g - c) + 1.0)
    return 0.5 * a * a * (1.0 + b * b)


def _average_fresnel(fresnel, samples: int = 4096) -> float:
    """The cosine-weighted hemispherical average ``2 int F(mu) mu dmu`` (midpoint rule)."""
    mu = (np.arange(samples) + 0.5) / samples
    return float(2.0 * np.mean(fresnel(mu) * mu))


DIELECTRIC_F_AVERAGE = _average_fresnel(dielectric_fresnel)


DFG_SIZE = 32
_DFG = None


def dfg_table(size: int = DFG_SIZE, samples: int = 512) -> np.ndarray:
    """``[size (n . v), size (roughness), 3]`` float32: the split-sum terms ``(A, B)`` of a GGX
    microfacet BRDF (height-correlated Smith masking, Schlick Fresnel) under a uniform white
    environment, so that its directional albedo is ``F0 A + B``, and ``D``, the directional albedo
    of the same BRDF with the exact Fresnel of a dielectric of index 1.5 (:func:`dielectric_fresnel`),
    as Cycles shades non-metals. Entries sit at texel centres
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
    _DFG = np.stack([np.mean(weight * (1 - fresnel), -1), np.mean(weight * fresnel, -1),
                     np.mean(weight * dielectric_fresnel(v_dot_h), -1)], -1).astype(np.float32)
    return _DFG


def _lookup(table: np.ndarray, n_dot_v: np.ndarray, roughness: np.ndarray) -> np.ndarray:
    """Bilinear lookup like the GPU's (texel centres, clamped at the edges): ``[..., 2]``."""
    size = table.shape[0]
    y, x = np.broadcast_arrays(np.asarray(n_dot_v, np.float64) * size - 0.5,
                               np.asarray(roughness, np.float64) * size - 0.5)
    where = np.stack([y.ravel(), x.ravel()])
    channels = [map_coordinates(table[..., c], where, order=1, mode="nearest") for c in range(table.shape[-1])]
    return np.stack(channels, -1).reshape(y.shape + (table.shape[-1],))


def _multiple_scattering(single: np.ndarray, lost: np.ndarray, average) -> np.ndarray:
    """Single-scattering albedo plus what multiple scattering returns of the ``lost`` energy, for a
    Fresnel whose hemispherical average is ``average`` (Fdez-Aguera 2019)."""
    return single + single * average * lost / (1.0 - lost * average)


def _split_sum(roughness: np.ndarray, n_dot_v: np.ndarray) -> np.ndarray:
    """:func:`dfg_table`'s ``(A, B, D)`` ``[..., 3]`` at ``(roughness, n . v)``, looked up once for both lobes."""
    return _lookup(dfg_table(), np.clip(n_dot_v, 0.0, 1.0), np.clip(roughness, 0.0, 1.0))


def _metal_albedo(table: np.ndarray, f0: np.ndarray) -> np.ndarray:
    a, b = table[..., 0:1], table[..., 1:2]
    return _multiple_scattering(f0 * a + b, 1.0 - (a + b), f0 + (1.0 - f0) / 21.0)


def _dielectric_albedo(table: np.ndarray) -> np.ndarray:
    return _multiple_scattering(table[..., 2], 1.0 - (table[..., 0] + table[..., 1]), DIELECTRIC_F_AVERAGE)


def env_brdf(f0: np.ndarray, roughness: np.ndarray, n_dot_v: np.ndarray) -> np.ndarray:
    """Specular reflectance of a uniform white environment: the GGX split sum of
    :func:`dfg_table` plus the energy that single scattering loses on rough surfaces, returned
    by multiple scattering (Fdez-Aguera 2019; Cycles' multiscatter GGX does the same): ``f0 [..., 3]``,
    ``roughness [...]``, ``n_dot_v [...]`` -> ``[..., 3]``. The `gl` fragment shader computes the
    same from the same table."""
    return _metal_albedo(_split_sum(roughness, n_dot_v), f0)


def dielectric_brdf(roughness: np.ndarray, n_dot_v: np.ndarray) -> np.ndarray:
    """Specular reflectance ``[...]`` of a dielectric (index 1.5, exact Fresnel) under a uniform white
    environment: the table's ``D`` plus multiple scattering, as :func:`env_brdf`. The `gl` fragment
    shader computes the same from the same table."""
    return _dielectric_albedo(_split_sum(roughness, n_dot_v))


def environment_shade(base: np.ndarray, visibility: np.ndarray, bounce: float | np.ndarray, roughness=0.5,
                      metallic=0.0, n_dot_v=None, specular_seen=None) -> np.ndarray:
    """Linear radiance ``[..., 3]`` of a surface under a uniform white environment of radiance 1.

    ``base``: linear base colour ``[..., 3]``; ``visibility``: ambient occlusion ``[...]`` (1: open
    sky); ``bounce``: the linear radiance seen along the occluded directions (one diffuse bounce, see
    :func:`~lrmzero.plugins.renderers.occlusion.bake_ambient_occlusion`; a scalar or ``[..., 3]``), so closed interiors are dim, not
    black. A dielectric lobe (diffuse ``base`` minus what its specular reflects, plus that specular:
    :func:`dielectric_brdf`, index 1.5) and a metal lobe (:func:`env_brdf` with F0 = ``base``) mixed
    by ``metallic``, as Blender's Principled BSDF and glTF mix them. The diffuse part is lit by
    ``visibility + (1 - visibility) * bounce``, the specular parts the same way with ``specular_seen``
    (the lobe's own share of sky, :func:`specular_visibility`; default ``visibility``) in its place.
    Without ``n_dot_v`` the view is head-on.
    """
    base = np.asarray(base, np.float64)
    shape = base.shape[:-1]
    roughness = np.broadcast_to(np.asarray(roughness, np.float64), shape)
    metallic = np.broadcast_to(np.asarray(metallic, np.float64), shape)[..., None]
    n_dot_v = np.ones(shape) if n_dot_v is None else np.broadcast_to(n_dot_v, shape)
    table = _split_sum(roughness, n_dot_v)
    metal = _metal_albedo(table, base)
    dielectric = _dielectric_albedo(table)[..., None]
    visibility = np.asarray(visibility, np.float64)[..., None]
    seen = visibility if specular_seen is None else np.asarray(specular_seen, np.float64)[..., None]
    bounce = np.asarray(bounce, np.float64)
    diffuse_light = visibility + (1.0 - visibility) * bounce
    specular_light = seen + (1.0 - seen) * bounce
    return (diffuse_light * (1 - metallic) * base * (1 - dielectric)
            + specular_light * ((1 - metallic) * dielectric + metallic * metal))


def lambert(normals: np.ndarray) -> np.ndarray:
    """Shading factor for world normals ``[..., 3]``: ambient + sum of clamped n . l."""
    dots = np.clip(normals @ LIGHT_DIRECTIONS.T, 0.0, None)
    return AMBIENT + dots @ LIGHT_INTENSITIES


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


# Jimenez et al.'s cone holds most of a GGX lobe; for occlusion by the baked cone of sky a cone twice as
# wide in roughness^2 matches Cycles better (benchmarks/fidelity.py: 29.60 -> 29.76 dB on its six
# objects, 31.85 -> 32.04 on six others, seed 1; 1.5 and 3 do a little less on both).
SPECULAR_CONE_SCALE = 2.0


def cone_cosine_from_roughness(roughness: np.ndarray) -> np.ndarray:
    """Cosine of the half-angle of the cone that stands for a GGX lobe of this (perceptual)
    roughness in the specular occlusion: Jimenez et al. 2016's ("Practical real-time strategies for
    accurate indirect occlusion") ``exp2(-3.32 r^2)`` with ``r^2`` scaled by
    :data:`SPECULAR_CONE_SCALE`: 1 (a mirror's ray) at 0, ~0.01 (the hemisphere) at 1."""
    return np.exp2(-3.32193 * SPECULAR_CONE_SCALE * np.asarray(roughness, np.float64) ** 2)


def specular_visibility(bent: np.ndarray, visibility: np.ndarray, normal: np.ndarray, reflected: np.ndarray,
                        roughness: np.ndarray) -> np.ndarray:
    """The share ``[...]`` of the specular lobe that sees the sky: the lobe is a cone about the unit
    mirror direction ``reflected [..., 3]`` (:func:`cone_cosine_from_roughness`), the sky a cone
    about the unit bent normal ``bent [..., 3]`` of the half-angle whose cosine-weighted share is
    ``visibility`` (sin^2 = visibility); their overlap (the cap intersection of Oat and Sander
    2007) over the lobe's overlap with the open hemisphere about the unit smooth ``normal [..., 3]``
    the bake used (the part below its horizon is the split sum's business). An open point's bent
    normal is that normal, so it keeps 1. A smooth metal reflects the sky where its mirror ray
    escapes and the object where it does not, which the cosine-weighted ``visibility`` alone cannot
    say. The `gl` fragment shader computes the same."""
    visibility = np.clip(np.asarray(visibility, np.float64), 0.0, 1.0)
    cos_s = np.minimum(cone_cosine_from_roughness(roughness), 1.0 - 1e-6)
    seen = _cap_overlap(np.sqrt(1.0 - visibility), cos_s, np.sum(np.asarray(bent) * reflected, -1))
    open_sky = _cap_overlap(np.zeros_like(cos_s), cos_s, np.sum(np.asarray(normal) * reflected, -1))
    return np.where(open_sky > 1e-6, np.clip(seen / np.maximum(open_sky, 1e-6), 0.0, 1.0), visibility)


def _cap_overlap(cos_a: np.ndarray, cos_b: np.ndarray, cos_between: np.ndarray) -> np.ndarray:
    """Solid angle / 2 pi shared by two spherical caps of half-angle cosines ``cos_a``, ``cos_b`` whose
    axes are ``cos_between`` apart: exact when one holds the other or they are apart, a smoothstep
    between (Oat and Sander 2007, "Ambient aperture lighting")."""
    r_a, r_b = np.arccos(np.clip(cos_a, -1, 1)), np.arccos(np.clip(cos_b, -1, 1))
    r_between = np.arccos(np.clip(cos_between, -1.0, 1.0))
    smaller = 1.0 - np.maximum(cos_a, cos_b)
    gap = np.abs(r_a - r_b)
    x = 1.0 - np.clip((r_between - gap) / np.maximum(r_a + r_b - gap, 1e-6), 0.0, 1.0)
    return np.where(r_between <= gap, smaller, np.where(r_between >= r_a + r_b, 0.0, smaller * x * x * (3 - 2 * x)))

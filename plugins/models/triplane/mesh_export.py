"""A triplane's surface as a mesh: marching cubes on a density grid (scikit-image), vertex colours."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import trimesh

from lrmzero.plugins.models.triplane.volume import sample_planes


@torch.no_grad()
def triplane_mesh(planes: torch.Tensor, decoder, bound: float, density_bias: float, resolution: int,
                  threshold: float) -> trimesh.Trimesh:
    """The level set ``density = threshold`` of object 0 of ``planes [1, 3, C, R, R]`` in
    ``[-bound, bound]^3``, with the decoder's colour at each vertex. An empty or full grid gives a
    mesh with no faces (the export still loads)."""
    from skimage.measure import marching_cubes

    axis = torch.linspace(-bound, bound, resolution, device=planes.device)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(1, -1, 3)
    density = []
    for start in range(0, grid.shape[1], 1 << 18):
        raw, _ = decoder(sample_planes(planes, grid[:, start:start + (1 << 18)], bound))
        density.append(F.softplus(raw + density_bias))
    volume = torch.cat(density, dim=1).reshape(resolution, resolution, resolution).cpu().numpy()
    if not (volume.min() < threshold < volume.max()):
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), int))
    verts, faces, _, _ = marching_cubes(volume, level=threshold)
    verts = verts / (resolution - 1) * 2 * bound - bound
    points = torch.from_numpy(verts.astype(np.float32)).to(planes.device)[None]
    _, rgb = decoder(sample_planes(planes, points, bound))
    colors = (rgb[0].clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)
    # marching_cubes winds faces for increasing values; the surface faces out of the dense side
    return trimesh.Trimesh(verts, faces[:, ::-1], vertex_colors=colors, process=False)

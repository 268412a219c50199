"""`RayCaster`: rays against one mesh (Embree through embreex where present, else trimesh's intersector),
past its cut-outs; the raycast renderer's and the light bake's."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import trimesh

from lrmzero.plugins.renderers.cutouts import MAX_HOLES, SeeThrough

HOLE_STEP = 1e-5  # how far past a hole a ray goes on (object units: the object is ~1.8 across)


class RayCaster:
    """Rays against one mesh, its acceleration structure built once: Embree where embreex is present
    (threads: it releases the GIL), else trimesh's intersector. ``holes``: the mesh's cut-outs
    (:func:`~lrmzero.plugins.renderers.cutouts.hole_test`), which rays pass through."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, holes: SeeThrough | None = None) -> None:
        self.vertices, self.faces, self.holes = vertices, faces, holes
        try:
            from embreex import rtcore_scene
            from embreex.mesh_construction import TriangleMesh
        except ImportError:
            self.scene = None
            self.mesh = trimesh.Trimesh(vertices, faces, process=False)
        else:
            self.scene = rtcore_scene.EmbreeScene()
            TriangleMesh(self.scene, vertices[faces].astype(np.float32))

    def cast(self, origins: np.ndarray, dirs: np.ndarray, distance: float, closest: bool
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Rays (``origins``, ``dirs`` ``[N, 3]`` float32) that hit within ``distance``: ``(ray index [H],
        face [H], barycentric (u, v) [H, 2])`` of the first hit if ``closest``, else ``(ray index [H],
        None, None)`` (an occlusion query, ~1.5x faster). A hit in a hole does not count: the ray goes on."""
        if self.holes is None:
            return self._cast(origins, dirs, distance, closest)
        ray, face, uv = self._cast_past_holes(origins, dirs, distance)
        return (ray, face, uv) if closest else (ray, None, None)

    def _cast_past_holes(self, origins: np.ndarray, dirs: np.ndarray, distance: float
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest hits outside the holes: a ray that hits a hole is cast again from just past it, at most
        ``MAX_HOLES`` times (then the next surface counts, hole or not)."""
        pending = np.arange(len(origins))
        start = np.asarray(origins, np.float32)
        left = np.full(len(origins), distance, np.float64)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for layer in range(MAX_HOLES + 1):
            ray, face, uv = self._cast(start, dirs[pending], left, closest=True)
            bary = np.column_stack([1.0 - uv.sum(1), uv])
            hole = self.holes(face, bary) if layer < MAX_HOLES else np.zeros(len(face), bool)
            found.append((pending[ray[~hole]], face[~hole], uv[~hole]))
            if not hole.any():
                break
            ray, bary, face = ray[hole], bary[hole], face[hole]
            point = np.einsum("ni,nij->nj", bary, self.vertices[self.faces[face]])
            pending = pending[ray]
            left = left[ray] - np.linalg.norm(point - start[ray], axis=1) - HOLE_STEP
            start = (point + HOLE_STEP * dirs[pending]).astype(np.float32)
            going = left > 0
            pending, left, start = pending[going], left[going], start[going]
        ray, face, uv = (np.concatenate(parts) for parts in zip(*found))
        order = np.argsort(ray, kind="stable")
        return ray[order], face[order], uv[order]

    def _cast(self, origins: np.ndarray, dirs: np.ndarray, distance: float | np.ndarray, closest: bool
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """:meth:`cast` without holes; ``distance``: one for all rays, or ``[N]``."""
        distance = np.broadcast_to(np.asarray(distance, np.float32), (len(origins),))
        if self.scene is None:
            locations, index_ray, index_tri = self.mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
            near = np.linalg.norm(locations - origins[index_ray], axis=1) < distance[index_ray]
            index_ray, index_tri, locations = index_ray[near], index_tri[near], locations[near]
            if not closest:
                return index_ray, None, None
            bary = trimesh.triangles.points_to_barycentric(self.vertices[self.faces[index_tri]], locations)
            return index_ray, index_tri, bary[:, 1:]
        if len(origins) == 0:
            none = np.zeros(0, np.int64)
            return (none, none, np.zeros((0, 2))) if closest else (none, None, None)
        scene = self.scene
        dists = np.array(distance, np.float32)  # a writable copy (embreex asks for one)

        def intersect(part: slice) -> dict | np.ndarray:
            if not closest:  # embree reports 0 for an occluded ray, -1 for a free one
                return np.asarray(scene.run(origins[part], dirs[part], dists=dists[part], query="OCCLUDED")) == 0
            return scene.run(origins[part], dirs[part], dists=dists[part], query="INTERSECT", output=1)

        chunks = [c for c in np.array_split(np.arange(len(origins)), max(1, min(os.cpu_count() or 1, 8))) if len(c)]
        with ThreadPoolExecutor(len(chunks)) as pool:
            parts = list(pool.map(intersect, [slice(c[0], c[-1] + 1) for c in chunks]))
        if not closest:
            return np.flatnonzero(np.concatenate(parts)), None, None
        face = np.concatenate([np.asarray(p["primID"]) for p in parts])
        tfar = np.concatenate([np.asarray(p["tfar"]) for p in parts])
        index_ray = np.flatnonzero((face >= 0) & (tfar < distance))  # -1: no hit
        uv = np.stack([np.concatenate([np.asarray(p[k]) for p in parts])[index_ray] for k in ("u", "v")], 1)
        return index_ray, face[index_ray].astype(np.int64), uv.astype(np.float64)

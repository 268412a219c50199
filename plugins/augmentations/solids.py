"""PartMesh <-> manifold3d conversions that carry UVs and (surface, material) ids through booleans."""

from __future__ import annotations

import manifold3d as m3
import numpy as np

from lrmzero import PartMesh
from lrmzero.mesh import weld_positions

ID_BITS = 16  # face_id = surface << 16 | material
# Surface id of faces that from_manifold numbers after the part's. face_id must stay below 2^31:
# manifold3d treats larger ids as unset and generates its own.
NEW_SURFACE = (1 << 15) - 1


def to_manifold(part: PartMesh, group: np.ndarray | None = None) -> m3.Manifold:
    """A manifold3d solid of ``part``: positions welded (merge vectors) while each vertex keeps its
    own UV, and each triangle's face_id encodes its (surface, material). ``group``: the part's
    ``weld_positions`` inverse, if already known."""
    if group is None:
        _, group = weld_positions(part.vertices)
    first = np.full(int(group.max()) + 1, -1)
    first[group[::-1]] = np.arange(len(group))[::-1]  # lowest vertex index of each position
    canon = first[group]
    dup = np.nonzero(canon != np.arange(len(group)))[0]
    props = np.concatenate([part.vertices, part.uv], axis=1).astype(np.float32)
    face_id = (part.surface.astype(np.uint32) << ID_BITS) | part.material.astype(np.uint32)
    mesh = m3.Mesh(
        vert_properties=np.ascontiguousarray(props),
        tri_verts=np.ascontiguousarray(part.faces.astype(np.uint32)),
        merge_from_vert=dup.astype(np.uint32),
        merge_to_vert=canon[dup].astype(np.uint32),
        face_id=face_id,
    )
    solid = m3.Manifold(mesh)
    if solid.status() != m3.Error.NoError:
        raise ValueError(f"part {part.kind!r} is not a closed manifold: {solid.status()}")
    return solid


def from_manifold(solid: m3.Manifold, like: PartMesh) -> PartMesh:
    """Back to a PartMesh (kind, params and size from ``like``). Faces whose surface id was
    ``NEW_SURFACE`` (e.g. a cutter's walls) get the next surface id after ``like``'s."""
    mesh = solid.to_mesh()
    props = np.asarray(mesh.vert_properties, dtype=np.float64)
    face_id = np.asarray(mesh.face_id, dtype=np.uint32)
    surface = (face_id >> ID_BITS).astype(np.int32)
    surface[surface == NEW_SURFACE] = like.num_surfaces
    return like.copy(
        vertices=props[:, :3],
        faces=np.asarray(mesh.tri_verts, dtype=np.int64),
        uv=np.clip(props[:, 3:5], 0.0, 1.0),
        surface=surface,
        material=(face_id & ((1 << ID_BITS) - 1)).astype(np.int32),
    )


def offset_inward(part: PartMesh, thickness: float, group: np.ndarray | None = None) -> PartMesh:
    """The part's surface moved ``thickness`` inward along its smooth normals (same winding): the
    inner wall of a shell. Valid while ``thickness`` is below the surface's radius of curvature.
    Copies of a position get one normal, so the wall welds exactly like the part (``group``)."""
    return part.copy(vertices=part.vertices - thickness * part.vertex_normals(group))

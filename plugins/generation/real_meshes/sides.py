"""Whether a real mesh's back faces can be seen: they can unless it is closed and wound outwards.

Blender's Cycles (the official renders') shows every face from both sides; a renderer that skips back faces
shows the same only where no back face is ever in view. A file's mesh is often open (a sheet, a leaf, a
cup of one wall, a scan with holes) or wound the wrong way in places (CAD exports, mirrored parts)."""

from __future__ import annotations

import numpy as np
import trimesh

from lrmzero.mesh import weld_positions


def closed_and_outward(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """True when every part of the mesh (``vertices [V, 3]``, ``faces [F, 3]``) is closed, consistently
    wound and encloses a positive volume, so that from outside it only its front faces can be seen.

    Positions are welded first (UV seams and per-face colours split vertices without opening the surface).
    Each connected part counts on its own: a shell wound inwards inside an outward one is not outward."""
    positions, group = weld_positions(vertices)
    welded = trimesh.Trimesh(positions, group[faces], process=False)
    if len(welded.faces) == 0 or not (welded.is_watertight and welded.is_winding_consistent):
        return False
    part = trimesh.graph.connected_component_labels(welded.face_adjacency, node_count=len(welded.faces))
    tri = welded.triangles
    signed = np.einsum("fj,fj->f", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0  # tetrahedra from the origin
    return bool((np.bincount(part, signed) > 0).all())

"""``lrmzero view``: a local web page (viser) showing a dataset, one object, a reconstruction, a
``.ply`` of Gaussians or a mesh. The scene itself is built by :mod:`view_scene`; this module only
hands it to viser and wires the controls (object, image layer, whether cameras show)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lrmzero.plugins.tools.view_scene import (LAYERS, Scene, dataset_objects, folder_scene, load_mesh,
                                              object_scene, path_kind, splats_from_ply)


def build_scene(path: str | Path, kind: str, max_views: int | None = None) -> Scene:
    """The scene of a single item (``object``, ``ply``, ``mesh``, ``folder``; see :func:`path_kind`)."""
    p = Path(path)
    if kind == "object":
        return object_scene(p, max_views=max_views)
    if kind == "ply":
        return Scene(splats={p.stem: splats_from_ply(p)})
    if kind == "mesh":
        return Scene(meshes={p.stem: load_mesh(str(p), p.suffix[1:], str(p))})
    return folder_scene(p)


def show(server: Any, scene: Scene, cameras_visible: bool = True, frustum_scale: float = 0.15) -> tuple[list, list]:
    """Add ``scene`` to a viser server under ``/scene``; returns (all handles, the frusta's handles)."""
    handles = []
    for name, mesh in scene.meshes.items():
        handles.append(server.scene.add_mesh_trimesh(f"/scene/meshes/{name}", mesh))
    for name, s in scene.splats.items():
        handles.append(server.scene.add_gaussian_splats(
            f"/scene/gaussians/{name}", centers=s.centers.astype(np.float32),
            covariances=s.covariances.astype(np.float32), rgbs=s.rgbs.astype(np.float32),
            opacities=s.opacities.astype(np.float32)))
    frusta = [server.scene.add_camera_frustum(
        f"/scene/cameras/{f.name}", fov=f.fov, aspect=f.aspect, scale=frustum_scale, image=f.image,
        wxyz=f.wxyz, position=f.position, color=f.color, visible=cameras_visible) for f in scene.frusta]
    return handles + frusta, frusta


DROPDOWN_OBJECTS = 500  # more: a slider and an id box (a dropdown of 800K names would stall the page)


def object_picker(server: Any, names: list[str], on_pick: Callable[[int], None]) -> list:
    """Controls that pick one of ``names`` and call ``on_pick(index)`` once per pick: a dropdown for
    up to :data:`DROPDOWN_OBJECTS` names, else a slider over their positions beside a box that shows
    the object's id (typing another id jumps there). Returns the controls' handles."""
    if len(names) <= DROPDOWN_OBJECTS:
        pick = server.gui.add_dropdown("object", tuple(names), initial_value=names[0])
        index = {name: i for i, name in enumerate(names)}
        pick.on_update(lambda _event: on_pick(index[pick.value]))
        return [pick]
    position = server.gui.add_slider(f"object (of {len(names)})", min=0, max=len(names) - 1, step=1,
                                     initial_value=0)
    typed = server.gui.add_text("object id", initial_value=names[0])
    index = {name: i for i, name in enumerate(names)}

    @position.on_update
    def _(_event: Any) -> None:
        i = int(position.value)
        if typed.value != names[i]:
            typed.value = names[i]  # its own update sees the same position and does nothing
        on_pick(i)

    @typed.on_update
    def _(_event: Any) -> None:
        i = index.get(typed.value.strip())
        if i is not None and i != int(position.value):  # not an id (yet), or already shown
            position.value = i  # the slider's update picks it

    return [position, typed]


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8080, max_views: int | None = None) -> None:
    """Serve the viewer of ``path`` until Ctrl-C (KeyboardInterrupt). Everything is read and
    checked before the server starts.

    Raises:
        ValueError: a path that cannot be shown, named with why.
    """
    import viser

    kind = path_kind(path)
    objects = dataset_objects(path) if kind == "dataset" else []
    if kind == "dataset" and not objects:
        raise ValueError(f"{str(path)!r} has no finished objects to show")
    first = object_scene(objects[0], max_views=max_views) if objects else build_scene(path, kind, max_views)

    server = viser.ViserServer(host=host, port=port, label="lrmzero", verbose=False)
    server.scene.set_up_direction("+z")
    server.initial_camera.position = (2.6, -2.6, 1.8)
    server.initial_camera.look_at = (0.0, 0.0, 0.0)
    show_cameras = server.gui.add_checkbox("cameras", initial_value=True)
    shown = dict(zip(("handles", "frusta"), show(server, first)))
    lock = threading.Lock()

    if objects:
        current = [0]

        def reload(index: int) -> None:
            current[0] = index
            scene = object_scene(objects[index], layer.value, max_views)
            with lock:
                for h in shown["handles"]:
                    h.remove()
                shown.update(zip(("handles", "frusta"), show(server, scene, show_cameras.value)))

        object_picker(server, [o.name for o in objects], reload)
        layer = server.gui.add_dropdown("image", LAYERS, initial_value="rgba")
        layer.on_update(lambda _event: reload(current[0]))

    @show_cameras.on_update
    def _(_event: Any) -> None:
        with lock:
            for h in shown["frusta"]:
                h.visible = show_cameras.value

    print(f"lrmzero view: http://{host}:{server.get_port()}  ({kind}: {path}; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(0.5)
    finally:
        server.stop()

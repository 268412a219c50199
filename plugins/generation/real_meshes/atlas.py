"""A real mesh's parts joined into one mesh with one texture atlas, its PBR maps laid out alike.

Written here rather than through trimesh's joining (``Scene.to_mesh``, ``material.pack``): that maps a
part's UVs into the atlas only to within about a texel (``(size - 1) / atlas_size``), which puts a
one-texel-per-colour table (:func:`~lrmzero.plugins.generation.real_meshes.materials.face_colour_table`) on its
neighbours' colours, keeps normal maps only when every part has one, and fills a part without a
metallic-roughness map with other defaults than this project's (``lrmzero.asset.FLAT_MAPS``).
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import trimesh

from lrmzero.asset import CUTOUT_MAP, EMISSIVE_MAP, FLAT_MAPS, MAP_NAMES
from lrmzero.images import convert_8bit
from lrmzero.plugins.generation.real_meshes.materials import shrunk

# The colour of a part with neither a texture nor a colour of its own
UNCOLOURED = (180, 180, 180)
PADDING = 2  # texels of each part's image repeated around it, so that filtering never reaches a neighbour
MAX_ATLAS = 8192  # texels across at most; larger atlases are made from smaller copies of every image
MAP_ATTRIBUTES = {"metallic_roughness": "metallicRoughnessTexture", "normal": "normalTexture",
                  EMISSIVE_MAP: "emissiveTexture"}


def part_images(part: trimesh.Trimesh, same_size: bool = True) -> tuple[np.ndarray, np.ndarray,
                                                                         dict[str, np.ndarray]]:
    """A part's UVs ``[V, 2]`` (in the unit square, v up) and base colour ``[H, W, 3]`` uint8, and its PBR maps
    by name (``MAP_NAMES``; ``CUTOUT_MAP``, ``EMISSIVE_MAP`` where it has cut-outs, emission), resized to the
    base colour's size where ``same_size``; a part without a texture is one colour (its UVs all at the centre)."""
    visual = getattr(part, "visual", None)
    material = getattr(visual, "material", None)
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    uv = getattr(visual, "uv", None)
    if image is None or uv is None or len(uv) != len(part.vertices):
        return np.full((len(part.vertices), 2), 0.5), np.full((2, 2, 3), UNCOLOURED, np.uint8), {}
    base = np.asarray(convert_8bit(image, "RGB"), np.uint8)
    maps = {}
    for name, attribute in MAP_ATTRIBUTES.items():
        extra = getattr(material, attribute, None)
        if extra is not None:
            array = np.asarray(convert_8bit(extra, "RGB"), np.uint8)
            if same_size and array.shape[:2] != base.shape[:2]:
                array = cv2.resize(array, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_LINEAR)
            maps[name] = array
    if getattr(material, "alphaMode", None) == "MASK":  # cut-outs (materials.cut_outs): alpha 0 or 255
        alpha = np.asarray(convert_8bit(image, "RGBA"), np.uint8)[..., 3]
        maps[CUTOUT_MAP] = np.repeat(alpha[..., None], 3, axis=-1)
    return np.clip(np.asarray(uv, np.float64), 0.0, 1.0), base, maps


def shelf_layout(sizes: list[tuple[int, int]], padding: int) -> tuple[list[tuple[int, int]], int, int]:
    """Places rectangles ``(height, width)`` (each grown by ``padding`` on every side) on shelves, tallest
    first, in rows about as wide as the square of their total area: the top-left corner of each
    rectangle's inside, and the atlas's height and width."""
    grown = [(h + 2 * padding, w + 2 * padding) for h, w in sizes]
    width = max(max(w for _, w in grown), int(np.ceil(np.sqrt(sum(h * w for h, w in grown)))))
    corners: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    x = y = shelf = 0
    for i in sorted(range(len(sizes)), key=lambda k: -grown[k][0]):
        h, w = grown[i]
        if x + w > width:
            x, y, shelf = 0, y + shelf, 0
        corners[i] = (y + padding, x + padding)
        x, shelf = x + w, max(shelf, h)
    return corners, y + shelf, width


def join_parts(parts: list[trimesh.Trimesh], transforms: list[np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Parts (UVs in the unit square), each placed by its ``transforms`` entry (``[4, 4]``; none: as they are),
    as one mesh: vertices ``[V, 3]``, faces ``[F, 3]`` (the parts' in order), UVs ``[V, 2]`` into one
    base-colour atlas ``[H, W, 3]`` uint8, and the PBR maps any part has as atlases laid out alike (a part
    without one filled with ``FLAT_MAPS``). One part may appear many times (instances): its images are read
    once. Each texel centre of a part's image is a texel centre of the atlas: nothing is resampled (below
    ``MAX_ATLAS``)."""
    transforms = [np.eye(4)] * len(parts) if transforms is None else transforms
    if len({id(part) for part in parts}) == 1:  # no atlas: the part's own images, its maps at their own sizes
        uv, base, maps = part_images(parts[0], same_size=False)
        slot_of_part, images, corners, height, width = [0] * len(parts), [base], [(0, 0)], *base.shape[:2]
        uvs_of = {id(parts[0]): uv}
        atlas, maps_out = base, maps
    else:
        # parts showing the same images (instances of one geometry, parts of one material) share one place
        slot_of_key: dict[bytes, int] = {}
        slot_of_id: dict[int, int] = {}
        uvs_of: dict[int, np.ndarray] = {}
        slots = []
        for part in parts:
            if id(part) in slot_of_id:
                continue
            uv, base, maps = part_images(part)
            key = _digest(base, maps)
            if key not in slot_of_key:
                slot_of_key[key] = len(slots)
                slots.append((base, maps))
            slot_of_id[id(part)], uvs_of[id(part)] = slot_of_key[key], uv
        slot_of_part = [slot_of_id[id(part)] for part in parts]
        images, corners, height, width, atlas, maps_out = _atlas(slots)
    vertices, faces, uvs, offset = [], [], [], 0
    for part, transform, slot in zip(parts, transforms, slot_of_part):
        (top, left), (h, w) = corners[slot], images[slot].shape[:2]
        uv = uvs_of[id(part)]
        # texel (row (1 - v) h, column u w) of the image is texel (top + that, left + that) of the atlas
        uvs.append(np.column_stack([(left + uv[:, 0] * w) / width, 1.0 - (top + (1.0 - uv[:, 1]) * h) / height]))
        rotation = np.asarray(transform, np.float64)[:3, :3]
        vertices.append(np.asarray(part.vertices, np.float64) @ rotation.T + np.asarray(transform)[:3, 3])
        part_faces = np.asarray(part.faces, np.int64)
        faces.append((part_faces[:, ::-1] if np.linalg.det(rotation) < 0 else part_faces) + offset)  # a mirror
        offset += len(part.vertices)  # turns the faces inside out unless their corners turn too
    return np.concatenate(vertices), np.concatenate(faces), np.concatenate(uvs), atlas, maps_out


def _atlas(slots: list[tuple[np.ndarray, dict[str, np.ndarray]]]):
    """The images of ``slots`` (base colour, maps) placed on shelves (halved until the atlas fits
    ``MAX_ATLAS``): (each slot's base image as placed, each one's inside corner, the atlas's height and width,
    the base-colour atlas, the map atlases)."""
    scale = 1.0
    while True:
        images = [base if scale == 1.0 else shrunk(base, scale) for base, _ in slots]
        corners, height, width = shelf_layout([im.shape[:2] for im in images], PADDING)
        if max(height, width) <= MAX_ATLAS:
            break
        scale *= 0.5
    names = [name for name in (*MAP_NAMES, CUTOUT_MAP, EMISSIVE_MAP) if any(name in maps for _, maps in slots)]
    atlases = {"base": np.zeros((height, width, 3), np.uint8)}
    atlases.update({name: np.tile(np.array(FLAT_MAPS[name], np.uint8), (height, width, 1)) for name in names})
    for (base, maps), image, (top, left) in zip(slots, images, corners):
        h, w = image.shape[:2]
        layers = {"base": image}
        for name in names:
            layer = maps.get(name, np.tile(np.array(FLAT_MAPS[name], np.uint8), (*base.shape[:2], 1)))
            layers[name] = layer if scale == 1.0 else shrunk(layer, scale)
        for name, layer in layers.items():  # the image and its border of repeated edge texels
            atlases[name][top - PADDING: top + h + PADDING, left - PADDING: left + w + PADDING] = \
                np.pad(layer, ((PADDING, PADDING), (PADDING, PADDING), (0, 0)), mode="edge")
    return images, corners, height, width, atlases["base"], {name: atlases[name] for name in names}


def _digest(base: np.ndarray, maps: dict[str, np.ndarray]) -> bytes:
    """What a part shows, as a key: its images' sizes and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for name, image in [("base", base), *sorted(maps.items())]:
        digest.update(name.encode() + repr(image.shape).encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.digest()

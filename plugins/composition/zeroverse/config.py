"""The Zeroverse composer's config: the top-level ``shape`` and ``materials`` sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from lrmzero import ConfigError, param


@dataclass
class ShapeConfig:
    primitives: List[str] = param(
        ["cube", "sphere", "cylinder", "cone", "torus"], "primitive kinds drawn for the parts", nonempty=True,
        names_of="primitives",
    )
    primitive_weights: Optional[List[float]] = param(
        None, "relative weight of each kind in `primitives` (null: uniform)", ge=0.0
    )
    count_weights: List[float] = param(
        [5, 5, 5, 4, 4, 3, 2, 1, 1], "relative weight of 1, 2, ... parts per object", ge=0.0, nonempty=True
    )
    half_axis_min: float = param(0.25, "smallest half-axis of a part", gt=0.0)
    half_axis_max: float = param(2.0, "largest half-axis of a part", gt=0.0)
    max_rotation_deg: float = param(180.0, "rotations are U(0, this) about x, y and z", ge=0.0, le=360.0)
    translation_fraction: float = param(
        0.5, "translations are U(0, this * largest side of the new part) per axis", ge=0.0, le=10.0
    )
    material_jitter: float = param(
        0.25, "material-boundary jitter, as a fraction of the part's size", ge=0.0, le=1.0
    )

    renormalize_after_augmentations: bool = param(
        False, "normalize again after the augmentations (the official code does not: a wireframe may reach "
        "past the 1.8 box, a cut may shrink it)")

@dataclass
class MaterialsConfig:
    sources: List[str] = param(
        ["pbr"], "texture sources drawn", nonempty=True,
        names_of="textures",
    )
    source_weights: Optional[List[float]] = param(
        None, "relative weight of each source in `sources` (null: uniform)", ge=0.0
    )
    sampling: str = param(
        "per_surface",
        "per_surface: a texture per material slot (paper); per_object: one per object (released code)",
        choices=["per_surface", "per_object"],
    )
    tile_size: int = param(512, "texels per side of each material's tile in the atlas", ge=8, le=4096)
    default_roughness: float = param(0.6, "roughness of materials whose source paints no roughness map", ge=0.0, le=1.0)
    gutter: int = param(4, "texels of border kept between tiles against bleeding", ge=0, le=64)


@dataclass
class ZeroverseConfig:
    shape: ShapeConfig = field(default_factory=ShapeConfig)
    materials: MaterialsConfig = field(default_factory=MaterialsConfig)

    def check(self) -> None:
        """Cross-field rules (single fields are checked by the core validation layer).

        Raises:
            ConfigError: naming the key, the value and what is allowed.
        """
        s, m = self.shape, self.materials
        if s.half_axis_min > s.half_axis_max:
            raise ConfigError(
                f"shape.half_axis_min: got {s.half_axis_min}, larger than shape.half_axis_max "
                f"{s.half_axis_max}; allowed: half_axis_min <= half_axis_max"
            )
        check_weights("shape.count_weights", s.count_weights, None)
        check_weights("shape.primitive_weights", s.primitive_weights, s.primitives)
        check_weights("materials.source_weights", m.source_weights, m.sources)


def check_weights(key: str, weights: list | None, names: list | None) -> None:
    if weights is None:
        return
    if names is not None and len(weights) != len(names):
        raise ConfigError(
            f"{key}: got {len(weights)} weights for {len(names)} names {names}; allowed: one "
            "weight per name, or null for uniform"
        )
    if not weights or sum(weights) <= 0:
        raise ConfigError(f"{key}: got {weights}; allowed: non-negative numbers with a positive sum")

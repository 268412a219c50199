"""The `triplane_lrm` model component: presets, config, and the model contract (NeRF volume
rendering of the triplane; export as a GLB mesh by marching cubes on a density grid)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lrmzero import ConfigError, param
from lrmzero.components import ReconstructionModel

# (layers, width, heads, plane_tokens, upsample, channels, samples) per preset. `base` follows
# OpenLRM's base model (12 x 768, 12 heads; 32^2 tokens per plane upsampled to 64^2).
PRESETS = {
    "tiny": (4, 128, 4, 8, 4, 16, 24),
    "base": (12, 768, 12, 32, 2, 48, 96),
}


class TriplaneLRM(ReconstructionModel):
    """Triplane LRM (OpenLRM / Instant3D): image patches with Plucker rays and learned triplane tokens
    through one transformer -> three feature planes -> an MLP decoder -> density and colour, rendered
    by NeRF volume rendering inside the object box."""

    name = "triplane_lrm"

    @dataclass
    class Config:
        preset: str = param("tiny", "size preset: tiny (CPU), base (OpenLRM's base size)", choices=list(PRESETS))
        layers: Optional[int] = param(None, "transformer blocks (null: from the preset)", ge=1)
        width: Optional[int] = param(None, "token width (null: from the preset)", ge=8)
        heads: Optional[int] = param(None, "attention heads (null: from the preset)", ge=1)
        plane_tokens: Optional[int] = param(None, "tokens per side of each plane (null: preset)", ge=1, le=128)
        upsample: Optional[int] = param(None, "plane texels per token side (null: preset)", ge=1, le=16)
        channels: Optional[int] = param(None, "feature channels per plane texel (null: preset)", ge=1, le=256)
        samples: Optional[int] = param(None, "samples per ray (null: preset)", ge=2, le=1024)
        patch_size: int = param(4, "pixels per side of an image token", ge=1, le=64)
        mlp_ratio: float = param(4.0, "transformer MLP hidden width / token width", gt=0.0)
        decoder_hidden: int = param(32, "hidden width of the density/colour MLP", ge=4, le=1024)
        bound: float = param(1.0, "the box [-bound, bound]^3 that holds the object (normalized: 0.9)", gt=0.0)
        density_bias: float = param(0.0, "added to the raw density before softplus", ge=-20.0, le=20.0)
        gradient_checkpointing: bool = param(False, "recompute each block in the backward pass")
        mesh_resolution: int = param(64, "density grid per side for the exported mesh", ge=8, le=512)
        mesh_threshold: float = param(5.0, "density level of the exported surface", gt=0.0)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self.network = None

    def dims(self) -> dict:
        keys = ("layers", "width", "heads", "plane_tokens", "upsample", "channels", "samples")
        dims = {k: getattr(self.cfg, k) or v for k, v in zip(keys, PRESETS[self.cfg.preset])}
        if dims["width"] % dims["heads"]:
            raise ConfigError(f"model.width: got {dims['width']}, not divisible by model.heads {dims['heads']}; "
                              "allowed: a multiple of the heads")
        return dims

    def flops_per_object(self, input_views: int, resolution: int) -> float:
        """The transformer's forward FLOPs for one object: its matmuls (q, k, v, output, MLP) and
        attention over the image tokens and the 3 x plane_tokens^2 triplane tokens together (the patch
        embedding, the head and the volume rendering are not counted)."""
        d = self.dims()
        width, tokens = d["width"], input_views * (resolution // self.cfg.patch_size) ** 2 + 3 * d["plane_tokens"] ** 2
        per_token = 2 * (4 + 2 * self.cfg.mlp_ratio) * width * width + 2 * 2 * tokens * width
        return d["layers"] * per_token * tokens

    def check_resolution(self, resolution: int, key: str) -> None:
        self.dims()
        p = self.cfg.patch_size
        if resolution % p:
            raise ConfigError(f"{key}: got {resolution}, not a multiple of model.patch_size {p}; allowed: "
                              f"multiples of {p}")

    def build_network(self):
        """The transformer + decoder (:class:`~lrmzero.plugins.models.triplane.network.TriplaneLRMNetwork`);
        this component renders with the decoder of the network it built last."""
        from lrmzero.plugins.models.triplane.network import TriplaneDecoder, TriplaneLRMNetwork, TriplaneNetwork

        d, c = self.dims(), self.cfg
        backbone = TriplaneNetwork(d["layers"], d["width"], d["heads"], c.patch_size, d["plane_tokens"],
                                   d["upsample"], d["channels"], c.mlp_ratio, c.gradient_checkpointing)
        self.network = TriplaneLRMNetwork(backbone, TriplaneDecoder(d["channels"], c.decoder_hidden))
        return self.network

    def render(self, outputs: dict, w2c, K, size: int, background, with_depth: bool = True) -> dict:
        """Volume-render the planes into ``[B, T]`` cameras (float32, outside autocast). Depth is a
        by-product of the same weights, so it is returned whatever ``with_depth`` says."""
        import torch

        from lrmzero.plugins.models.triplane.volume import render_triplane

        if self.network is None:
            raise RuntimeError("triplane_lrm: build_network() before render()")
        planes = outputs["planes"]
        with torch.autocast(planes.device.type, enabled=False):
            return render_triplane(planes.float(), self.network.decoder, w2c.float(), K.float(), size,
                                   background.float(), self.cfg.bound, self.dims()["samples"],
                                   self.cfg.density_bias, jitter=self.network.training)

    def export(self, outputs: dict, folder: Path) -> dict[str, Path]:
        """Object 0 as ``mesh.glb``: marching cubes (scikit-image) on the density grid, vertex colours
        from the decoder."""
        from lrmzero.plugins.models.triplane.mesh_export import triplane_mesh

        mesh = triplane_mesh(outputs["planes"][:1].detach().float(), self.network.decoder, self.cfg.bound,
                             self.cfg.density_bias, self.cfg.mesh_resolution, self.cfg.mesh_threshold)
        path = Path(folder) / "mesh.glb"
        mesh.export(path)
        return {"mesh": path}

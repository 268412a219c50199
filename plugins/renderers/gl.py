"""`gl`: rasterize textured meshes with moderngl in a standalone EGL context (llvmpipe on a CPU,
the NVIDIA driver on a GPU). One pass writes colour, world normals and camera depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrmzero import param
from lrmzero.cameras import Cameras
from lrmzero.components import Renderer, RendererUnavailable
from lrmzero.plugins.renderers.shading import (
    AMBIENT,
    LIGHT_DIRECTIONS,
    LIGHT_INTENSITIES,
    finish_rgba,
    shade_factor_per_vertex,
)
from lrmzero.views import ShadingSettings, Views

NEAR, FAR = 0.01, 100.0

VERTEX_SHADER = """
#version 330
uniform mat4 w2c;          // OpenCV world-to-camera, column-major
uniform vec4 intrinsics;   // fx, fy, cx, cy in pixels
uniform vec2 size;         // W, H
uniform vec2 near_far;
in vec3 in_pos;
in vec2 in_uv;
in float in_shade;
out vec2 v_uv;
out vec3 v_world;
out float v_depth;
out float v_shade;
void main() {
    vec4 p = w2c * vec4(in_pos, 1.0);
    float n = near_far.x, f = near_far.y;
    // OpenCV pinhole to clip space; image row 0 (top) maps to NDC y = -1, which is the first row
    // glReadPixels returns, so read-back images need no flip (and front faces wind clockwise).
    gl_Position = vec4(
        2.0 * intrinsics.x / size.x * p.x + (2.0 * intrinsics.z / size.x - 1.0) * p.z,
        2.0 * intrinsics.y / size.y * p.y + (2.0 * intrinsics.w / size.y - 1.0) * p.z,
        (f + n) / (f - n) * p.z - 2.0 * f * n / (f - n),
        p.z);
    v_uv = in_uv;
    v_world = in_pos;
    v_depth = p.z;
    v_shade = in_shade;
}
"""

FRAGMENT_SHADER = """
#version 330
uniform sampler2D albedo;
uniform int lambert;
uniform vec3 eye;
uniform vec3 light_dir[3];
uniform vec3 light_int;
uniform float ambient;
in vec2 v_uv;
in vec3 v_world;
in float v_depth;
in float v_shade;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_geometry;
void main() {
    // The triangle's own plane: world position is linear over it, so its screen derivatives are
    // exact (flat normals without duplicating vertices per face). Oriented towards the camera,
    // which for the front faces of a closed mesh is outward.
    vec3 normal = normalize(cross(dFdx(v_world), dFdy(v_world)));
    if (dot(normal, eye - v_world) < 0.0) normal = -normal;
    vec3 color = texture(albedo, v_uv).rgb * v_shade;
    if (lambert == 1) {
        float s = ambient;
        for (int i = 0; i < 3; i++) s += light_int[i] * max(dot(normal, light_dir[i]), 0.0);
        color *= s;
    }
    out_color = vec4(color, 1.0);
    out_geometry = vec4(normal, v_depth);
}
"""


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter ``[H*f, W*f, C]`` to ``[H, W, C]`` (mean of each f x f block)."""
    if factor == 1:
        return image
    h, w = image.shape[0] // factor, image.shape[1] // factor
    return image.reshape(h, factor, w, factor, -1).mean(axis=(1, 3))


class GLRenderer(Renderer):
    """OpenGL rasterizer (moderngl, EGL): flat (geometric) normals, trilinear texture filtering,
    optional supersampling."""

    name = "gl"

    @dataclass
    class Config:
        supersample: int = param(1, "render at this multiple of the resolution and average down (antialiasing)", ge=1, le=4)
        cull_back_faces: bool = param(True, "skip back faces (meshes are closed; faster on llvmpipe)")
        anisotropy: float = param(1.0, "anisotropic texture filtering (1: off)", ge=1.0, le=16.0)

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        try:
            import moderngl

            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:  # noqa: BLE001 - any failure to get a context means "not here"
            raise RendererUnavailable(f"gl: no EGL context ({type(exc).__name__}: {exc})") from None
        self.moderngl = moderngl
        self.program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.program["light_dir"].write(LIGHT_DIRECTIONS.astype("f4").tobytes())
        self.program["light_int"].value = tuple(float(x) for x in LIGHT_INTENSITIES)
        self.program["ambient"].value = AMBIENT
        self.program["near_far"].value = (NEAR, FAR)
        self._fbo = None

    def _framebuffer(self, width: int, height: int):
        # Multisampled targets are ~100x slower on llvmpipe; antialiasing is done by supersampling.
        if self._fbo is None or self._fbo.size != (width, height):
            if self._fbo is not None:
                self._fbo.release()
            size = (width, height)
            self._fbo = self.ctx.framebuffer(
                color_attachments=[
                    self.ctx.renderbuffer(size, 4, dtype="f1"),
                    self.ctx.renderbuffer(size, 4, dtype="f4"),
                ],
                depth_attachment=self.ctx.depth_renderbuffer(size),
            )
        return self._fbo

    def render(self, asset, cameras: Cameras, settings: ShadingSettings, on_view=None) -> Views:
        W, H = int(cameras.width), int(cameras.height)
        ss = self.cfg.supersample
        background = np.clip(np.round(np.asarray(settings.background) * 255), 0, 255).astype(np.uint8)
        ao = shade_factor_per_vertex(asset, settings)
        shade = ao if ao is not None else np.ones(len(asset.vertices))
        data = np.concatenate([asset.vertices, asset.uv, shade[:, None]], axis=1).astype("f4")
        ctx = self.ctx
        vbo = ctx.buffer(np.ascontiguousarray(data).tobytes())
        ibo = ctx.buffer(np.ascontiguousarray(asset.faces.astype("i4")).tobytes())
        vao = ctx.vertex_array(self.program, [(vbo, "3f 2f 1f", "in_pos", "in_uv", "in_shade")], ibo)
        tex_img = np.ascontiguousarray(asset.texture[::-1])  # GL textures start at the bottom row (v = 0)
        texture = ctx.texture((tex_img.shape[1], tex_img.shape[0]), 3, tex_img.tobytes())
        texture.build_mipmaps()
        texture.filter = (self.moderngl.LINEAR_MIPMAP_LINEAR, self.moderngl.LINEAR)
        texture.anisotropy = self.cfg.anisotropy
        texture.repeat_x = texture.repeat_y = False
        texture.use(0)
        self.program["albedo"].value = 0
        self.program["lambert"].value = 1 if settings.shading == "lambert" else 0
        self.program["size"].value = (W * ss, H * ss)
        fbo = self._framebuffer(W * ss, H * ss)
        V = len(cameras)
        rgba = np.empty((V, H, W, 4), np.uint8)
        depth = np.empty((V, H, W), np.float32)
        normal = np.empty((V, H, W, 3), np.float32)
        w2c = cameras.w2c
        try:
            fbo.use()
            ctx.enable(self.moderngl.DEPTH_TEST)
            if self.cfg.cull_back_faces:
                ctx.enable(self.moderngl.CULL_FACE)
                ctx.front_face = "cw"
                ctx.cull_face = "back"
            else:
                ctx.disable(self.moderngl.CULL_FACE)
            for v in range(V):
                fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
                self.program["w2c"].write(w2c[v].T.astype("f4").tobytes())
                self.program["eye"].value = tuple(float(x) for x in cameras.c2w[v, :3, 3])
                K = cameras.K[v]
                self.program["intrinsics"].value = (K[0, 0] * ss, K[1, 1] * ss, K[0, 2] * ss, K[1, 2] * ss)
                vao.render(self.moderngl.TRIANGLES)
                col = np.frombuffer(fbo.read(components=4, dtype="f1", attachment=0), np.uint8)
                geo = np.frombuffer(fbo.read(components=4, dtype="f4", attachment=1), np.float32)
                col = col.reshape(H * ss, W * ss, 4)
                geo = geo.reshape(H * ss, W * ss, 4)
                if ss == 1:  # no blending: a pixel is covered (alpha 255) or empty (0)
                    rgba[v] = col
                    rgba[v][col[..., 3] == 0, :3] = background
                    normal[v] = geo[..., :3]
                    depth[v] = geo[..., 3]
                    if on_view is not None:
                        on_view(v, rgba[v], depth[v], normal[v])
                    continue
                # Average over the sub-pixels the object covers (straight colour, normal, depth).
                cover = col[..., 3:4].astype(np.float32) / 255.0
                packed = downsample(np.concatenate([col[..., :3] / 255.0, geo, cover], axis=-1) * cover, ss)
                alpha = packed[..., 7]
                inv = 1.0 / np.maximum(alpha, 1e-6)[..., None]
                rgba[v] = finish_rgba(packed[..., :3] * inv, alpha, settings.background)
                n = packed[..., 3:6]
                n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
                empty = alpha <= 0
                n[empty] = 0.0
                normal[v] = n
                d = packed[..., 6] * inv[..., 0]
                d[empty] = 0.0
                depth[v] = d
                if on_view is not None:
                    on_view(v, rgba[v], depth[v], normal[v])
        finally:
            vao.release()
            ibo.release()
            vbo.release()
            texture.release()
        return Views(rgba, depth, normal, cameras)

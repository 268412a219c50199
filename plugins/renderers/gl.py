"""`gl`: rasterize textured meshes with moderngl in a standalone EGL context (llvmpipe on a CPU,
the NVIDIA driver on a GPU). One pass writes colour, world normals and camera depth."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from lrmzero import param
from lrmzero.asset import CUTOUT_MAP, EMISSIVE_MAP, MAP_NAMES
from lrmzero.cameras import Cameras
from lrmzero.components import Renderer, RendererUnavailable
from lrmzero.plugins.renderers.mipmaps import level_uploader, mip_chain
from lrmzero.plugins.renderers.occlusion import ambient_occlusion, split_for_baking
from lrmzero.plugins.renderers.pixel_filter import bilinear_fetches, filter_taps
from lrmzero.plugins.renderers.shading import (AMBIENT, DIELECTRIC_F_AVERAGE, LIGHT_DIRECTIONS, LIGHT_INTENSITIES,
                                               SPECULAR_CONE_SCALE, dfg_table)
from lrmzero.plugins.renderers.two_sided import with_back_faces
from lrmzero.tone import finish_views
from lrmzero.views import ShadingSettings, Views

NEAR, FAR = 0.01, 100.0
OPACITY_UNIT, EMISSIVE_UNIT = 6, 7  # texture units: 0-2 the maps, 3 the dfg table, 4-5 the resolve's samples

VERTEX_SHADER = """
#version 330
uniform mat4 w2c;          // OpenCV world-to-camera, column-major
uniform vec4 intrinsics;   // fx, fy, cx, cy in pixels
uniform vec2 size;         // W, H
uniform vec2 near_far;
in vec3 in_pos;
in vec2 in_uv;
in float in_visibility;    // occlusion.BakedOcclusion: the sky's cosine-weighted share,
in vec3 in_bounce;         // the light along occluded directions,
in vec3 in_bent;           // and where the sky is (the bent normal) about
in vec3 in_smooth_normal;  // the normal the bake used
out vec2 v_uv;
out vec3 v_world;
out float v_depth;
out float v_visibility;
out vec3 v_bounce;
out vec3 v_bent;
out vec3 v_smooth_normal;
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
    v_visibility = in_visibility;
    v_bounce = in_bounce;
    v_bent = in_bent;
    v_smooth_normal = in_smooth_normal;
}
"""

FRAGMENT_SHADER = """
#version 330
uniform sampler2D base_color;
uniform sampler2D metallic_roughness;   // glTF packing: G roughness, B metallic
uniform sampler2D normal_map;           // tangent space, +Y = +v
uniform sampler2D dfg;                  // split-sum (A, B) and dielectric albedo D by (roughness, n . v)
uniform float dielectric_average;       // hemispherical average of the dielectric's exact Fresnel
uniform float specular_cone_scale;      // shading.SPECULAR_CONE_SCALE
uniform int mode;                       // 0 unlit, 1 lambert, 2 white environment
uniform vec3 eye;
uniform vec3 light_dir[3];
uniform vec3 light_int;
uniform float ambient;
in vec2 v_uv;
in vec3 v_world;
in float v_depth;
in float v_visibility;
in vec3 v_bounce;
in vec3 v_bent;
in vec3 v_smooth_normal;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_geometry;
#ifdef CUTOUTS
uniform sampler2D opacity;              // lrmzero.asset.CUTOUT_MAP: a hole below one half
#endif
#ifdef EMISSIVE
uniform sampler2D emissive;             // lrmzero.asset.EMISSIVE_MAP, sRGB: decoded to linear
#endif

// Specular reflectance of a uniform white environment: the GGX split sum from the table (shading.dfg_table)
// plus the multiple-scattering energy; shading.env_brdf is the same in numpy.
// ``abd``: the table's (A, B, D) at (roughness, n . v), fetched once for both lobes.
vec3 env_brdf(vec3 f0, vec3 abd) {
    vec3 single = f0 * abd.x + abd.y;
    float lost = 1.0 - (abd.x + abd.y);
    vec3 average = f0 + (1.0 - f0) / 21.0;
    return single + single * average * lost / (1.0 - lost * average);
}

// The same for a dielectric of index 1.5 with its exact Fresnel (shading.dielectric_brdf).
float dielectric_brdf(vec3 abd) {
    float lost = 1.0 - (abd.x + abd.y);
    return abd.z + abd.z * dielectric_average * lost / (1.0 - lost * dielectric_average);
}

// Solid angle / 2 pi shared by two caps (half-angle cosines ca, cb; axes cos_between apart):
// Oat and Sander 2007, as shading._cap_overlap.
float cap_overlap(float ca, float cb, float cos_between) {
    float ra = acos(clamp(ca, -1.0, 1.0)), rb = acos(clamp(cb, -1.0, 1.0));
    float r = acos(clamp(cos_between, -1.0, 1.0));
    float smaller = 1.0 - max(ca, cb), gap = abs(ra - rb);
    if (r <= gap) return smaller;
    if (r >= ra + rb) return 0.0;
    float x = 1.0 - clamp((r - gap) / max(ra + rb - gap, 1e-6), 0.0, 1.0);
    return smaller * x * x * (3.0 - 2.0 * x);
}

// The specular lobe's share that sees the sky (shading.specular_visibility).
float specular_visibility(vec3 bent, float visibility, vec3 smooth_normal, vec3 reflected, float roughness) {
    float cos_s = min(exp2(-3.32193 * specular_cone_scale * roughness * roughness), 1.0 - 1e-6);
    float seen = cap_overlap(sqrt(1.0 - clamp(visibility, 0.0, 1.0)), cos_s, dot(bent, reflected));
    float open_sky = cap_overlap(0.0, cos_s, dot(smooth_normal, reflected));
    return open_sky > 1e-6 ? clamp(seen / open_sky, 0.0, 1.0) : visibility;
}

void main() {
#ifdef CUTOUTS
    if (texture(opacity, v_uv).r < 0.5) discard;
#endif
    // The triangle's own plane: world position is linear over it, so its screen derivatives are
    // exact (flat normals without duplicating vertices per face). Oriented towards the camera,
    // which for the front faces of a closed mesh is outward.
    vec3 dp1 = dFdx(v_world), dp2 = dFdy(v_world);
    vec3 normal = normalize(cross(dp1, dp2));
    vec3 to_eye = normalize(eye - v_world);
    if (dot(normal, to_eye) < 0.0) normal = -normal;
    vec3 base = texture(base_color, v_uv).rgb;  // an sRGB texture: already linear
    vec3 color = base;
    if (mode == 1) {
        float s = ambient;
        for (int i = 0; i < 3; i++) s += light_int[i] * max(dot(normal, light_dir[i]), 0.0);
        color = base * s;
    } else if (mode == 2) {
        // Normal map in the cotangent frame of (position, uv): no per-vertex tangents needed.
        vec2 duv1 = dFdx(v_uv), duv2 = dFdy(v_uv);
        vec3 p2 = cross(dp2, normal), p1 = cross(normal, dp1);
        vec3 t = p2 * duv1.x + p1 * duv2.x;
        vec3 b = p2 * duv1.y + p1 * duv2.y;
        float scale = inversesqrt(max(max(dot(t, t), dot(b, b)), 1e-30));
        vec3 m = texture(normal_map, v_uv).rgb * 2.0 - 1.0;
        vec3 n = normalize(mat3(t * scale, b * scale, normal) * m);
        if (dot(n, to_eye) < 0.02) n = normal;
        vec3 mr = texture(metallic_roughness, v_uv).rgb;
        float roughness = clamp(mr.g, 0.03, 1.0), metallic = mr.b;
        float n_dot_v = clamp(dot(n, to_eye), 0.0, 1.0);
        // A mix of a dielectric and a metal lobe (as Blender's Principled BSDF and glTF mix them),
        // not one lobe of mixed F0: the multiple-scattering term is not linear in F0.
        vec3 abd = texture(dfg, vec2(roughness, n_dot_v)).rgb;
        float dielectric = dielectric_brdf(abd);
        vec3 metal = env_brdf(base, abd);
        // diffuse: the sky's share plus the bounce; specular: the same with the lobe's own share
        float seen = specular_visibility(normalize(v_bent), v_visibility, normalize(v_smooth_normal),
                                         reflect(-to_eye, n), roughness);
        vec3 diffuse_light = v_visibility + (1.0 - v_visibility) * v_bounce;
        vec3 specular_light = seen + (1.0 - seen) * v_bounce;
        color = diffuse_light * (1.0 - metallic) * base * (1.0 - dielectric)
              + specular_light * ((1.0 - metallic) * dielectric + metallic * metal);
    }
#ifdef EMISSIVE
    color += texture(emissive, v_uv).rgb;
#endif
    out_color = vec4(color, 1.0);
    out_geometry = vec4(normal, v_depth);
}
"""


RESOLVE_VERTEX_SHADER = """
#version 330
void main() {  // one triangle that covers the screen
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Resolves the supersampled targets on the GPU (reading back ss^2 times fewer pixels): colour is
# the sub-samples filtered with the pixel filter, alpha the filtered coverage. Sub-samples hold
# premultiplied colour (alpha is 0 or 1 each), so the bilinear texture unit weighs two neighbouring
# taps in one fetch (at the point between them that splits their weights): 3 x 3 fetches for the
# default 6 x 6 taps. Depth and normal are the mean over the pixel's own covered sub-samples within
# 5% of the nearest one, so edges between surfaces get the front surface's geometry instead of a blend
# that lies on neither.
RESOLVE_FRAGMENT_SHADER = """
#version 330
uniform sampler2D color_samples;
uniform sampler2D geometry_samples;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_geometry;
const int factor = %(factor)d;
void main() {
    ivec2 origin = ivec2(gl_FragCoord.xy) * factor;
    vec2 texel = 1.0 / vec2(textureSize(color_samples, 0));
    vec2 corner = vec2(origin) * texel;
    vec4 color = vec4(0.0);
    // beyond the border the texture clamps to its edge: the scene goes on there, it is not empty
%(color_fetches)s
    float nearest = 1e30;
    for (int y = 0; y < factor; y++) for (int x = 0; x < factor; x++) {
        vec4 g = texelFetch(geometry_samples, origin + ivec2(x, y), 0);
        if (g.w > 0.0) nearest = min(nearest, g.w);
    }
    vec4 geometry = vec4(0.0);
    float count = 0.0;
    for (int y = 0; y < factor; y++) for (int x = 0; x < factor; x++) {
        vec4 g = texelFetch(geometry_samples, origin + ivec2(x, y), 0);
        if (g.w > 0.0 && g.w <= nearest * 1.05) {  // covered (depth > near > 0; cleared to 0) and front
            geometry += g;
            count += 1.0;
        }
    }
    out_color = vec4(color.rgb / max(color.a, 1e-6), color.a);  // straight colour
    out_geometry = count > 0.0 ? vec4(normalize(geometry.xyz), geometry.w / count) : vec4(0.0);
}
"""


def resolve_shader(factor: int, filter_width: float) -> str:
    """The resolve pass's fragment shader for ``factor`` x supersampling and the pixel filter of
    ``filter_width`` (see :mod:`pixel_filter`), its fetches unrolled with their weights as constants
    (a loop over uniform arrays costs llvmpipe a third more)."""
    offsets, weights = bilinear_fetches(*filter_taps(factor, filter_width))
    lines = []
    for oy, wy in zip(offsets, weights):
        for ox, wx in zip(offsets, weights):
            at = f"corner + vec2({ox:.9g}, {oy:.9g}) * texel"
            lines.append(f"    color += {wx * wy:.9g} * texture(color_samples, {at});")
    return RESOLVE_FRAGMENT_SHADER % {"factor": factor, "color_fetches": "\n".join(lines)}


GL_SRGB8, GL_RGB8 = 0x8C41, 0x8051
MODES = {"unlit": 0, "lambert": 1, "ao": 2}


class GLRenderer(Renderer):
    """OpenGL rasterizer (moderngl, EGL): flat (geometric) normals, mipmapped texture filtering,
    PBR maps, supersampled antialiasing with coverage alpha, the official tone chain."""

    name = "gl"

    @dataclass
    class Config:
        supersample: int = param(2, "render at this multiple of the resolution and filter down (antialiasing; 1 "
                                 "with pixel_filter 0: off)", ge=1, le=4)
        pixel_filter: float = param(1.5, "Blackman-Harris pixel filter width, as Cycles' filter_width (the official "
                                    "renders'; the window spans twice it); 0: a box over each pixel", ge=0.0, le=3.0)
        cull_back_faces: bool = param(True, "skip back faces of closed meshes (faster on llvmpipe); a double-sided "
                                      "asset (an open mesh) shows both sides whatever this says")
        anisotropy: float = param(1.0, "anisotropic texture filtering (1: off; 2-16: gl vs cycles +0.11 dB, llvmpipe "
                                  "takes any of them as one and ~1.3x the time; cheap on a GPU)", ge=1.0, le=16.0)
        trilinear: bool = param(False, "blend the two nearest mipmap levels (off: the nearer one; "
                                "supersampling hides the seams, and llvmpipe draws ~15% faster)")

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        try:
            import moderngl

            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:  # noqa: BLE001 - any failure to get a context means "not here"
            raise RendererUnavailable(f"gl: no EGL context ({type(exc).__name__}: {exc})") from None
        self.moderngl = moderngl
        self._programs: dict[tuple[bool, bool], object] = {}
        table = dfg_table()
        self.dfg = self.ctx.texture((table.shape[1], table.shape[0]), 3, np.ascontiguousarray(table).tobytes(),
                                    dtype="f4")
        self.dfg.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.dfg.repeat_x = self.dfg.repeat_y = False
        self.resolve = self.ctx.program(vertex_shader=RESOLVE_VERTEX_SHADER,
                                        fragment_shader=resolve_shader(self.cfg.supersample, self.cfg.pixel_filter))
        self.resolve["color_samples"].value = 4
        self.resolve["geometry_samples"].value = 5
        self.resolve_vao = self.ctx.vertex_array(self.resolve, [])
        self._targets = None
        self._upload_level = level_uploader()

    def _program(self, cutouts: bool, emissive: bool):
        """The scene's shader program, compiled on first use: with ``cutouts`` it discards fragments in the
        holes of the opacity map (a separate program: a shader that may discard keeps llvmpipe from
        testing depth before shading), with ``emissive`` it adds the emission map's light."""
        key = (cutouts, emissive)
        if key not in self._programs:
            defines = "".join(f"#define {name}\n" for name, on in (("CUTOUTS", cutouts), ("EMISSIVE", emissive)) if on)
            fragment = FRAGMENT_SHADER.replace("#version 330\n", "#version 330\n" + defines, 1)
            program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=fragment)
            program["light_dir"].write(LIGHT_DIRECTIONS.astype("f4").tobytes())
            program["light_int"].value = tuple(float(x) for x in LIGHT_INTENSITIES)
            program["ambient"].value = AMBIENT
            program["near_far"].value = (NEAR, FAR)
            program["dfg"].value = 3
            program["dielectric_average"].value = DIELECTRIC_F_AVERAGE
            program["specular_cone_scale"].value = SPECULAR_CONE_SCALE
            for unit, name in enumerate(["base_color", "metallic_roughness", "normal_map"]):
                program[name].value = unit
            if cutouts:
                program["opacity"].value = OPACITY_UNIT
            if emissive:
                program["emissive"].value = EMISSIVE_UNIT
            self._programs[key] = program
        return self._programs[key]

    def _framebuffers(self, width: int, height: int, factor: int):
        """The scene targets (``factor`` x the size, sampled by the resolve pass) and the resolved
        ones. Multisampled targets are ~100x slower on llvmpipe; this supersamples instead."""
        key = (width, height, factor)
        if self._targets is None or self._targets[0] != key:
            if self._targets is not None:
                for obj in self._targets[1]:
                    obj.release()
            ctx, big = self.ctx, (width * factor, height * factor)
            color = ctx.texture(big, 4, dtype="f2")
            geometry = ctx.texture(big, 4, dtype="f4")
            color.filter = (self.moderngl.LINEAR, self.moderngl.LINEAR)  # the resolve's paired taps
            geometry.filter = (self.moderngl.NEAREST, self.moderngl.NEAREST)
            for t in (color, geometry):
                t.repeat_x = t.repeat_y = False
            depth = ctx.depth_renderbuffer(big)
            scene = ctx.framebuffer(color_attachments=[color, geometry], depth_attachment=depth)
            out_color = ctx.renderbuffer((width, height), 4, dtype="f2")
            out_geometry = ctx.renderbuffer((width, height), 4, dtype="f4")
            resolved = ctx.framebuffer(color_attachments=[out_color, out_geometry])
            self._targets = (key, [scene, resolved, color, geometry, depth, out_color, out_geometry])
        scene, resolved, color, geometry = self._targets[1][:4]
        return scene, resolved, color, geometry

    def _texture(self, image: np.ndarray, unit: int, srgb: bool = False):
        """A mipmapped texture bound to ``unit``; ``srgb``: decoded to linear by the GPU before
        filtering, so mipmaps and filtering average light as a path tracer's many samples do
        (averaging the encoded values would darken fine high-contrast detail). The levels come
        from :func:`mip_chain` on the CPU where GL's entry points are at hand: GL's own mipmap
        generation is the slow part on llvmpipe."""
        img = np.ascontiguousarray(image[::-1])  # GL textures start at the bottom row (v = 0)
        internal_format = GL_SRGB8 if srgb else GL_RGB8
        texture = self.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes(), internal_format=internal_format)
        texture.use(unit)
        if self._upload_level is None:
            texture.build_mipmaps()
        else:
            for level, data in enumerate(mip_chain(img, srgb=srgb), start=1):
                self._upload_level(level, data, internal_format)
        mipmaps = self.moderngl.LINEAR_MIPMAP_LINEAR if self.cfg.trilinear else self.moderngl.LINEAR_MIPMAP_NEAREST
        texture.filter = (mipmaps, self.moderngl.LINEAR)
        texture.anisotropy = self.cfg.anisotropy
        texture.repeat_x = texture.repeat_y = False
        return texture

    def render(self, asset, cameras: Cameras, settings: ShadingSettings, on_view=None) -> Views:
        W, H = int(cameras.width), int(cameras.height)
        ss = self.cfg.supersample
        ctx = self.ctx
        start = time.perf_counter()
        # Long edges split and ambient occlusion baked (numpy, Embree) on a thread while this one
        # uploads the textures (GL calls stay on the context's thread); the split mesh looks the same.
        with ThreadPoolExecutor(1) as pool:
            occlusion = pool.submit(_split_and_bake, asset, settings)
            textures = [self._texture(asset.texture, 0, srgb=True)]
            for unit, name in enumerate(MAP_NAMES, start=1):
                textures.append(self._texture(asset.map_or_flat(name), unit))
            cutouts, emissive = CUTOUT_MAP in asset.maps, EMISSIVE_MAP in asset.maps
            if cutouts:
                textures.append(self._texture(asset.maps[CUTOUT_MAP], OPACITY_UNIT))
            if emissive:
                textures.append(self._texture(asset.maps[EMISSIVE_MAP], EMISSIVE_UNIT, srgb=True))
            uploaded = time.perf_counter()
            try:
                asset, ao, bake_seconds = occlusion.result()
            except BaseException:
                for texture in textures:
                    texture.release()
                raise
        if ao is None:  # open sky everywhere (unused by unlit and lambert)
            source, faces = np.arange(len(asset.vertices)), asset.faces
            light = np.tile([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0], (len(source), 1))
        else:  # the mesh as baked (split at creases if asked), with its light per vertex
            source, faces = ao.mesh.source, ao.mesh.faces
            light = np.concatenate([ao.visibility[:, None], ao.bounce, ao.bent, ao.mesh.normals], axis=1)
        data = np.concatenate([asset.vertices[source], asset.uv[source], light], axis=1).astype("f4")
        vbo = ctx.buffer(np.ascontiguousarray(data).tobytes())
        ibo = ctx.buffer(np.ascontiguousarray(faces.astype("i4")).tobytes())
        program = self._program(cutouts, emissive)
        vao = ctx.vertex_array(program, [(vbo, "3f 2f 1f 3f 3f 3f", "in_pos", "in_uv", "in_visibility",
                                                "in_bounce", "in_bent", "in_smooth_normal")], ibo)
        self.dfg.use(3)
        program["mode"].value = MODES[settings.shading]
        program["size"].value = (W * ss, H * ss)
        scene, resolved, color_samples, geometry_samples = self._framebuffers(W, H, ss)
        V = len(cameras)
        linear = np.empty((V, H, W, 3), np.float32)
        alpha = np.empty((V, H, W), np.float32)
        depth = np.empty((V, H, W), np.float32)
        normal = np.empty((V, H, W, 3), np.float32)
        w2c = cameras.w2c
        drawing = time.perf_counter()
        try:
            for v in range(V):
                scene.use()
                scene.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
                ctx.enable(self.moderngl.DEPTH_TEST)
                if self.cfg.cull_back_faces or asset.double_sided:  # a face and its back: the one facing us
                    ctx.enable(self.moderngl.CULL_FACE)
                    ctx.front_face = "cw"
                    ctx.cull_face = "back"
                else:
                    ctx.disable(self.moderngl.CULL_FACE)
                program["w2c"].write(w2c[v].T.astype("f4").tobytes())
                program["eye"].value = tuple(float(x) for x in cameras.c2w[v, :3, 3])
                K = cameras.K[v]
                program["intrinsics"].value = (K[0, 0] * ss, K[1, 1] * ss, K[0, 2] * ss, K[1, 2] * ss)
                vao.render(self.moderngl.TRIANGLES)
                resolved.use()
                ctx.disable(self.moderngl.DEPTH_TEST | self.moderngl.CULL_FACE)
                color_samples.use(4)
                geometry_samples.use(5)
                self.resolve_vao.render(self.moderngl.TRIANGLES, vertices=3)
                col = np.frombuffer(resolved.read(components=4, dtype="f2", attachment=0), np.float16)
                geo = np.frombuffer(resolved.read(components=4, dtype="f4", attachment=1), np.float32)
                col = col.reshape(H, W, 4)
                geo = geo.reshape(H, W, 4)
                linear[v] = col[..., :3]
                alpha[v] = col[..., 3]
                normal[v] = geo[..., :3]
                depth[v] = geo[..., 3]
        finally:
            vao.release()
            ibo.release()
            vbo.release()
            for texture in textures:
                texture.release()
        toning = time.perf_counter()
        views = finish_views(linear, alpha, depth, normal, cameras, settings, on_view)
        # bake: its thread's time (beside the upload; the draws wait for what is left of it)
        views.timings.update(bake=bake_seconds, upload=uploaded - start, draw=toning - drawing,
                             tone=time.perf_counter() - toning)
        return views


def _split_and_bake(asset, settings):
    """(the asset as lit: long edges split, a double-sided one's back faces added, its baked occlusion or
    None, seconds it took); see :mod:`occlusion` and :mod:`two_sided`."""
    start = time.perf_counter()
    asset = with_back_faces(split_for_baking(asset, settings))
    return asset, ambient_occlusion(asset, settings), time.perf_counter() - start

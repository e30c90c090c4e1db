"""GLSL of the crowd renderer: each pass writes BT.601 YUV, not RGB.

Every scene pass writes two colour attachments: ``out_y`` (one channel, full size: the Y plane as
it is read back) and ``out_yuv`` (Y, U, V at full size); the chroma pass then averages each 2 x 2
block of U and V (one bilinear fetch at the block's centre) into two half-size one-channel
attachments, the U and V planes. ``{clips}`` is the number of baked clips.
"""

from __future__ import annotations

__all__ = [
    "BODY_FRAGMENT",
    "BODY_VERTEX",
    "CHROMA_FRAGMENT",
    "CHROMA_VERTEX",
    "GROUND_FRAGMENT",
    "GROUND_VERTEX",
    "MARKER_FRAGMENT",
    "MARKER_VERTEX",
]

_EMIT_YUV = """
uniform mat3 rgb_to_yuv;  // BT.601 limited range, applied to RGB in 0..255
uniform vec3 yuv_offset;
layout(location = 0) out float out_y;
layout(location = 1) out vec4 out_yuv;
void emit(vec3 rgb) {
    vec3 yuv = (rgb_to_yuv * (clamp(rgb, 0.0, 1.0) * 255.0) + yuv_offset) / 255.0;
    out_y = yuv.x;
    out_yuv = vec4(yuv, 1.0);
}
"""

GROUND_VERTEX = """
#version 330
uniform mat4 view_projection;  // target-relative metres to clip space
uniform float extent_m;        // half the side of the ground square
in vec2 in_corner;             // (+-1, +-1)
out vec2 v_ground;             // target-relative metres
void main() {
    v_ground = in_corner * extent_m;
    gl_Position = view_projection * vec4(v_ground, 0.0, 1.0);
}
"""

GROUND_FRAGMENT = (
    """
#version 330
uniform vec2 grid_origin_m;   // the target, modulo the major grid spacing
uniform vec3 eye_m;           // target-relative
uniform vec2 fog_m;           // fog from this distance to that one
uniform vec3 ground_rgb;
uniform vec3 minor_rgb;
uniform vec3 major_rgb;
uniform vec3 sky_rgb;
uniform vec2 spacing_m;       // minor, major grid spacing
in vec2 v_ground;
"""
    + _EMIT_YUV
    + """
// Coverage of the grid lines of one spacing: one pixel wide, antialiased, fading out where the
// lines would be closer than a few pixels.
float grid(vec2 p, float spacing) {
    vec2 cell = p / spacing;
    vec2 cells_per_px = max(fwidth(cell), vec2(1e-6));
    vec2 off_px = abs(fract(cell - 0.5) - 0.5) / cells_per_px;
    float line = 1.0 - min(min(off_px.x, off_px.y), 1.0);
    return line * (1.0 - smoothstep(0.1, 0.35, max(cells_per_px.x, cells_per_px.y)));
}
void main() {
    vec2 p = v_ground + grid_origin_m;
    vec3 rgb = mix(ground_rgb, minor_rgb, grid(p, spacing_m.x));
    rgb = mix(rgb, major_rgb, grid(p, spacing_m.y));
    float distance_m = length(vec3(v_ground, 0.0) - eye_m);
    emit(mix(rgb, sky_rgb, smoothstep(fog_m.x, fog_m.y, distance_m)));
}
"""
)

BODY_VERTEX = """
#version 330
uniform mat4 view_projection;
uniform sampler2D skin;          // RGBA32F: row = baked frame, texel 3 j + r = row r of joint j
uniform int clip_row[{clips}];    // first row of each clip
uniform int clip_frames[{clips}]; // frames of each clip
in vec3 in_position;   // rest vertex, SMPL frame (y up, facing +z), metres
in vec3 in_normal;
in vec4 in_joints;     // four joint indices
in vec4 in_weights;    // their skinning weights
in vec3 in_offset;     // per twin: target-relative ground position, metres
in float in_heading;   // radians, 0 = east, counter-clockwise
in float in_clip;
in float in_phase;
in float in_activity;
out vec3 v_normal;
flat out int v_activity;

void main() {
    int clip = int(in_clip);
    int frames = clip_frames[clip];
    float at = fract(in_phase) * float(frames);
    int first = min(int(at), frames - 1);
    float blend = at - float(first);
    int row0 = clip_row[clip] + first;
    int row1 = clip_row[clip] + (first + 1) % frames;
    // Linear blend skinning: the weighted sum of the joints' 3 x 4 matrices (rows m0, m1, m2),
    // each blended between the two nearest baked frames.
    vec4 m0 = vec4(0.0), m1 = vec4(0.0), m2 = vec4(0.0);
    for (int i = 0; i < 4; ++i) {
        int column = 3 * int(in_joints[i]);
        float w0 = in_weights[i] * (1.0 - blend);
        float w1 = in_weights[i] * blend;
        m0 += w0 * texelFetch(skin, ivec2(column, row0), 0)
            + w1 * texelFetch(skin, ivec2(column, row1), 0);
        m1 += w0 * texelFetch(skin, ivec2(column + 1, row0), 0)
            + w1 * texelFetch(skin, ivec2(column + 1, row1), 0);
        m2 += w0 * texelFetch(skin, ivec2(column + 2, row0), 0)
            + w1 * texelFetch(skin, ivec2(column + 2, row1), 0);
    }
    vec4 rest = vec4(in_position, 1.0);
    vec3 body = vec3(dot(m0, rest), dot(m1, rest), dot(m2, rest));
    vec3 normal = vec3(dot(m0.xyz, in_normal), dot(m1.xyz, in_normal), dot(m2.xyz, in_normal));
    // SMPL (x the body's left, y up, z forward) to the world (x east, y north, z up) with the
    // body facing its heading: forward -> (cos h, sin h, 0), left -> (-sin h, cos h, 0).
    float s = sin(in_heading);
    float c = cos(in_heading);
    vec3 world = in_offset + vec3(c * body.z - s * body.x, s * body.z + c * body.x, body.y);
    v_normal = vec3(c * normal.z - s * normal.x, s * normal.z + c * normal.x, normal.y);
    v_activity = int(in_activity);
    gl_Position = view_projection * vec4(world, 1.0);
}
"""

BODY_FRAGMENT = (
    """
#version 330
uniform vec3 palette[16];  // RGB of each activity code
uniform vec3 light_dir;    // unit, towards the light, world axes
uniform float ambient;     // share of the colour lit from everywhere
in vec3 v_normal;
flat in int v_activity;
"""
    + _EMIT_YUV
    + """
void main() {
    float lambert = max(dot(normalize(v_normal), light_dir), 0.0);
    emit(palette[v_activity & 15] * (ambient + (1.0 - ambient) * lambert));
}
"""
)

MARKER_VERTEX = """
#version 330
uniform mat4 view_projection;
uniform vec2 ndc_per_px;   // 2 / width, 2 / height
uniform float radius_px;
uniform float centre_m;    // the marker's height above the ground
in vec2 in_corner;         // (+-1, +-1)
in vec2 in_offset;         // per twin: target-relative ground position, metres
in float in_activity;
out vec2 v_corner;
flat out int v_activity;
void main() {
    vec4 centre = view_projection * vec4(in_offset, centre_m, 1.0);
    gl_Position = centre + vec4(in_corner * radius_px * ndc_per_px * centre.w, 0.0, 0.0);
    v_corner = in_corner;
    v_activity = int(in_activity);
}
"""

MARKER_FRAGMENT = (
    """
#version 330
uniform vec3 palette[16];
uniform float rim_darken;
in vec2 v_corner;
flat in int v_activity;
"""
    + _EMIT_YUV
    + """
void main() {
    float r2 = dot(v_corner, v_corner);
    if (r2 > 1.0) discard;
    emit(palette[v_activity & 15] * (r2 > 0.5 ? rim_darken : 1.0));
}
"""
)

CHROMA_VERTEX = """
#version 330
in vec2 in_corner;  // a triangle covering the viewport
void main() {
    gl_Position = vec4(in_corner, 0.0, 1.0);
}
"""

CHROMA_FRAGMENT = """
#version 330
uniform sampler2D yuv;      // full size, bilinear
uniform vec2 full_size_px;
layout(location = 0) out float out_u;
layout(location = 1) out float out_v;
void main() {
    // Half-size pixel (i, j) centres on the corner shared by full-size texels 2i..2i+1,
    // 2j..2j+1: one bilinear fetch there is their 2 x 2 average.
    vec2 uv = texture(yuv, gl_FragCoord.xy * 2.0 / full_size_px).gb;
    out_u = uv.x;
    out_v = uv.y;
}
"""

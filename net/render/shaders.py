"""GLSL of the crowd renderer: every pass writes BT.601 YUV, not RGB.

Colours are shaded and converted to YUV per vertex (``to_yuv``; lambert lighting and the
conversion are affine, so interpolating YUV equals converting interpolated RGB) and fragment
shaders only store them: on llvmpipe a frame's cost is mostly per fragment. Every scene pass
writes two colour attachments: ``out_y`` (one channel, full size: the Y plane as read back) and
``out_yuv`` (Y, U, V at full size); the chroma pass then averages each 2 x 2 block of U and V (one
bilinear fetch at the block's centre) into two half-size one-channel attachments, the U and V
planes. ``{levels}`` (of the grid) and ``{kinds}`` (of places) are filled in before compiling.
"""

from __future__ import annotations

__all__ = [
    "BODY_FRAGMENT",
    "BODY_VERTEX",
    "CHROMA_FRAGMENT",
    "CHROMA_VERTEX",
    "FLAT_FRAGMENT",
    "FLAT_VERTEX",
    "LINE_FRAGMENT",
    "LINE_VERTEX",
    "MARKER_FRAGMENT",
    "MARKER_VERTEX",
    "PLACE_BOX_VERTEX",
    "PLACE_POINT_FRAGMENT",
    "PLACE_POINT_VERTEX",
]

_TO_YUV = """
uniform mat3 rgb_to_yuv;  // BT.601 limited range, applied to RGB in 0..255
uniform vec3 yuv_offset;
vec3 to_yuv(vec3 rgb) {
    return (rgb_to_yuv * (clamp(rgb, 0.0, 1.0) * 255.0) + yuv_offset) / 255.0;
}
"""

_STORE_YUV = """
layout(location = 0) out float out_y;
layout(location = 1) out vec4 out_yuv;
void store(vec3 yuv) {
    out_y = yuv.x;
    out_yuv = vec4(yuv, 1.0);
}
"""

LINE_VERTEX = """
#version 330
uniform mat4 view_projection;      // target-relative metres to clip space
uniform vec3 line_yuv[{levels}];   // (Y, U, V) / 255 of each level's lines
uniform float reach_m[{levels}];   // each level has faded into the ground at this distance
in vec3 in_line;                   // target-relative x, y (m) on the ground; the grid level
out vec2 v_ground;
flat out vec3 v_yuv;
flat out float v_reach;
void main() {
    int level = int(in_line.z);
    v_ground = in_line.xy;
    v_yuv = line_yuv[level];
    v_reach = reach_m[level];
    gl_Position = view_projection * vec4(in_line.xy, 0.0, 1.0);
}
"""

LINE_FRAGMENT = (
    """
#version 330
uniform vec2 eye_m;        // the eye's ground point, target-relative
uniform vec3 ground_yuv;
in vec2 v_ground;
flat in vec3 v_yuv;
flat in float v_reach;
"""
    + _STORE_YUV
    + """
void main() {
    // Full up to reach / sqrt(2) from the eye's ground point, gone at reach.
    vec2 away = v_ground - eye_m;
    float fade = clamp(2.0 * dot(away, away) / (v_reach * v_reach) - 1.0, 0.0, 1.0);
    store(mix(v_yuv, ground_yuv, fade));
}
"""
)

FLAT_VERTEX = """
#version 330
uniform mat4 view_projection;
in vec3 in_corner;  // target-relative metres
void main() {
    gl_Position = view_projection * vec4(in_corner, 1.0);
}
"""

FLAT_FRAGMENT = (
    """
#version 330
uniform vec3 colour_yuv;  // (Y, U, V) / 255
"""
    + _STORE_YUV
    + """
void main() {
    store(colour_yuv);
}
"""
)

BODY_VERTEX = (
    """
#version 330
uniform mat4 view_projection;
uniform sampler2D skin;    // RGBA32F: row = drawn body, texel 3 j + r = row r of joint j's matrix
uniform int first_body;    // the skin row of this draw's instance 0
uniform vec3 palette[16];  // RGB of each activity code
uniform vec3 light_dir;    // unit, towards the light, world axes
uniform float ambient;     // share of the colour lit from everywhere
in vec3 in_position;   // rest vertex, SMPL frame (y up, facing +z), metres
in vec3 in_normal;
in vec4 in_joints;     // four joint indices
in vec4 in_weights;    // their skinning weights
in float in_activity;  // per twin
out vec3 v_yuv;
"""
    + _TO_YUV
    + """
void main() {
    // Linear blend skinning: the weighted sum of the joints' 3 x 4 rest-to-world matrices (rows
    // m0, m1, m2), posed, placed and turned to the twin's heading on the CPU.
    int row = first_body + gl_InstanceID;
    vec4 m0 = vec4(0.0), m1 = vec4(0.0), m2 = vec4(0.0);
    for (int i = 0; i < 4; ++i) {
        int column = 3 * int(in_joints[i]);
        float w = in_weights[i];
        m0 += w * texelFetch(skin, ivec2(column, row), 0);
        m1 += w * texelFetch(skin, ivec2(column + 1, row), 0);
        m2 += w * texelFetch(skin, ivec2(column + 2, row), 0);
    }
    vec4 rest = vec4(in_position, 1.0);
    vec3 world = vec3(dot(m0, rest), dot(m1, rest), dot(m2, rest));
    vec3 normal = vec3(dot(m0.xyz, in_normal), dot(m1.xyz, in_normal), dot(m2.xyz, in_normal));
    float lambert = max(dot(normalize(normal), light_dir), 0.0);
    vec3 rgb = palette[int(in_activity) & 15] * (ambient + (1.0 - ambient) * lambert);
    v_yuv = to_yuv(rgb);  // Gouraud shading
    gl_Position = view_projection * vec4(world, 1.0);
}
"""
)

BODY_FRAGMENT = (
    """
#version 330
in vec3 v_yuv;
"""
    + _STORE_YUV
    + """
void main() {
    store(v_yuv);
}
"""
)

MARKER_VERTEX = (
    """
#version 330
uniform mat4 view_projection;
uniform vec3 palette[16];
uniform float radius_px;
uniform float centre_m;    // the marker's height above the ground
uniform float rim_darken;
in vec3 in_marker;         // target-relative ground position (m), activity code
flat out vec3 v_yuv;
flat out vec3 v_rim_yuv;
"""
    + _TO_YUV
    + """
void main() {
    gl_Position = view_projection * vec4(in_marker.xy, centre_m, 1.0);
    gl_PointSize = 2.0 * radius_px;
    vec3 rgb = palette[int(in_marker.z) & 15];
    v_yuv = to_yuv(rgb);
    v_rim_yuv = to_yuv(rgb * rim_darken);
}
"""
)

MARKER_FRAGMENT = (
    """
#version 330
flat in vec3 v_yuv;
flat in vec3 v_rim_yuv;
"""
    + _STORE_YUV
    + """
void main() {
    vec2 corner = gl_PointCoord * 2.0 - 1.0;  // a disc in the point's square
    float r2 = dot(corner, corner);
    if (r2 > 1.0) discard;
    store(r2 > 0.5 ? v_rim_yuv : v_yuv);
}
"""
)

PLACE_BOX_VERTEX = (
    """
#version 330
uniform mat4 view_projection;
uniform vec3 place_rgb[{kinds}];   // RGB of each place kind
uniform vec3 place_size[{kinds}];  // half width (east), half depth (north), height (m)
uniform vec3 light_dir;
uniform float ambient;
in vec3 in_position;  // unit box: x, y in [-1, 1], z in [0, 1]
in vec3 in_normal;    // the face's outward normal (axis-aligned: scaling keeps it)
in vec3 in_place;     // per place: target-relative footprint centre (m), kind code
out vec3 v_yuv;
"""
    + _TO_YUV
    + """
void main() {
    int kind = int(in_place.z);
    vec3 size = place_size[kind];
    float lambert = max(dot(in_normal, light_dir), 0.0);
    v_yuv = to_yuv(place_rgb[kind] * (ambient + (1.0 - ambient) * lambert));
    vec3 world = vec3(in_place.xy + in_position.xy * size.xy, in_position.z * size.z);
    gl_Position = view_projection * vec4(world, 1.0);
}
"""
)

PLACE_POINT_VERTEX = (
    """
#version 330
uniform mat4 view_projection;
uniform vec3 place_rgb[{kinds}];
uniform vec3 place_size[{kinds}];
uniform float roof_shade;  // ambient + (1 - ambient) * light_dir.z: a lit roof's brightness
in vec4 in_point;          // per place: target-relative footprint centre (m), kind, width (px)
flat out vec3 v_yuv;
"""
    + _TO_YUV
    + """
void main() {
    int kind = int(in_point.z);
    gl_Position = view_projection * vec4(in_point.xy, place_size[kind].z, 1.0);
    gl_PointSize = in_point.w;
    v_yuv = to_yuv(place_rgb[kind] * roof_shade);
}
"""
)

PLACE_POINT_FRAGMENT = (
    """
#version 330
flat in vec3 v_yuv;
"""
    + _STORE_YUV
    + """
void main() {
    store(v_yuv);  // a square: a far roof
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

"""The frame kernel — one Warp source that runs on the CPU and on CUDA.

Per pixel: a ray from the eye (perspective, equirectangular, or omni-directional stereo with the two
eyes stacked top/bottom), a Star Nest volumetric nebula along it, and every orb sprite as a soft
camera-facing disc (`exp(-4.5·d²)`, additive), then a highlight roll-off to 8-bit levels (`shade`).
Sprites are tested against the ray itself, so the same code is correct in every projection. Renders use
`render_frame_yuv420`, which shades each 2×2 block straight into `yuv420p` planes; `render_frame` (RGB)
and `rgb_to_yuv420` are the reference it is tested against.
"""

from __future__ import annotations

import warp as wp

wp.config.log_level = wp.LOG_WARNING  # no banner or cache notes in the log

PERSPECTIVE, EQUIRECT, EQUIRECT_STEREO = 0, 1, 2
PROJECTIONS = {"perspective": PERSPECTIVE, "equirect": EQUIRECT, "equirect-stereo": EQUIRECT_STEREO}


@wp.func
def gl_mod(x: float, y: float):
    return x - y * wp.floor(x / y)


@wp.struct
class Nebula:
    """One frame's Star Nest: the preset's shader parameters plus the frame's rotation and origin."""

    rotation: wp.mat33
    origin: wp.vec3
    tint: wp.vec3
    gain: float
    iterations: int
    volsteps: int
    formuparam: float
    step_size: float
    tile: float
    brightness: float
    darkmatter: float
    distfading: float
    saturation: float


@wp.func
def star_nest(d: wp.vec3, n: Nebula):
    formuparam = n.formuparam
    tile = n.tile
    origin = n.origin
    s = float(0.1)
    fade = float(1.0)
    v = wp.vec3(0.0, 0.0, 0.0)
    for r in range(n.volsteps):
        q = origin + d * (s * 0.5)
        t2 = tile * 2.0
        p = wp.vec3(
            wp.abs(tile - gl_mod(q[0], t2)), wp.abs(tile - gl_mod(q[1], t2)), wp.abs(tile - gl_mod(q[2], t2))
        )
        pa = float(0.0)
        a = float(0.0)
        for i in range(n.iterations):  # noqa: B007 - Warp's loop needs a name
            p = wp.vec3(wp.abs(p[0]), wp.abs(p[1]), wp.abs(p[2])) / wp.max(wp.dot(p, p), 1.0e-6) - wp.vec3(
                formuparam, formuparam, formuparam
            )
            lp = wp.length(p)
            a += wp.abs(lp - pa)
            pa = lp
        dm = wp.max(0.0, n.darkmatter - a * a * 0.001)
        a = a * a * a
        if r > 6:
            fade = fade * (1.0 - dm)
        v = v + wp.vec3(fade, fade, fade)
        v = v + wp.vec3(s, s * s, s * s * s * s) * (a * n.brightness * fade)
        fade = fade * n.distfading
        s = s + n.step_size
    lv = wp.length(v)
    grey = wp.vec3(lv, lv, lv)
    return (grey + (v - grey) * n.saturation) * 0.01


@wp.struct
class Frame:
    """One frame's inputs: the camera and projection, the orb's sprites, the look and the nebula."""

    projection: int
    cam_pos: wp.vec3
    right: wp.vec3
    up: wp.vec3
    fwd: wp.vec3
    tan_half_fov: float
    half_ipd: float
    sprite_pos: wp.array(dtype=wp.vec3)
    sprite_radius: wp.array(dtype=float)
    sprite_color: wp.array(dtype=wp.vec3)
    sprite_gain: float
    background: int
    nebula: Nebula


@wp.func
def shade(x: int, y: int, width: int, height: int, f: Frame):
    """Pixel (x, y)'s colour as three 8-bit levels (whole numbers, as floats)."""
    projection = f.projection
    cam_pos = f.cam_pos
    right = f.right
    up = f.up
    fwd = f.fwd
    tan_half_fov = f.tan_half_fov
    half_ipd = f.half_ipd
    nebula = f.nebula
    origin = cam_pos
    d = fwd
    if projection == 0:
        aspect = float(width) / float(height)
        nx = (2.0 * (float(x) + 0.5) / float(width) - 1.0) * tan_half_fov * aspect
        ny = (1.0 - 2.0 * (float(y) + 0.5) / float(height)) * tan_half_fov
        d = wp.normalize(fwd + right * nx + up * ny)
    else:
        eye_height = height
        row = y
        eye_sign = float(0.0)
        if projection == 2:
            eye_height = height / 2
            row = y % eye_height
            eye_sign = -1.0  # top half: left eye
            if y >= eye_height:
                eye_sign = 1.0
        lon = (float(x) + 0.5) / float(width) * 2.0 * wp.pi - wp.pi
        lat = 0.5 * wp.pi - (float(row) + 0.5) / float(eye_height) * wp.pi
        cl = wp.cos(lat)
        d = wp.normalize(right * (cl * wp.sin(lon)) + up * wp.sin(lat) + fwd * (cl * wp.cos(lon)))
        # Omni-directional stereo: each column's eyes sit on a circle, offset perpendicular to its view.
        tangent = right * wp.cos(lon) - fwd * wp.sin(lon)
        origin = cam_pos + tangent * (half_ipd * eye_sign)

    color = wp.vec3(0.0, 0.0, 0.0)
    if f.background != 0:
        sky = star_nest(nebula.rotation * d, nebula)
        color = wp.cw_mul(sky, nebula.tint) * nebula.gain

    glow = wp.vec3(0.0, 0.0, 0.0)
    for i in range(f.sprite_pos.shape[0]):
        rel = f.sprite_pos[i] - origin
        along = wp.dot(rel, d)
        if along > 0.0:
            r = f.sprite_radius[i]
            miss2 = wp.dot(rel, rel) - along * along
            if miss2 < r * r:
                glow = glow + f.sprite_color[i] * wp.exp(-4.5 * miss2 / (r * r))
    color = color + glow * f.sprite_gain

    levels = wp.vec3(0.0, 0.0, 0.0)
    for c in range(3):
        v = 1.0 - wp.exp(-wp.max(color[c], 0.0))
        levels[c] = float(int(wp.clamp(v * 255.0 + 0.5, 0.0, 255.0)))
    return levels


@wp.kernel
def render_frame(out: wp.array3d(dtype=wp.uint8), f: Frame):
    """The frame as 8-bit RGB (for tests and stills; renders go straight to YUV below)."""
    y, x = wp.tid()
    c = shade(x, y, out.shape[1], out.shape[0], f)
    for i in range(3):
        out[y, x, i] = wp.uint8(int(c[i]))


@wp.kernel
def render_frame_yuv420(y_plane: wp.array2d(dtype=wp.uint8), u_plane: wp.array2d(dtype=wp.uint8),
                        v_plane: wp.array2d(dtype=wp.uint8), f: Frame):
    """The frame straight into `yuv420p` planes, one 2×2 block per thread: the same levels as
    `render_frame` followed by `rgb_to_yuv420`, without an RGB frame in between."""
    by, bx = wp.tid()
    total = wp.vec3(0.0, 0.0, 0.0)
    for dy in range(2):
        for dx in range(2):
            c = shade(2 * bx + dx, 2 * by + dy, y_plane.shape[1], y_plane.shape[0], f)
            y_plane[2 * by + dy, 2 * bx + dx] = luma_level(c[0], c[1], c[2])
            total = total + c
    write_chroma(u_plane, v_plane, by, bx, total * 0.25)


# BT.709, limited ("tv") range — what the encoder is told (`-colorspace bt709 -color_range tv`).
@wp.func
def luma_level(r: float, g: float, b: float):
    luma = 16.0 + (0.2126 * r + 0.7152 * g + 0.0722 * b) * (219.0 / 255.0)
    return wp.uint8(int(wp.clamp(luma + 0.5, 0.0, 255.0)))


@wp.func
def write_chroma(u_plane: wp.array2d(dtype=wp.uint8), v_plane: wp.array2d(dtype=wp.uint8), by: int, bx: int,
                 mean: wp.vec3):
    """The 2×2 block's chroma (4:2:0) from its mean colour."""
    r = mean[0]
    g = mean[1]
    b = mean[2]
    cb = 128.0 + (-0.1146 * r - 0.3854 * g + 0.5 * b) * (224.0 / 255.0)
    cr = 128.0 + (0.5 * r - 0.4542 * g - 0.0458 * b) * (224.0 / 255.0)
    u_plane[by, bx] = wp.uint8(int(wp.clamp(cb + 0.5, 0.0, 255.0)))
    v_plane[by, bx] = wp.uint8(int(wp.clamp(cr + 0.5, 0.0, 255.0)))


@wp.kernel
def rgb_to_yuv420(rgb: wp.array3d(dtype=wp.uint8), y_plane: wp.array2d(dtype=wp.uint8),
                  u_plane: wp.array2d(dtype=wp.uint8), v_plane: wp.array2d(dtype=wp.uint8)):
    """One 2×2 block per thread: four luma samples and the block's averaged chroma (4:2:0)."""
    by, bx = wp.tid()
    total = wp.vec3(0.0, 0.0, 0.0)
    for dy in range(2):
        for dx in range(2):
            c = wp.vec3(float(rgb[2 * by + dy, 2 * bx + dx, 0]), float(rgb[2 * by + dy, 2 * bx + dx, 1]),
                        float(rgb[2 * by + dy, 2 * bx + dx, 2]))
            y_plane[2 * by + dy, 2 * bx + dx] = luma_level(c[0], c[1], c[2])
            total = total + c
    write_chroma(u_plane, v_plane, by, bx, total * 0.25)

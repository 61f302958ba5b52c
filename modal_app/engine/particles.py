"""The orb: seeded particle layers (§11.4). Every particle's state at any frame is a pure function of
(seed, layer, particle, respawn cycle), drawn from a counter-based hash — no simulation history, so a
frame can be rendered alone and the same seed always gives the same frame."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from .dynamics import LayerDynamics
from .presets import Layer, Mode

# World radius per unit of the seed's point size: its sprites were `size × 150 / distance` px tall in a
# 1080-px-high frame at a 50° vertical field of view → size × 300·tan(25°)/1080 world units across.
WORLD_PER_SIZE = 300 * np.tan(np.radians(25)) / 1080 / 2
ORB_CENTER = np.array([0.0, 0.9, 4.5])

_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _uniform(*keys) -> np.ndarray:
    """splitmix64 over the combined keys (broadcast integer arrays) → uniform floats in [0, 1)."""
    with np.errstate(over="ignore"):
        x = np.uint64(0)
        for k in keys:
            x = (x ^ np.asarray(k, dtype=np.uint64)) * _M1 + np.uint64(0x632BE59BD9B4E019)
            x = (x ^ (x >> np.uint64(30))) * _M2
            x = (x ^ (x >> np.uint64(27))) * _M3
            x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class Sprites:
    """What the kernel draws: world positions, world radii, and premultiplied colours (colour × alpha)."""

    pos: np.ndarray
    radius: np.ndarray
    color: np.ndarray


def _hsl(h: np.ndarray, s: float, lightness: float) -> np.ndarray:
    return np.array([colorsys.hls_to_rgb(float(x) % 1.0, lightness, s) for x in np.atleast_1d(h)]).reshape(-1, 3)


def _life_alpha(branch: str, life: np.ndarray) -> np.ndarray:
    def ramp(fade_in: float, hold_until: float) -> np.ndarray:
        up = np.clip(life / fade_in, 0, 1)
        down = np.clip((1 - life) / (1 - hold_until), 0, 1)
        return np.minimum(up, down)

    if branch == "flame":
        return ramp(0.05, 0.5)
    if branch == "mist":
        return ramp(0.15, 0.6) * 0.6
    return ramp(0.10, 0.7)


def _life_size(layer: Layer, life: np.ndarray) -> np.ndarray:
    rising = layer.size_birth + (layer.size_peak - layer.size_birth) * np.clip(life / layer.peak_life, 0, 1)
    falling = layer.size_peak + (layer.size_death - layer.size_peak) * np.clip(
        (life - layer.peak_life) / (1 - layer.peak_life), 0, 1
    )
    return np.where(life < layer.peak_life, rising, falling)


def layer_sprites(layer: Layer, li: int, mode: Mode, seed: int, frame: int, fps: int, dyn: LayerDynamics) -> Sprites:
    n = layer.count
    i = np.arange(n, dtype=np.uint64)
    t = frame / fps
    lifetime = layer.lifetime * (0.8 + 0.4 * _uniform(seed, li, i, 0xF00D))
    offset = _uniform(seed, li, i, 0xBEEF) * lifetime  # staggered births
    cycle = np.floor((t + offset) / lifetime)
    age = (t + offset) - cycle * lifetime
    life = age / lifetime
    c = cycle.astype(np.uint64)

    def u(salt: int) -> np.ndarray:
        return _uniform(seed, li, i, c, salt)

    # Birth: centre-biased sphere, slight asymmetry and blob offsets; velocity a random direction.
    def direction(a: int, b: int) -> np.ndarray:
        z = 2 * u(a) - 1
        phi = 2 * np.pi * u(b)
        r = np.sqrt(1 - z * z)
        return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)

    radius = layer.spawn_radius * np.sqrt(u(1)) * 1.2
    birth = direction(2, 3) * radius[:, None]
    birth += (np.stack([u(4), u(5), u(6)], axis=1) - 0.5) * 0.08
    birth += direction(7, 8) * (u(9) * 0.06)[:, None]
    speed = layer.max_speed * (0.5 + 0.5 * u(10)) * (0.3 + 0.7 * u(11))
    velocity = direction(12, 13) * speed[:, None]

    fi = np.arange(n, dtype=np.float64)
    if layer.branch == "flame":
        wobble = 0.02 * np.stack([np.sin(age * 3 + fi), np.cos(age * 2.3 + fi * 0.7), np.sin(age * 2.7 + fi * 1.3)], 1)
    elif layer.branch == "mist":
        wobble = np.repeat((0.02 * np.sin(age * 2 + fi * 0.5))[:, None], 3, axis=1)
    else:
        wobble = 0.0
    pos = (birth + velocity * age[:, None] + wobble) * dyn.pos_scale[frame] + ORB_CENTER

    base_size = layer.base_size * (0.15 + 1.85 * u(14))
    size = base_size * _life_size(layer, life) * dyn.size_mult[frame] * dyn.beat_pulse[frame]
    alpha = _life_alpha(layer.branch, life) * dyn.alpha_mult[frame] * layer.opacity

    if layer.branch == "flame":
        rainbow = _hsl(fi * 0.13 + t * 0.02, 1.0, 0.5)
        orange, red = np.array([0.95, 0.5, 0.1]), np.array([0.8, 0.2, 0.1])
        k1 = np.clip((life - 0.35) / 0.3, 0, 1)[:, None]
        k2 = np.clip((life - 0.65) / 0.35, 0, 1)[:, None]
        color = (rainbow * (1 - k1) + orange * k1) * (1 - k2) + red * k2
    elif layer.branch == "mist":
        k = (0.5 + 0.5 * np.sin(t * 0.3 + fi * 0.1))[:, None]
        color = np.array(mode.palette[0]) * (1 - k) + np.array(mode.palette[1]) * k
    else:
        start = np.array(layer.color_start or (1.0, 1.0, 1.0))
        birth_frame = np.floor((t - age) * fps)
        respawn = _hsl(0.003 * birth_frame + u(15) * 0.1, 0.8, 0.6)
        color = np.where((cycle == 0)[:, None], start, respawn)

    keep = alpha > 0.01
    return Sprites(
        pos=pos[keep].astype(np.float32),
        radius=(size[keep] * WORLD_PER_SIZE).astype(np.float32),
        color=(color[keep] * alpha[keep, None]).astype(np.float32),
    )


def orb_sprites(mode: Mode, seed: int, frame: int, fps: int, dyns: list[LayerDynamics]) -> Sprites:
    parts = [layer_sprites(layer, li, mode, seed, frame, fps, dyns[li]) for li, layer in enumerate(mode.layers)]
    return Sprites(
        pos=np.concatenate([p.pos for p in parts]).reshape(-1, 3),
        radius=np.concatenate([p.radius for p in parts]),
        color=np.concatenate([p.color for p in parts]).reshape(-1, 3),
    )

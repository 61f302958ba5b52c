"""A render's scene: camera, orb sprites and nebula state per frame, built from the analysis, the look
and the seed; and the renderer that launches the kernel on a device and hands back RGB frames, or
`yuv420p` pictures converted on the device for the encoder."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import warp as wp

from . import kernels, ring
from .analysis import Features
from .dynamics import layer_dynamics, sky_time
from .formats import Format
from .particles import ORB_CENTER, Sprites, orb_sprites
from .presets import MODE_PRESETS, NEBULA_PRESETS, VisualConfig

CAMERA_POS = np.array([0.0, 2.0, 10.0])
FOV_DEG = 50.0
IPD = 0.064
SKY_GAIN = 1.0
SPRITE_GAIN = 0.7 * 0.7  # the seed's colour × 0.7 and alpha × 0.7


def look_at(eye: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right = right / np.linalg.norm(right)
    up = np.cross(right, fwd)
    return right, up, fwd


def rotation(ax: float, ay: float) -> np.ndarray:
    cx, sx, cy, sy = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rx


@dataclass
class FrameState:
    sprites: Sprites
    sky_rotation: np.ndarray
    sky_origin: np.ndarray


class Scene:
    def __init__(self, visual: VisualConfig, features: Features, seed: int):
        self.visual = visual
        self.mode = MODE_PRESETS[visual.mode]
        self.nebula = NEBULA_PRESETS[visual.skybox_preset]
        self.features = features
        self.seed = seed
        self.dynamics = [layer_dynamics(layer, features, visual.dynamics) for layer in self.mode.layers]
        self.sky_time = sky_time(features, visual.skybox_reactivity)

    def frame(self, index: int) -> FrameState:
        t = float(self.sky_time[index])
        rot = self.nebula.rotation
        speed = rot[3] * 0.01
        sky_origin = np.array(self.nebula.center) + np.array(self.nebula.scroll) * t * 0.01
        return FrameState(
            sprites=orb_sprites(self.mode, self.seed, index, self.features.fps, self.dynamics),
            sky_rotation=rotation(rot[0] * speed * t, rot[1] * speed * t),
            sky_origin=sky_origin,
        )


def ahead(scene: Scene, indices, depth: int = 4):
    """Yields `(index, scene.frame(index))` in order, building the next states on a thread while the
    caller renders this one (numpy and Warp's launches release the GIL, so the two overlap)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene") as pool:
        pending: deque = deque()
        for index in indices:
            pending.append((index, pool.submit(scene.frame, index)))
            if len(pending) > depth:
                i, state = pending.popleft()
                yield i, state.result()
        while pending:
            i, state = pending.popleft()
            yield i, state.result()


class FrameRenderer:
    """Owns the output buffer on one device and renders frames into it."""

    def __init__(self, fmt: Format, width: int, height: int, visual: VisualConfig, device: str):
        wp.init()
        self.device = device
        self.width, self.height = width, height
        self.projection = kernels.PROJECTIONS[fmt.projection]
        self.visual = visual
        preset = NEBULA_PRESETS[visual.skybox_preset]
        self.nebula = kernels.Nebula()
        self.nebula.tint = wp.vec3(*preset.color)
        self.nebula.gain = SKY_GAIN
        for name, value in preset.shader_params().items():
            setattr(self.nebula, name, value)
        self.right, self.up, self.fwd = look_at(CAMERA_POS, ORB_CENTER)
        self.out: wp.array | None = None  # RGB, made on first use: renders never need it
        self.ring: ring.YuvRing | None = None

    def render(self, state: FrameState) -> np.ndarray:
        """The frame as RGB (height × width × 3, uint8) on the host."""
        self.launch(state)
        return self.out.numpy()

    def render_yuv(self, state: FrameState) -> bytes:
        """The frame as one `yuv420p` picture (BT.709, limited range): converted on the device, so only a
        half-size frame crosses to the host and the encoder needs no scaler. For a stream of frames use
        `ring.pictures`, which keeps several in flight."""
        return self.read_yuv(self.submit_yuv(state))

    @property
    def ring_depth(self) -> int:
        return ring.DEPTH

    def submit_yuv(self, state: FrameState):
        """Launches the frame straight into the ring's next `yuv420p` planes and starts its copy to the
        host; `read_yuv` waits for the picture."""
        if self.ring is None:
            self.ring = ring.YuvRing(self.device, self.width, self.height)
        inputs = self._inputs(state)
        return self.ring.submit(lambda planes: wp.launch(kernels.render_frame_yuv420,
                                                         dim=(self.height // 2, self.width // 2),
                                                         inputs=[*planes, *inputs], device=self.device))

    def read_yuv(self, slot) -> bytes:
        return self.ring.read(slot)

    def drain(self) -> None:
        if self.ring is not None:
            self.ring.drain()

    def launch(self, state: FrameState) -> None:
        """The frame as RGB into `self.out` (for stills and as the reference of the YUV path)."""
        if self.out is None:
            self.out = wp.zeros((self.height, self.width, 3), dtype=wp.uint8, device=self.device)
        wp.launch(kernels.render_frame, dim=(self.height, self.width), inputs=[self.out, *self._inputs(state)],
                  device=self.device)

    def _inputs(self, state: FrameState) -> list:
        """The kernels' inputs after their outputs: one `kernels.Frame`."""
        s = state.sprites
        n = len(s.radius)
        f = kernels.Frame()
        f.projection = self.projection
        f.cam_pos, f.right, f.up, f.fwd = (wp.vec3(*v) for v in (CAMERA_POS, self.right, self.up, self.fwd))
        f.tan_half_fov, f.half_ipd = math.tan(math.radians(FOV_DEG) / 2), IPD / 2
        f.sprite_pos = wp.array(s.pos if n else np.zeros((0, 3), np.float32), dtype=wp.vec3, device=self.device)
        f.sprite_radius = wp.array(s.radius, dtype=float, device=self.device)
        f.sprite_color = wp.array(s.color if n else np.zeros((0, 3), np.float32), dtype=wp.vec3, device=self.device)
        f.sprite_gain, f.background = SPRITE_GAIN * self.visual.intensity, int(self.visual.background)
        self.nebula.rotation = wp.mat33(*state.sky_rotation.flatten())
        self.nebula.origin = wp.vec3(*state.sky_origin)
        f.nebula = self.nebula
        return [f]

"""Per-layer audio dynamics (§11.3): band mix, noise gate and gain, asymmetric attack/release, transient
boost, response curve, beat pulse, and the capped size/position/visibility multipliers. Offline render
mode fixes attack at 0.85 and release at 0.15, as the seed does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .analysis import Features
from .presets import Layer

DEFAULTS = {
    "beatSensitivity": 1.0,
    "minBrightness": 0.15,
    "audioInputGain": 1.0,
    "audioNoiseGate": 0.02,
    "audioResponseCurve": 0.85,
    "audioDynamicRange": 1.0,
    "audioTransientBoost": 0.25,
    "audioBeatPulseAmount": 0.15,
    "audioVisibilityBoost": 1.25,
    "audioSizeCapAmount": 0.4,
    "audioPositionCapAmount": 0.2,
    "audioBassWeight": 1.15,
    "audioMidsWeight": 1.0,
    "audioTrebleWeight": 0.9,
}
ATTACK, RELEASE = 0.85, 0.15
BEAT_ATTACK, BEAT_RELEASE = 0.7, 0.15


@dataclass
class LayerDynamics:
    amp: np.ndarray
    beat_pulse: np.ndarray
    size_mult: np.ndarray
    pos_scale: np.ndarray
    alpha_mult: np.ndarray


def band_signal(layer: Layer, f: Features, p: dict[str, float]) -> np.ndarray:
    wb, wm, wt = p["audioBassWeight"], p["audioMidsWeight"], p["audioTrebleWeight"]
    if layer.band == "bass":
        return f.bass * wb
    if layer.band == "mids":
        return f.mids * wm
    if layer.band == "treble":
        return f.highs * wt
    return (f.bass * wb + f.mids * wm + f.highs * wt) / (wb + wm + wt)


def layer_dynamics(layer: Layer, f: Features, overrides: dict[str, float] | None = None) -> LayerDynamics:
    p = {**DEFAULTS, **(overrides or {})}
    signal = band_signal(layer, f, p)
    gate, sens = p["audioNoiseGate"], p["beatSensitivity"]
    n = len(signal)
    amp_out, pulse_out = np.zeros(n, np.float32), np.zeros(n, np.float32)
    raw = amp = 0.0
    pulse = 1.0
    for i in range(n):
        target = max(0.0, float(signal[i]) - gate) / (1.0 - gate) * p["audioInputGain"]
        k = ATTACK if target > raw else RELEASE
        prev_raw = raw
        raw += (target - raw) * k
        transient = max(0.0, target - prev_raw)
        shaped = min(3.0, max(0.0, raw * p["audioDynamicRange"] + transient * p["audioTransientBoost"]))
        shaped = shaped ** p["audioResponseCurve"]
        amp += (shaped - amp) * k
        beat_target = 1.0 + p["audioBeatPulseAmount"] * sens if f.beat[i] else 1.0
        pulse += (beat_target - pulse) * (BEAT_ATTACK if beat_target > pulse else BEAT_RELEASE)
        amp_out[i], pulse_out[i] = amp, pulse
    size_mult = np.minimum(1 + amp_out * layer.reactivity * 0.5, 1 + p["audioSizeCapAmount"] * sens)
    pos_scale = np.minimum(1 + amp_out * layer.reactivity * 0.15, 1 + p["audioPositionCapAmount"] * sens)
    vis = np.sqrt(1 - np.exp(-amp_out * p["audioVisibilityBoost"]))
    min_b = p["minBrightness"]
    alpha_mult = min_b + vis * (1 - min_b)
    return LayerDynamics(amp_out, pulse_out, size_mult.astype(np.float32), pos_scale.astype(np.float32),
                         alpha_mult.astype(np.float32))


def sky_time(f: Features, reactivity: float) -> np.ndarray:
    """Nebula time: Σ dt·(1 + (amplitude·0.3 + bass·0.2)·reactivity), so loud passages and bass make it flow faster."""
    dt = 1.0 / f.fps
    rate = 1.0 + (f.amplitude * 0.3 + f.bass * 0.2) * reactivity
    return np.concatenate([[0.0], np.cumsum(rate[:-1] * dt)]).astype(np.float64)



"""Audio analysis at the video's frame rate — the seed's PreAnalyzer method (§11.2).

Mono decode at 44.1 kHz; for frame f a 512-sample Hann-windowed FFT starting at f·floor(sr/fps);
magnitudes min(1, |X|/(N/4)); bass = mean(bins 0–3), mids = mean(4–46), highs = mean(47–139),
amplitude = mean(all 256); a beat is bass rising through 0.05 with a cooldown of ceil(0.08·fps) frames;
finally each band is scaled so the track's peak is 0.95 (when the peak exceeds 0.01).
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 44_100
FFT_SIZE = 512
BEAT_THRESHOLD = 0.05


@dataclass
class Features:
    fps: int
    amplitude: np.ndarray
    bass: np.ndarray
    mids: np.ndarray
    highs: np.ndarray
    beat: np.ndarray  # bool per frame

    @property
    def frames(self) -> int:
        return len(self.bass)


def decode_mono(path: str, ffmpeg: str = "ffmpeg") -> np.ndarray:
    """Any audio or video file → mono float32 samples at 44.1 kHz."""
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-i", path, "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le",
         "pipe:1"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float32)


def frame_count(samples: int, fps: int) -> int:
    return max(1, math.ceil(samples / SAMPLE_RATE * fps))


def analyse(samples: np.ndarray, fps: int, frames: int | None = None) -> Features:
    frames = frames or frame_count(len(samples), fps)
    hop = SAMPLE_RATE // fps
    padded = np.zeros(frames * hop + FFT_SIZE, dtype=np.float32)
    n = min(len(samples), len(padded))
    padded[:n] = samples[:n]
    index = np.arange(frames)[:, None] * hop + np.arange(FFT_SIZE)[None, :]
    window = np.hanning(FFT_SIZE + 1)[:-1].astype(np.float32)  # periodic Hann, as Web Audio uses
    spectrum = np.abs(np.fft.rfft(padded[index] * window, axis=1))[:, : FFT_SIZE // 2]
    mags = np.minimum(1.0, spectrum / (FFT_SIZE / 4))
    bass = mags[:, 0:4].mean(axis=1)
    mids = mags[:, 4:47].mean(axis=1)
    highs = mags[:, 47:140].mean(axis=1)
    amplitude = mags.mean(axis=1)
    beat = detect_beats(bass, fps)
    return Features(fps, normalise(amplitude), normalise(bass), normalise(mids), normalise(highs), beat)


def detect_beats(bass: np.ndarray, fps: int) -> np.ndarray:
    cooldown = math.ceil(0.08 * fps)
    beats = np.zeros(len(bass), dtype=bool)
    last = -cooldown - 1
    prev = 0.0
    for i, b in enumerate(bass):
        if b > BEAT_THRESHOLD and prev <= BEAT_THRESHOLD and i - last > cooldown:
            beats[i] = True
            last = i
        prev = b
    return beats


def normalise(band: np.ndarray) -> np.ndarray:
    peak = float(band.max()) if len(band) else 0.0
    if peak > 0.01:
        band = band * (0.95 / peak)
    return np.clip(band, 0.0, 1.0).astype(np.float32)

"""Audio analysis at the video's frame rate — the seed's PreAnalyzer method (§11.2).

Mono decode at 44.1 kHz; for frame f a 512-sample Hann-windowed FFT starting at f·floor(sr/fps);
magnitudes min(1, |X|/(N/4)); bass = mean(bins 0–3), mids = mean(4–46), highs = mean(47–139),
amplitude = mean(all 256); a beat is bass rising through 0.05 with a cooldown of ceil(0.08·fps) frames;
finally each band is scaled so the track's peak is 0.95 (when the peak exceeds 0.01).

Beside the bands, the track's rhythm (`beats.py`, on librosa): tempo, beat and downbeat times, and per frame
an onset strength and the beat and bar phases. Nothing draws with them yet: the kernels read the bands and
`beat` only.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass

import numpy as np

from . import beats

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
    # The rhythm (beats.py). Left out, as by a hand-built Features: no beats, zeros per frame.
    tempo_bpm: float = 0.0  # 0.0: no beat found
    beat_times: np.ndarray | None = None  # seconds, ascending
    downbeat_times: np.ndarray | None = None  # seconds, every 4th beat (4/4 assumed)
    onset: np.ndarray | None = None  # float32 per frame in [0, 1]: onset strength, peak 1
    beat_phase: np.ndarray | None = None  # float32 per frame in [0, 1): 0 on a beat
    bar_phase: np.ndarray | None = None  # float32 per frame in [0, 1): 0 on a downbeat

    def __post_init__(self) -> None:
        for name in ("beat_times", "downbeat_times"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(0))
        for name in ("onset", "beat_phase", "bar_phase"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.frames, dtype=np.float32))

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
    r = beats.rhythm(samples, SAMPLE_RATE, fps, frames)
    return Features(fps, normalise(amplitude), normalise(bass), normalise(mids), normalise(highs), beat,
                    tempo_bpm=r.tempo_bpm, beat_times=r.beat_times, downbeat_times=r.downbeat_times,
                    onset=r.onset, beat_phase=r.beat_phase, bar_phase=r.bar_phase)


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

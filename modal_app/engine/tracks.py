"""Synthetic test tracks with known structure."""

from __future__ import annotations

import subprocess
import wave

import numpy as np

from modal_app.engine.analysis import SAMPLE_RATE


def pulses_and_hats(seconds: float = 8.0, bpm: float = 120.0, seed: int = 7):
    """Kick-like bass pulses on every beat and hi-hat noise bursts on the off-beats.

    Returns (samples, pulse_times, hat_times)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n, dtype=np.float64)
    period = 60.0 / bpm
    pulse_times = np.arange(0.25, seconds - 0.3, period)
    hat_times = pulse_times + period / 2
    for start in pulse_times:
        i = int(start * SAMPLE_RATE)
        length = int(0.18 * SAMPLE_RATE)
        tt = t[:length]
        freq = 55 + 90 * np.exp(-tt * 30)  # pitch drop, like a kick
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        body = np.tanh(6.0 * np.sin(phase)) * np.exp(-tt * 18)  # saturated body: harmonics in the mids
        click = np.sin(2 * np.pi * 1800 * tt) * np.exp(-tt * 250)  # beater click
        out[i : i + length] += 0.8 * body + 0.3 * click
    for start in hat_times:
        i = int(start * SAMPLE_RATE)
        length = int(0.06 * SAMPLE_RATE)
        noise = rng.standard_normal(length)
        hp = np.diff(np.diff(noise, prepend=0.0), prepend=0.0)  # second difference: energy in the top octaves
        out[i : i + length] += 0.12 * hp * np.exp(-np.arange(length) / SAMPLE_RATE * 60)
    return np.clip(out, -1, 1).astype(np.float32), pulse_times, hat_times


def write_wav(path: str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> str:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_mp3(path: str, samples: np.ndarray) -> str:
    wav = path + ".wav"
    write_wav(wav, samples)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", wav, "-b:a", "128k", path], check=True)
    return path

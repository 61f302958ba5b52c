"""The beat tracker (engine/beats.py) on generated tracks whose kicks are at known times."""

import numpy as np
import pytest

from modal_app.engine import beats
from modal_app.engine.analysis import SAMPLE_RATE

FPS = 30


def drum_track(bpm: float, seconds: float = 15.0, start: float = 0.4, seed: int = 0):
    """Kicks on every beat (every 4th accented, the others at 55 %), closed hats on the off-beats, quieter
    ghost hats on random sixteenths, a bass note held under each bar, and a noise floor. Returns (samples,
    kick_times, accented_kick_times)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    period = 60.0 / bpm
    kicks = np.arange(start, seconds - 0.5, period)
    t = np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE
    sweep = 2 * np.pi * np.cumsum(50 + 100 * np.exp(-t * 35)) / SAMPLE_RATE
    kick = np.tanh(4 * np.sin(sweep)) * np.exp(-t * 16) + 0.25 * np.sin(2 * np.pi * 2000 * t) * np.exp(-t * 300)

    def add(at: float, sound: np.ndarray, gain: float) -> None:
        i = int(round(at * SAMPLE_RATE))
        m = max(0, min(len(sound), n - i))
        out[i: i + m] += gain * sound[:m]

    def hat(length: float) -> np.ndarray:
        noise = np.diff(rng.standard_normal(int(length * SAMPLE_RATE) + 2), 2)  # energy in the top octaves
        return noise * np.exp(-np.arange(len(noise)) / SAMPLE_RATE * 70)

    for k, at in enumerate(kicks):
        add(at, kick, 0.9 if k % 4 == 0 else 0.5)
        add(at + period / 2, hat(0.05), rng.uniform(0.08, 0.14))
        for q in (0.25, 0.75):
            if rng.random() < 0.5:
                add(at + q * period, hat(0.03), rng.uniform(0.02, 0.05))
    for at in kicks[::4]:  # a bass note per bar, a fifth below or on the root
        length = np.arange(int(4 * period * SAMPLE_RATE)) / SAMPLE_RATE
        freq = rng.choice([55.0, 41.2])
        add(at, np.sin(2 * np.pi * freq * length) * np.minimum(1, length * 40) * np.exp(-length * 1.5), 0.15)
    out += 0.005 * rng.standard_normal(n)
    return np.clip(out, -1, 1).astype(np.float32), kicks, kicks[::4]


def nearest(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target, the distance to the nearest of `times`."""
    return np.array([np.min(np.abs(times - x)) if len(times) else np.inf for x in targets])


@pytest.mark.parametrize("bpm", [70, 95, 120, 150, 180])
def test_tempo_beats_and_downbeats_of_a_drum_track(bpm):
    samples, kicks, accents = drum_track(bpm, seed=bpm)
    frames = int(np.ceil(len(samples) / SAMPLE_RATE * FPS))
    r = beats.rhythm(samples, SAMPLE_RATE, FPS, frames)
    # Within 2 %: half or double the tempo is wrong.
    assert abs(r.tempo_bpm / bpm - 1) <= 0.02, (bpm, r.tempo_bpm)
    # Every kick has a beat within 50 ms, and every beat is a kick.
    assert nearest(r.beat_times, kicks).max() <= 0.05, nearest(r.beat_times, kicks)
    assert nearest(kicks, r.beat_times).max() <= 0.05, r.beat_times
    # The downbeats are the accented kicks, and only those.
    assert nearest(r.downbeat_times, accents).max() <= 0.05, (r.downbeat_times, accents)
    assert len(r.downbeat_times) == len(accents)
    # The phases: 0 at (just before: the frame starts before the onset peak) a beat; the bar's 0 on the
    # accented kicks, a quarter on the next ones.
    for phase, times, cycle in ((r.beat_phase, kicks, 60.0 / bpm), (r.bar_phase, accents, 240.0 / bpm)):
        at = phase[np.round(times * FPS).astype(int)]
        off = np.minimum(at, 1 - at) * cycle  # seconds from the phase's wrap
        assert off.max() <= 0.05, (phase, off)
    second = r.bar_phase[np.round(kicks[1::4] * FPS).astype(int)]
    assert np.all(np.abs(second - 0.25) <= 0.05 * bpm / 240.0 + 1e-6), second
    for phase in (r.beat_phase, r.bar_phase):
        assert phase.shape == (frames,) and phase.dtype == np.float32
        assert phase.min() >= 0 and phase.max() < 1


def test_onset_is_per_frame_and_peaks_on_the_hits():
    samples, kicks, _ = drum_track(120, seconds=6.0)
    frames = int(np.ceil(len(samples) / SAMPLE_RATE * FPS))
    r = beats.rhythm(samples, SAMPLE_RATE, FPS, frames)
    assert r.onset.shape == (frames,) and r.onset.dtype == np.float32
    assert abs(r.onset.max() - 1.0) < 1e-6 and r.onset.min() >= 0
    at_kicks = np.array([r.onset[int(k * FPS): int(k * FPS) + 2].max() for k in kicks])
    between = np.array([r.onset[int((k + 0.17) * FPS)] for k in kicks])  # between a kick and its hat
    assert at_kicks.min() > 0.3 and at_kicks.mean() > 5 * between.mean(), (at_kicks, between)


@pytest.mark.parametrize("name", ["silence", "steady tone", "too short"])
def test_no_beats_where_there_is_no_rhythm(name):
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    samples = {"silence": np.zeros_like(t), "steady tone": 0.5 * np.sin(2 * np.pi * 440 * t),
               "too short": np.ones(100)}[name].astype(np.float32)
    r = beats.rhythm(samples, SAMPLE_RATE, FPS, 90)
    assert r.tempo_bpm == 0.0 and len(r.beat_times) == 0 and len(r.downbeat_times) == 0
    assert r.onset.shape == r.beat_phase.shape == r.bar_phase.shape == (90,)
    assert not r.beat_phase.any() and not r.bar_phase.any()
    assert r.onset.max() < 0.5  # a steady tone's flicker is not scaled up to full


def test_blocks_match_librosa_whole(monkeypatch):
    """The spectrogram and the tempogram computed in blocks equal librosa's whole computation."""
    import librosa
    import scipy.stats

    samples, _, _ = drum_track(128, seconds=10.0)
    monkeypatch.setattr(beats, "BLOCK", 100)  # ~9 blocks
    mel = beats._mel(samples, SAMPLE_RATE)
    whole = librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE, n_fft=beats.N_FFT, hop_length=beats.HOP,
                                           n_mels=beats.N_MELS, pad_mode="constant")
    assert mel.shape == whole.shape
    np.testing.assert_allclose(mel, whole, rtol=1e-4, atol=1e-6 * whole.max())
    env = beats._onset_strength(mel, SAMPLE_RATE)
    prior = scipy.stats.uniform(beats.MIN_BPM, beats.MAX_BPM - beats.MIN_BPM)
    expected = librosa.feature.tempo(onset_envelope=env, sr=SAMPLE_RATE, hop_length=beats.HOP, prior=prior,
                                     max_tempo=beats.MAX_BPM)[0]
    assert beats._tempo(env, SAMPLE_RATE) == pytest.approx(expected)


def test_a_long_track_across_blocks():
    """Two minutes (three spectrogram blocks): the same tempo and beats throughout."""
    samples, kicks, accents = drum_track(128, seconds=120.0, seed=3)
    r = beats.rhythm(samples, SAMPLE_RATE, FPS, int(120 * FPS))
    assert abs(r.tempo_bpm / 128 - 1) <= 0.005, r.tempo_bpm
    assert nearest(r.beat_times, kicks).max() <= 0.05
    assert nearest(r.downbeat_times, accents).max() <= 0.05

import numpy as np

from modal_app.engine.analysis import Features, analyse, decode_mono, normalise
from modal_app.engine.tracks import pulses_and_hats, write_wav

FPS = 30


def test_beats_follow_bass_pulses():
    samples, pulses, _ = pulses_and_hats()
    f = analyse(samples, FPS)
    beat_frames = np.flatnonzero(f.beat)
    hits = sum(1 for p in pulses if np.any(np.abs(beat_frames - p * FPS) <= 2))
    assert hits / len(pulses) >= 0.9, (hits, len(pulses))
    # And no storm of false beats: at most one per pulse, plus a little slack.
    assert len(beat_frames) <= len(pulses) + 2


def test_highs_follow_the_hat_bursts():
    samples, pulses, hats = pulses_and_hats()
    f = analyse(samples, FPS)
    at_hats = np.array([f.highs[int(round(h * FPS))] for h in hats])
    at_pulses = np.array([f.highs[int(round(p * FPS))] for p in pulses])
    assert at_hats.mean() > 3 * at_pulses.mean(), (at_hats.mean(), at_pulses.mean())
    assert f.bass[[int(round(p * FPS)) for p in pulses]].mean() > 3 * f.bass[[int(round(h * FPS)) for h in hats]].mean()


def test_bands_are_normalised_to_the_track_peak():
    samples, _, _ = pulses_and_hats()
    f = analyse(samples, FPS)
    for band in (f.bass, f.mids, f.highs):
        assert abs(band.max() - 0.95) < 1e-5
        assert band.min() >= 0
    # Near-silence (raw peak ≤ 0.01) is not blown up to full scale.
    assert normalise(np.array([0.0, 0.004, 0.008])).max() < 0.01
    assert abs(normalise(np.array([0.0, 0.02, 0.5])).max() - 0.95) < 1e-6


def test_frame_count_and_decode(tmp_path):
    samples, _, _ = pulses_and_hats(seconds=2.0)
    path = write_wav(str(tmp_path / "a.wav"), samples)
    decoded = decode_mono(path)
    assert abs(len(decoded) - len(samples)) < 64
    assert analyse(decoded, 60).frames == 120


def test_rhythm_beside_the_bands():
    samples, pulses, _ = pulses_and_hats()
    f = analyse(samples, FPS)
    assert abs(f.tempo_bpm - 120) <= 120 * 0.02, f.tempo_bpm
    assert len(f.beat_times) == len(pulses)
    assert np.abs(f.beat_times - pulses).max() <= 0.05
    assert set(f.downbeat_times) <= set(f.beat_times) and 3 <= len(f.downbeat_times) <= 4
    for per_frame in (f.onset, f.beat_phase, f.bar_phase):
        assert per_frame.shape == (f.frames,) and per_frame.dtype == np.float32
    # A hand-built Features (no rhythm) has no beats and zero phases.
    bare = Features(FPS, f.amplitude, f.bass, f.mids, f.highs, f.beat)
    assert bare.tempo_bpm == 0.0 and len(bare.beat_times) == 0
    assert bare.onset.shape == bare.bar_phase.shape == (f.frames,) and not bare.beat_phase.any()

"""Rhythm on librosa: tempo, beats, downbeats and onsets (`analysis.py` puts them beside the bands).

- Onset strength: librosa's (the mean rise in dB over 128 mel bands) plus the same over the bands under
  250 Hz, so kicks and snares outweigh off-beat hi-hats; 2048-point frames every 512 samples at 44.1 kHz
  (11.6 ms, the resolution of a 256 hop at 22.05 kHz). The spectrogram and the tempogram are computed a
  block at a time: whole, the tempogram of a 30-minute track would take gigabytes.
- Tempo: the peak of the mean tempogram (8 s autocorrelation windows) under a flat prior over 60–200 BPM
  (librosa's default prior leans to 120 and halves fast tracks), then an octave check on the beats
  tracked at it: twice as fast when the points halfway between beats carry nearly the beats' onset
  strength, half as fast when every other beat is weak.
- Beats: librosa's dynamic-programming tracker at that tempo, each beat moved to the onset peak within
  ±2 frames, its ends mended (`_track`). The BPM reported is 60 / the slope of a least-squares fit of beat
  time against beat index (a skipped beat counts two), so it is not bound to the tempogram's whole-frame
  lags, a few per cent apart at fast tempos. Beat times are onset peaks: 0–20 ms after a kick starts.
- Downbeats: 4/4 assumed; the beat phase (index mod 4) whose beats carry the most power under 150 Hz.
- Per video frame f (covering [f/fps, (f+1)/fps)): `onset`, the envelope's maximum over the frame scaled
  so the track's peak is 1; `beat_phase` and `bar_phase` at the frame's start, in [0, 1) and 0 on a beat /
  downbeat, interpolated between beats and extrapolated at the fitted tempo before the first and after
  the last. A track without beats (silence, a steady tone, under two beats) has tempo 0 and phases 0.

librosa (with numba, which compiles its kernels) is imported on the first call, not with this module, so
the chunk processes, which only draw frames, never load it. numba keeps most of librosa's compiled kernels
in its on-disk cache (`NUMBA_CACHE_DIR`, else `__pycache__` beside librosa, else the user's cache
directory), so only a machine's first call compiles them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP = 512
N_FFT = 2048
N_MELS = 128
BLOCK = 4096  # spectrogram / tempogram frames per block (48 s)
AC_SECONDS = 8.0  # the tempogram's autocorrelation window, as librosa.feature.tempo
MIN_BPM, MAX_BPM = 60.0, 200.0
TIGHTNESS = 100.0  # librosa's default: how strictly beats keep the tempo
DOUBLE_IF = 0.7  # halfway points this strong relative to the beats (medians): the tempo doubles
HALVE_IF = 0.6  # one beat parity weaker than this relative to the other: the tempo halves
KEEP_IF = 0.5  # the first and last beats need this much onset strength relative to the median beat
SNAP = 0.15  # ... and to lie within this fraction of a period of the beat grid
MIN_ONSET = 2.0  # an onset envelope (dB of rise) that never reaches this has no onsets: a steady tone
ONSET_FLOOR = 0.1  # no beats where the median beat's onset strength is below this × the envelope's peak
REACH = 2  # frames either side of a beat searched for its onset peak
BEATS_PER_BAR = 4
LOW_HZ = 150.0  # the downbeat: the beat phase with the most power under this
KICK_HZ = 250.0  # onsets under this count twice: the kick's and the snare's bodies


@dataclass
class Rhythm:
    tempo_bpm: float  # 0.0 when no beat was found
    beat_times: np.ndarray  # seconds, float64, ascending
    downbeat_times: np.ndarray  # seconds, a subset of beat_times
    onset: np.ndarray  # per video frame, float32 in [0, 1]
    beat_phase: np.ndarray  # per video frame, float32 in [0, 1)
    bar_phase: np.ndarray  # per video frame, float32 in [0, 1)


def rhythm(samples: np.ndarray, sample_rate: int, fps: int, frames: int) -> Rhythm:
    """Tempo, beats and downbeats of mono `samples`, and the per-frame onset, beat phase and bar phase for
    `frames` video frames at `fps`."""
    y = np.ascontiguousarray(samples, dtype=np.float32)
    if len(y) < N_FFT or not np.any(y):
        return _no_beats(np.zeros(frames, dtype=np.float32), frames)
    mel = _mel(y, sample_rate)
    env = _onset_strength(mel, sample_rate)
    env_rate = sample_rate / HOP
    onset = _per_frame_max(env, env_rate, fps, frames)
    if env.max() < MIN_ONSET:
        return _no_beats(onset, frames)
    bpm = _tempo(env, sample_rate)
    beat_frames = _track(env, sample_rate, bpm)
    octave = _octave(env, beat_frames)
    if octave != 1.0 and MIN_BPM <= bpm * octave <= MAX_BPM:
        bpm *= octave
        beat_frames = _track(env, sample_rate, bpm)
    if len(beat_frames) < 2:
        return _no_beats(onset, frames)
    times = beat_frames * (HOP / sample_rate)
    index = _beat_index(times, 60.0 / bpm)
    period = _fit_period(times, index)
    low = mel[_mel_hz(sample_rate) < LOW_HZ].sum(axis=0)
    down = _downbeat_phase(low, beat_frames, index, env_rate)
    beat_phase, bar_phase = _phases(times, index, down, period, fps, frames)
    downbeats = times[(index - down) % BEATS_PER_BAR == 0]
    return Rhythm(60.0 / period, times, downbeats, onset, beat_phase, bar_phase)


def _no_beats(onset: np.ndarray, frames: int) -> Rhythm:
    zeros = np.zeros(frames, dtype=np.float32)
    return Rhythm(0.0, np.zeros(0), np.zeros(0), onset, zeros, zeros.copy())


def _mel(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mel power spectrogram, frames centred on multiples of HOP (librosa's `center=True` with zero padding),
    computed a block of frames at a time."""
    import librosa

    padded = np.pad(y, N_FFT // 2)
    n = 1 + len(y) // HOP
    blocks = []
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        blocks.append(librosa.feature.melspectrogram(y=padded[a * HOP: (b - 1) * HOP + N_FFT], sr=sample_rate,
                                                     n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=False))
    return np.concatenate(blocks, axis=1)


def _mel_hz(sample_rate: int) -> np.ndarray:
    import librosa

    return librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=sample_rate / 2)[1:-1]  # each band's centre


def _onset_strength(mel: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's onset strength (the mean rise in dB over the mel bands) plus the same over the bands under
    KICK_HZ alone: kicks and snares mark the beat, and off-beat hi-hats, a rise in many high bands, would
    otherwise weigh as much and could take the beat."""
    import librosa

    db = librosa.power_to_db(mel, ref=np.max)
    full = librosa.onset.onset_strength(S=db, sr=sample_rate, hop_length=HOP)
    low = librosa.onset.onset_strength(S=db[_mel_hz(sample_rate) < KICK_HZ], sr=sample_rate, hop_length=HOP)
    return full + low


def _tempo(env: np.ndarray, sample_rate: int) -> float:
    """librosa.feature.tempo with a flat 60–200 BPM prior, its tempogram averaged a block at a time (equal to
    the whole one: the envelope is padded once, as `center=True` would)."""
    import librosa
    import scipy.stats

    win = int(librosa.time_to_frames(AC_SECONDS, sr=sample_rate, hop_length=HOP))
    padded = np.pad(env, win // 2, mode="linear_ramp", end_values=0)
    total = np.zeros(win)
    for a in range(0, len(env), BLOCK):
        b = min(len(env), a + BLOCK)
        tg = librosa.feature.tempogram(onset_envelope=padded[a: b + win - 1], sr=sample_rate, hop_length=HOP,
                                       win_length=win, center=False)
        total += tg.sum(axis=1)
    prior = scipy.stats.uniform(MIN_BPM, MAX_BPM - MIN_BPM)
    return float(librosa.feature.tempo(tg=(total / len(env))[:, None], sr=sample_rate, hop_length=HOP,
                                       prior=prior, max_tempo=MAX_BPM, aggregate=None)[0])


def _track(env: np.ndarray, sample_rate: int, bpm: float) -> np.ndarray:
    """Beat frames at `bpm`: librosa's tracker, each beat moved to the onset peak near it, its ends mended.

    The tracker's path is sound inside the track but not at its ends: it starts at the first frame above
    1 % of the peak (noise will do) and backtracks from a last beat it picks near the envelope's end, and
    to reach those it may skip the first or last real beats. So the beats at either end that are weak or
    off the beat grid are dropped, and the grid is then extended outwards one period at a time, onto the
    strongest onset within 15 % of a period of where the next beat is due, while that onset is at least
    half as strong as the median beat."""
    frames = _refine(env, _dp(env, sample_rate, bpm))
    peak = _peaks(env)
    if len(frames) < 2 or np.median(peak[frames]) < ONSET_FLOOR * env.max():
        return frames[:0]  # the "beats" sit on no onsets (a steady tone after one attack, say)
    period = sample_rate / HOP * 60.0 / bpm
    floor = KEEP_IF * float(np.median(peak[frames]))

    def on_grid(a: int, b: int) -> bool:
        beats = abs(b - a) / period
        return round(beats) >= 1 and abs(beats - round(beats)) <= SNAP

    while len(frames) >= 2 and (peak[frames[0]] < floor or not on_grid(frames[0], frames[1])):
        frames = frames[1:]
    while len(frames) >= 2 and (peak[frames[-1]] < floor or not on_grid(frames[-2], frames[-1])):
        frames = frames[:-1]
    if len(frames) < 2 or peak[frames[0]] < floor:
        return frames[:0]
    return np.concatenate([_extend(env, frames[0], -period, floor)[::-1], frames,
                           _extend(env, frames[-1], period, floor)])


def _extend(env: np.ndarray, start: int, step: float, floor: float) -> np.ndarray:
    """Beats beyond `start`, `step` frames apart (negative: earlier), each on the strongest frame within
    SNAP × |step| of where it is due, until one falls short of `floor` or off the envelope."""
    out: list[int] = []
    reach = max(1, int(round(SNAP * abs(step))))
    at = float(start)
    while True:
        due = int(round(at + step))
        if not 0 <= due < len(env):
            break
        lo, hi = max(0, due - reach), min(len(env), due + reach + 1)
        best = lo + int(np.argmax(env[lo:hi]))
        if env[best] < floor:
            break
        out.append(best)
        at = float(best)
    return np.array(out, dtype=int)


def _dp(env: np.ndarray, sample_rate: int, bpm: float) -> np.ndarray:
    """librosa's tracker on the envelope followed by two periods of silence: it ends its path at a beat it
    picks near the envelope's end, and the silence lets that beat fall a period after the last real one
    (then dropped) rather than on whatever frame ends the audio, which would set the phase of the beats
    before it."""
    import librosa

    pad = int(round(2 * sample_rate / HOP * 60.0 / bpm))
    _, frames = librosa.beat.beat_track(onset_envelope=np.concatenate([env, np.zeros(pad, env.dtype)]),
                                        sr=sample_rate, hop_length=HOP, bpm=bpm, tightness=TIGHTNESS,
                                        trim=False, units="frames")
    frames = np.asarray(frames, dtype=int)
    return frames[frames < len(env)]


def _refine(env: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Each beat moved to the envelope's peak within ±REACH frames (the tracker's smoothing lands a frame
    early or late on an onset two frames wide)."""
    if len(frames) == 0:
        return frames
    window = np.clip(frames[:, None] + np.arange(-REACH, REACH + 1)[None, :], 0, len(env) - 1)
    return np.unique(window[np.arange(len(frames)), np.argmax(env[window], axis=1)])


def _peaks(env: np.ndarray) -> np.ndarray:
    """The envelope's maximum within ±REACH frames of each frame."""
    from scipy.ndimage import maximum_filter1d

    return maximum_filter1d(env, size=2 * REACH + 1, mode="nearest")


def _octave(env: np.ndarray, beat_frames: np.ndarray) -> float:
    """2, ½ or 1: how the tempo these beats were tracked at should change. ×2 when the points halfway between
    beats carry nearly the beats' onset strength (the beats skip every other pulse); ×½ when every other
    beat is weak (those are off-beats)."""
    if len(beat_frames) < 4:
        return 1.0
    peak = _peaks(env)
    on = peak[beat_frames]
    mid = peak[(beat_frames[1:] + beat_frames[:-1]) // 2]
    strength = float(np.median(on))
    if strength <= 0:
        return 1.0
    if np.median(mid) >= DOUBLE_IF * strength:
        return 2.0
    even, odd = float(np.median(on[0::2])), float(np.median(on[1::2]))
    if min(even, odd) < HALVE_IF * max(even, odd):
        return 0.5
    return 1.0


def _beat_index(times: np.ndarray, period: float) -> np.ndarray:
    """Each beat's place on the grid: consecutive beats one apart, more where the tracker skipped."""
    steps = np.maximum(1, np.round(np.diff(times) / period)).astype(int)
    return np.concatenate([[0], np.cumsum(steps)])


def _fit_period(times: np.ndarray, index: np.ndarray) -> float:
    """Seconds per beat: the slope of beat time against beat index, refitted without beats more than a
    tenth of a beat off the line (a stray beat at either end would tilt it)."""
    keep = np.ones(len(times), dtype=bool)
    for _ in range(3):
        slope, intercept = np.polyfit(index[keep], times[keep], 1)
        good = np.abs(times - (slope * index + intercept)) <= 0.1 * slope
        if good.sum() < 2 or np.array_equal(good, keep):
            break
        keep = good
    return float(slope)


def _downbeat_phase(low: np.ndarray, beat_frames: np.ndarray, index: np.ndarray, env_rate: float) -> int:
    """The beat phase (index mod 4) whose beats carry the most low-band power in the 60 ms after them."""
    reach = max(1, int(round(0.06 * env_rate)))
    window = np.clip(beat_frames[:, None] + np.arange(reach + 1)[None, :], 0, len(low) - 1)
    energy = low[window].max(axis=1)
    totals = np.bincount(index % BEATS_PER_BAR, weights=energy, minlength=BEATS_PER_BAR)
    counts = np.bincount(index % BEATS_PER_BAR, minlength=BEATS_PER_BAR)
    return int(np.argmax(totals / np.maximum(counts, 1)))


def _per_frame_max(env: np.ndarray, env_rate: float, fps: int, frames: int) -> np.ndarray:
    """The envelope's maximum over each video frame's interval (its nearest value where none falls inside),
    scaled so the track's peak is 1 (a peak under MIN_ONSET is scaled as if it were MIN_ONSET: numerical
    noise is not blown up to full scale)."""
    out = np.zeros(frames, dtype=np.float64)
    frame_of = np.floor(np.arange(len(env)) * (fps / env_rate) + 1e-9).astype(int)
    inside = frame_of < frames
    np.maximum.at(out, frame_of[inside], env[inside])
    empty = np.bincount(frame_of[inside], minlength=frames) == 0
    nearest = np.minimum(len(env) - 1, np.round(np.arange(frames) * (env_rate / fps)).astype(int))
    out[empty] = env[nearest[empty]]
    out /= max(float(out.max()) if frames else 0.0, MIN_ONSET)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _phases(times: np.ndarray, index: np.ndarray, down: int, period: float, fps: int,
            frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Beat and bar phase at each frame's start, from the beat position (index, fractional): interpolated
    between beats, extrapolated at `period` outside them."""
    t = np.arange(frames) / fps
    pos = np.interp(t, times, index.astype(np.float64))
    before, after = t < times[0], t > times[-1]
    pos[before] = index[0] + (t[before] - times[0]) / period
    pos[after] = index[-1] + (t[after] - times[-1]) / period
    return _unit(np.mod(pos, 1.0)), _unit(np.mod((pos - down) / BEATS_PER_BAR, 1.0))


def _unit(x: np.ndarray) -> np.ndarray:
    """float32 in [0, 1): a value that rounds up to 1.0 in float32 wraps to 0."""
    x = x.astype(np.float32)
    x[x >= 1.0] = 0.0
    return x

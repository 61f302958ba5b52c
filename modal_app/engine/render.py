"""Render an audio file to an audio-reactive MP4.

    python -m modal_app.engine.render --audio IN --format FORMAT --out OUT.mp4 [--fps N] [--mode MODE]
        [--seed N] [--device cpu|cuda] [--scale S] [--preview-seconds N] [--skybox PRESET] [--intensity X]
        [--quality Q]

The settings are checked by the render service's validator (`service.contract.render_spec`), against
`contracts/render.json`, which also gives every default.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import rules
from . import chunks, fanout, spherical
from .analysis import SAMPLE_RATE, analyse, decode_mono
from .fanout import ChunkPool
from .formats import get_format
from .spec import RenderSpec


class Cancelled(Exception):
    """The render was asked to stop."""


@dataclass
class RenderSummary:
    frames: int
    width: int
    height: int
    fps: int
    duration_sec: float
    render_seconds: float
    encoder: str
    device: str
    tempo_bpm: float = 0.0  # the audio's tempo (analysis.py; 0.0: no beat found)
    beats: int = 0  # how many beats the analysis found

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.render_seconds if self.render_seconds else 0.0

    @property
    def realtime_factor(self) -> float:
        return self.duration_sec / self.render_seconds if self.render_seconds else 0.0

    def line(self) -> str:
        return (
            f"rendered {self.frames} frames ({self.width}x{self.height} @ {self.fps} fps, {self.duration_sec:.2f} s) "
            f"in {self.render_seconds:.2f} s: {self.frames_per_second:.2f} frames/s, "
            f"{self.realtime_factor:.3f}x realtime, encoder {self.encoder}, device {self.device}"
        )


def default_device() -> str:
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # no banner or cache notes in the log
    wp.init()
    return "cuda" if wp.is_cuda_available() else "cpu"


def render(
    spec: RenderSpec,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    pool: ChunkPool | None = None,
) -> RenderSummary:
    """Renders `spec.audio` to `spec.out`. With a `pool` (Modal's GPU containers), or where this machine
    gains from it (`spec.processes`; by default one process per core on the CPU for long renders), the
    frames fan out over chunks (`fanout.py`); else they render here as one chunk, which feeds
    `spec.encoders` ffmpeg processes (by default as many as suit a software encoder beside a GPU). Either
    way the audio is encoded meanwhile and the segments are joined with it without re-encoding."""
    fmt = get_format(spec.format_id)
    device = spec.device or default_device()
    started = time.monotonic()
    samples = decode_mono(spec.audio)
    if spec.preview_seconds:
        samples = samples[: int(spec.preview_seconds * SAMPLE_RATE)]
    if len(samples) == 0:
        raise ValueError("the audio is empty")
    duration = len(samples) / SAMPLE_RATE
    features = analyse(samples, spec.fps)
    width, height = fmt.scaled(spec.scale)
    total = features.frames
    report = (lambda done: progress(done, total)) if progress else (lambda done: None)
    stop = should_stop or (lambda: False)
    if pool is None:
        local = fanout.ProcessPool(device, spec.processes)
        pool = local if local.size(total) > 1 else None
    ranges = chunks.plan(total, pool.size(total) if pool else 1)
    paths = pool.segment_paths(spec.out, len(ranges)) if pool else chunks.segment_paths(spec.out, 1)
    jobs = [fanout.ChunkJob(i, a, b, path, spec.format_id, width, height, spec.fps, spec.quality, spec.visual,
                            features, spec.seed, device, encoders=spec.encoders)
            for i, ((a, b), path) in enumerate(zip(ranges, paths, strict=True))]
    report(0)  # the first frame is about to be drawn: the ETA's clock starts
    try:
        with chunks.AudioEncode(spec.audio, duration, spec.out + ".audio.m4a") as track:
            try:
                if pool is not None:
                    segments, codec = fanout.render_fanout(jobs, pool, report, stop)
                else:
                    segments, codec = [jobs[0].out], fanout.render_chunk(jobs[0], report, stop)
                chunks.join(segments, track, spec.out)
            finally:
                pool.cleanup(jobs) if pool else fanout.remove_files(jobs)
        if fmt.is_360:
            spherical.inject(spec.out, "top-bottom" if fmt.stereo else "mono")
    except chunks.ChunkCancelled:
        chunks.remove([spec.out])
        raise Cancelled() from None
    except BaseException:
        chunks.remove([spec.out])
        raise
    return RenderSummary(total, width, height, spec.fps, duration, time.monotonic() - started, codec, device,
                         features.tempo_bpm, len(features.beat_times))


def _progress_bar(done: int, total: int) -> None:
    if done != total and (100 * done // total) == (100 * (done - 1) // total):
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {100 * done / total:5.1f}%  frame {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _given(**values) -> dict:
    """The flags that were set, as settings (the others take the contract's defaults)."""
    return {k: v for k, v in values.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    from ..service.contract import InvalidRequest, render_spec

    d = rules.DEFAULTS
    ap = argparse.ArgumentParser(prog="python -m modal_app.engine.render", description=__doc__.splitlines()[0])
    ap.add_argument("--audio", required=True)
    ap.add_argument("--format", required=True, help=f"one of {', '.join(rules.ids('formats'))}")
    ap.add_argument("--fps", type=int, help=f"one of {', '.join(map(str, rules.fps_choices()))} (default {d['fps']})")
    ap.add_argument("--mode", help=f"one of {', '.join(rules.ids('modes'))} (default {d['mode']})")
    ap.add_argument("--skybox", help=f"one of {', '.join(rules.ids('skyboxPresets'))} (default {d['skyboxPreset']})")
    ap.add_argument("--intensity", type=float, help=f"default {d['intensity']}")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, help=f"default {d['seed']}")
    ap.add_argument("--device", choices=("cpu", "cuda"))
    ap.add_argument("--scale", type=float, help=f"default {d['scale']}")
    ap.add_argument("--preview-seconds", type=float)
    ap.add_argument("--quality", help=f"one of {', '.join(rules.ids('qualities'))} (default {d['quality']})")
    ap.add_argument("--processes", type=int, help="chunk processes (default: one per core on the CPU)")
    ap.add_argument("--encoders", type=int, help="parallel encoders fed by one renderer")
    a = ap.parse_args(argv)
    settings = _given(format=a.format, fps=a.fps, seed=a.seed,
                      visual=_given(mode=a.mode, skyboxPreset=a.skybox, intensity=a.intensity),
                      options=_given(scale=a.scale, previewSeconds=a.preview_seconds, quality=a.quality))
    try:
        spec = render_spec(settings, a.audio, a.out, a.device, a.processes, a.encoders)
    except InvalidRequest as e:
        ap.error(str(e))
    summary = render(spec, progress=_progress_bar)
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

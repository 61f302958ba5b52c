"""Render an audio file to an audio-reactive MP4.

    python -m modal_app.engine.render --audio IN --format FORMAT --fps 30 --mode flame --out OUT.mp4
        [--seed N] [--device cpu|cuda] [--scale S] [--preview-seconds N] [--skybox PRESET] [--intensity X]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

from . import chunks, fanout, spherical
from .analysis import SAMPLE_RATE, analyse, decode_mono
from .encode import FrameWriter, PipelinedWriter, choose_encoder
from .fanout import ChunkPool
from .formats import FORMATS, FPS_CHOICES, get_format
from .presets import MODES, NEBULA_PRESETS, VisualConfig
from .scene import FrameRenderer, Scene
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
    frames fan out over chunks (`fanout.py`); else one renderer feeds `spec.encoders` ffmpeg processes (by
    default as many as suit a software encoder beside a GPU). Chunks are joined without re-encoding."""
    audio, out, format_id, fps, seed, scale = spec.audio, spec.out, spec.format_id, spec.fps, spec.seed, spec.scale
    fmt = get_format(format_id)
    visual = spec.visual
    device = spec.device or default_device()
    started = time.monotonic()
    samples = decode_mono(audio)
    if spec.preview_seconds:
        samples = samples[: int(spec.preview_seconds * SAMPLE_RATE)]
    if len(samples) == 0:
        raise ValueError("the audio is empty")
    duration = len(samples) / SAMPLE_RATE
    features = analyse(samples, fps)
    width, height = fmt.scaled(scale)
    total = features.frames
    report = (lambda done: progress(done, total)) if progress else (lambda done: None)
    stop = should_stop or (lambda: False)
    if pool is None:
        local = fanout.ProcessPool(device, spec.processes)
        pool = local if local.size(total) > 1 else None
    report(0)  # the first frame is about to be drawn: the ETA's clock starts
    try:
        if pool is not None:
            ranges = chunks.plan(total, pool.size(total))
            jobs = [fanout.ChunkJob(i, a, b, path, format_id, width, height, fps, spec.quality, visual, features,
                                    seed, device)
                    for i, ((a, b), path) in enumerate(zip(ranges, pool.segment_paths(out, len(ranges))))]
            track = chunks.AudioEncode(audio, duration, out + ".audio.m4a")
            try:
                segments, codec = fanout.render_fanout(jobs, pool, report, stop)
                chunks.join(segments, track, out)
            finally:
                try:
                    track.abort()
                finally:
                    pool.cleanup(jobs)
        else:
            codec = _render_here(spec, fmt, device, width, height, features, duration, report, stop)
        if fmt.is_360:
            spherical.inject(out, "top-bottom" if fmt.stereo else "mono")
    except chunks.ChunkCancelled:
        _remove(out)
        raise Cancelled() from None
    except BaseException:
        _remove(out)
        raise
    return RenderSummary(total, width, height, fps, duration, time.monotonic() - started, codec, device)


def _render_here(spec, fmt, device, width, height, features, duration, report, stop) -> str:
    """Renders in this process: into one encoder that also muxes the audio, or into parallel encoders fed in
    turn and then joined. Returns the encoder's name."""
    encoder = choose_encoder(fmt, spec.quality)
    scene = Scene(spec.visual, features, spec.seed)
    renderer = FrameRenderer(fmt, width, height, spec.visual, device)
    k_encoders = spec.encoders if spec.encoders is not None else chunks.auto_encoders(device, encoder)
    if k_encoders > 1:
        ranges = chunks.plan(features.frames, k_encoders)
        track = chunks.AudioEncode(spec.audio, duration, spec.out + ".audio.m4a")
        segments = []
        try:
            segments = chunks.render_round_robin(renderer, scene, ranges, spec.out, width, height, spec.fps, encoder,
                                                 report, stop)
            chunks.join(segments, track, spec.out)
        finally:
            try:
                track.abort()
            finally:
                chunks.remove(segments)
    else:
        _render_single(renderer, scene, features.frames, spec.out, width, height, spec.fps, spec.audio, encoder,
                       spec.preview_seconds and duration, report, stop)
    return encoder.codec


def _render_single(renderer, scene, total, out, width, height, fps, audio, encoder, seconds, report, stop) -> None:
    """One renderer into one encoder that also muxes the audio."""
    writer = PipelinedWriter(FrameWriter(out, width, height, fps, audio, encoder, seconds=seconds))
    chunks.encode_frames(renderer, scene, range(total), writer, report, stop)


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def _progress_bar(done: int, total: int) -> None:
    if done != total and (100 * done // total) == (100 * (done - 1) // total):
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {100 * done / total:5.1f}%  frame {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modal_app.engine.render", description=__doc__.splitlines()[0])
    ap.add_argument("--audio", required=True)
    ap.add_argument("--format", required=True, choices=sorted(FORMATS))
    ap.add_argument("--fps", type=int, default=30, choices=FPS_CHOICES)
    ap.add_argument("--mode", default="flame", choices=MODES)
    ap.add_argument("--skybox", default="darkWorld1", choices=sorted(NEBULA_PRESETS))
    ap.add_argument("--intensity", type=float, default=1.7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "cuda"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--preview-seconds", type=float)
    ap.add_argument("--quality", default="balanced", choices=("fast", "balanced", "quality"))
    ap.add_argument("--processes", type=int, help="chunk processes (default: one per core on the CPU)")
    ap.add_argument("--encoders", type=int, help="parallel encoders fed by one renderer")
    a = ap.parse_args(argv)
    visual = VisualConfig(mode=a.mode, skybox_preset=a.skybox, intensity=a.intensity)
    spec = RenderSpec(a.audio, a.out, a.format, a.fps, visual, a.seed, a.device, a.scale, a.preview_seconds, a.quality,
                      a.processes, a.encoders)
    summary = render(spec, progress=_progress_bar)
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

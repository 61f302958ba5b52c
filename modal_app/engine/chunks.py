"""Splitting a render into contiguous chunks of frames and joining them back, exactly.

Frames are pure functions of their index, so any split renders the same pictures. Two ways to use it:

* **Parallel encoders** (`render_round_robin`): one renderer feeds K ffmpeg processes, one per chunk,
  drawing frame `j` of every chunk in turn — the GPU stays one stream while K encoders (K from the cores)
  work at once, each on its own contiguous segment.
* **Fan-out** (`render_fanout`): K processes each render and encode their own chunk — one per core on
  the CPU (the local emulator, and any CPU render). Progress is summed across chunks and never goes
  back, a cancel stops every chunk, and a chunk that fails is retried alone. (Spreading the chunks over
  several Modal containers, each with its own GPU, is not built yet.)

Either way the segments (video only, each starting on a keyframe at time 0) are joined with ffmpeg's
concat demuxer without re-encoding, and the audio is muxed once over the whole: the frame count is the
sum of the chunks', timestamps run on without a gap, and no frame is duplicated or missing at a seam.
"""

from __future__ import annotations

import dataclasses
import glob
import multiprocessing as mp
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from .encode import Encoder, FrameWriter, PipelinedWriter

# Below this many frames per chunk, starting a process costs more than it saves.
MIN_FRAMES_PER_PROCESS = 60
FAILED_CHUNK_RETRIES = 1


class ChunkCancelled(Exception):
    """Every chunk was told to stop."""


def plan(frames: int, k: int) -> list[tuple[int, int]]:
    """K contiguous `[start, end)` ranges covering `0..frames`, sizes differing by at most one."""
    k = max(1, min(k, frames))
    base, extra = divmod(frames, k)
    ranges, start = [], 0
    for i in range(k):
        end = start + base + (1 if i < extra else 0)
        ranges.append((start, end))
        start = end
    return ranges


def auto_processes(frames: int, device: str) -> int:
    """Chunk processes for a render on this machine: one per core on the CPU (each Warp CPU launch runs on
    one thread), for renders long enough to pay for the start-up; one process where the device is a GPU
    (on Modal, fan-out spreads chunks over containers instead)."""
    if device != "cpu":
        return 1
    return max(1, min(cores(), frames // MIN_FRAMES_PER_PROCESS))


def cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_encoders(device: str, encoder: Encoder) -> int:
    """Parallel software encoders beside a GPU renderer: the encoder is the bottleneck there, and K
    ffmpeg processes on K contiguous segments add throughput (about a quarter of the cores each, at most
    four). On the CPU the kernel is the bottleneck (use processes); NVENC is one hardware unit."""
    if device == "cpu" or encoder.hardware:
        return 1
    return max(1, min(4, cores() // 4))


def join(segments: list[str], audio: str, seconds: float, out: str, ffmpeg: str = "ffmpeg") -> None:
    """Concatenates video-only segments without re-encoding and muxes `seconds` of `audio` once."""
    listing = out + ".concat.txt"
    with open(listing, "w") as f:
        for path in segments:
            f.write("file '" + os.path.abspath(path).replace("'", r"'\''") + "'\n")
    try:
        done = subprocess.run(
            [ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", listing,
             "-t", f"{seconds:.3f}", "-i", audio, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
             "-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-movflags", "+faststart", out],
            capture_output=True,
        )
    finally:
        os.remove(listing)
    if done.returncode != 0:
        raise RuntimeError(f"joining the chunks failed: {done.stderr.decode(errors='replace')[-2000:]}")


def segment_paths(out: str, k: int) -> list[str]:
    return [f"{out}.part{i:03d}.mp4" for i in range(k)]


def render_round_robin(renderer, scene, ranges, out: str, width: int, height: int, fps: int, encoder: Encoder,
                       progress: Callable[[int], None], should_stop: Callable[[], bool]) -> list[str]:
    """One renderer, one encoder per range, fed in turn; returns the segment files."""
    paths = segment_paths(out, len(ranges))
    writers = [FrameWriter(p, width, height, fps, None, encoder) for p in paths]
    try:
        done = 0
        for j in range(max(end - start for start, end in ranges)):
            for (start, end), writer in zip(ranges, writers):
                if start + j < end:
                    if should_stop():
                        raise ChunkCancelled()
                    writer.write(renderer.render_yuv(scene.frame(start + j)))
                    done += 1
                    progress(done)
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        remove(paths)
        raise
    return paths


@dataclass
class ChunkJob:
    """What one chunk process needs (picklable: it crosses a process boundary)."""

    index: int
    start: int
    end: int
    out: str
    format_id: str
    width: int
    height: int
    fps: int
    visual: object
    features: object
    seed: int
    device: str
    encoder: Encoder
    attempt: int = 0

    @property
    def attempt_path(self) -> str:
        """Each attempt writes its own file (a killed attempt's encoder may still be finishing its own),
        renamed to the segment's path once complete."""
        return f"{self.out}.a{self.attempt}.mp4"


def _run_chunk(job: ChunkJob, counts, stop) -> None:
    """A chunk process: renders its frames into its segment, counting each frame in `counts[index]`."""
    import warp as wp

    from .formats import get_format
    from .scene import FrameRenderer, Scene, ahead

    wp.config.quiet = True

    scene = Scene(job.visual, job.features, job.seed)
    renderer = FrameRenderer(get_format(job.format_id), job.width, job.height, job.visual, job.device)
    writer = PipelinedWriter(FrameWriter(job.attempt_path, job.width, job.height, job.fps, None, job.encoder))
    try:
        for index, state in ahead(scene, range(job.start, job.end)):
            if stop.is_set():
                raise ChunkCancelled()
            writer.write(renderer.render_yuv(state))
            counts[job.index] = index - job.start + 1
        writer.close()
    except BaseException:
        writer.abort()
        raise
    os.replace(job.attempt_path, job.out)


def render_fanout(jobs: list[ChunkJob], progress: Callable[[int], None], should_stop: Callable[[], bool],
                  poll_seconds: float = 0.2) -> list[str]:
    """Runs every chunk in its own process at once; returns the segment files in order."""
    ctx = mp.get_context("spawn")
    # One frame counter per chunk, each written by its chunk's process alone: no lock to be left held by
    # a process that dies.
    counts, stop = ctx.Array("i", len(jobs), lock=False), ctx.Event()
    reported = 0  # progress never goes back, even while a failed chunk is rendered again
    retries = [FAILED_CHUNK_RETRIES] * len(jobs)
    procs = {job.index: _start(ctx, job, counts, stop) for job in jobs}
    try:
        while procs:
            time.sleep(poll_seconds)
            if sum(counts) > reported:
                reported = sum(counts)
                progress(reported)
            if should_stop():
                raise ChunkCancelled()
            for index, proc in list(procs.items()):
                if proc.exitcode is None:
                    continue
                del procs[index]
                if proc.exitcode != 0:
                    if retries[index] == 0:
                        raise RuntimeError(f"chunk {index} failed (exit {proc.exitcode})")
                    retries[index] -= 1  # a failed chunk is rendered again, alone, into a file of its own
                    counts[index] = 0
                    jobs[index] = dataclasses.replace(jobs[index], attempt=jobs[index].attempt + 1)
                    procs[index] = _start(ctx, jobs[index], counts, stop)
        if sum(counts) > reported:
            progress(sum(counts))
        return [job.out for job in jobs]
    except BaseException:
        stop.set()
        _stop_all(procs.values())
        remove([job.out for job in jobs])
        raise
    finally:
        for job in jobs:
            remove(glob.glob(glob.escape(job.out) + ".a*"))


def _start(ctx, job: ChunkJob, counts, stop):
    proc = ctx.Process(target=_run_chunk, args=(job, counts, stop), daemon=True)
    proc.start()
    return proc


def _stop_all(procs, grace_seconds: float = 3.0) -> None:
    deadline = time.monotonic() + grace_seconds
    for proc in procs:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()


def remove(paths: list[str]) -> None:
    for path in paths:
        if os.path.exists(path):
            os.remove(path)

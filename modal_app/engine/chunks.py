"""Splitting a render into contiguous chunks of frames and joining them back, exactly.

Frames are pure functions of their index, so any split renders the same pictures. Two ways to use it:

* **Parallel encoders** (`render_round_robin`): one renderer feeds K ffmpeg processes, one per chunk,
  drawing frame `j` of every chunk in turn — the GPU stays one stream while K encoders (K from the cores)
  work at once, each on its own contiguous segment.
* **Fan-out** (`fanout.py`): K chunks each rendered and encoded on their own, by processes on this
  machine or by GPU containers on Modal.

Either way the segments (video only, each starting on a keyframe at time 0) are joined with ffmpeg's
concat demuxer without re-encoding, and the audio is muxed once over the whole: the frame count is the
sum of the chunks', timestamps run on without a gap, and no frame is duplicated or missing at a seam.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable

from .encode import Encoder, FrameWriter

# Below this many frames per chunk, starting a process costs more than it saves.
MIN_FRAMES_PER_PROCESS = 60
# More chunk processes or encoders than this only add start-up cost and memory.
MAX_PARALLEL = 64


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
    return max(1, min(cores(), MAX_PARALLEL, frames // MIN_FRAMES_PER_PROCESS))


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


class AudioEncode:
    """The audio encoded to AAC once, in its own ffmpeg, while the frames render: the join then copies it.
    (Encoding ten minutes of audio takes about half a minute of one core — docs/PERFORMANCE.md — which
    would otherwise be the fan-out's tail.)"""

    def __init__(self, audio: str, seconds: float, dest: str, ffmpeg: str = "ffmpeg"):
        self.dest = dest
        # Its messages go to a file: a pipe read only at the join could fill and stall the encode.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [ffmpeg, "-v", "error", "-nostdin", "-y", "-t", f"{seconds:.3f}", "-i", audio, "-vn", "-c:a", "aac",
             "-b:a", "192k", "-ar", "48000", "-f", "mp4", dest],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)

    def wait(self) -> str:
        if self.proc.wait() != 0:
            self.log.seek(0)
            raise RuntimeError(f"encoding the audio failed: {self.log.read().decode(errors='replace')[-2000:]}")
        return self.dest

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        remove([self.dest])

    def __enter__(self) -> AudioEncode:
        return self

    def __exit__(self, *_) -> None:
        self.abort()  # the join has copied what it needs, or the render ended without one


def join(segments: list[str], audio: AudioEncode, out: str, ffmpeg: str = "ffmpeg") -> None:
    """Concatenates video-only segments and muxes the encoded audio, both without re-encoding."""
    _concat(segments, out, ffmpeg, ["-i", audio.wait(), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                                    "-movflags", "+faststart"])


def concat(segments: list[str], out: str, ffmpeg: str = "ffmpeg") -> None:
    """Concatenates video-only segments into one video-only segment, without re-encoding."""
    _concat(segments, out, ffmpeg, ["-map", "0:v:0", "-c:v", "copy"])


def _concat(segments: list[str], out: str, ffmpeg: str, then: list[str]) -> None:
    listing = out + ".concat.txt"
    with open(listing, "w") as f:
        for path in segments:
            f.write("file '" + os.path.abspath(path).replace("'", r"'\''") + "'\n")
    try:
        done = subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", listing,
                               *then, "-f", "mp4", out], capture_output=True)
    finally:
        os.remove(listing)
    if done.returncode != 0:
        raise RuntimeError(f"joining the chunks failed: {done.stderr.decode(errors='replace')[-2000:]}")


def segment_paths(out: str, k: int) -> list[str]:
    return [f"{out}.part{i:03d}.mp4" for i in range(k)]


def encode_frames(renderer, scene, indices, writer, on_frame: Callable[[int], None],
                  should_stop: Callable[[], bool]) -> None:
    """Renders the frames `indices`, in order, into `writer` — the scene states built ahead on a thread,
    up to the ring's depth of frames in flight on the device — calling `on_frame(frames done)`. The
    writer is closed at the end, or aborted on any failure or cancel."""
    from .ring import pictures
    from .scene import ahead

    try:
        for done, (_, picture) in enumerate(pictures(renderer, ahead(scene, indices)), 1):
            if should_stop():
                raise ChunkCancelled()
            writer.write(picture)
            on_frame(done)
        writer.close()
    except BaseException:
        writer.abort()
        renderer.drain()
        raise


class _InTurn:
    """K writers fed one frame each in turn (the order `render_round_robin` renders in)."""

    def __init__(self, writers: list, turns: list[int]):
        self.writers, self.turns, self.next = writers, turns, 0

    def write(self, picture: bytes) -> None:
        self.writers[self.turns[self.next]].write(picture)
        self.next += 1

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    def abort(self) -> None:
        for writer in self.writers:
            writer.abort()


def render_round_robin(renderer, scene, ranges, out: str, width: int, height: int, fps: int, encoder: Encoder,
                       progress: Callable[[int], None], should_stop: Callable[[], bool]) -> list[str]:
    """One renderer, one encoder per range, fed in turn; returns the segment files."""
    paths = segment_paths(out, len(ranges))
    order = [(start + j, k) for j in range(max(end - start for start, end in ranges))
             for k, (start, end) in enumerate(ranges) if start + j < end]
    writers = []
    try:
        for path in paths:
            writers.append(FrameWriter(path, width, height, fps, encoder))
        encode_frames(renderer, scene, [index for index, _ in order], _InTurn(writers, [k for _, k in order]),
                      progress, should_stop)
    except BaseException:
        for writer in writers:
            writer.abort()
        remove(paths)
        raise
    return paths


def remove(paths: list[str]) -> None:
    for path in paths:
        if os.path.exists(path):
            os.remove(path)

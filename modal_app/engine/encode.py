"""Encoding: raw frames (`yuv420p` from the device, so ffmpeg runs no scaler) stream into ffmpeg's stdin
(no image files) and become a video-only segment (`chunks.join` adds the audio and `+faststart`). NVENC
(`h264_nvenc`/`hevc_nvenc`) is used when a one-frame probe encode works on this machine, else
libx264/libx265."""

from __future__ import annotations

import collections
import functools
import queue
import subprocess
import threading
from dataclasses import dataclass

from .. import rules
from .formats import Format

# The CRF of each of the contract's `qualities` ids (a test checks every id has one).
QUALITY_CRF = {"fast": 26, "balanced": 21, "quality": 18}


@functools.cache
def nvenc_works(codec: str, ffmpeg: str = "ffmpeg") -> bool:
    """A real one-frame encode: listing the encoder is not enough (no GPU, no driver, no NVENC unit)."""
    try:
        probe = subprocess.run(
            [ffmpeg, "-v", "error", "-nostdin", "-f", "lavfi", "-i", "color=black:s=256x256:d=0.1", "-frames:v", "1",
             "-c:v", codec, "-f", "null", "-"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@dataclass(frozen=True)
class Encoder:
    codec: str
    args: tuple[str, ...]

    @property
    def hardware(self) -> bool:
        return self.codec.endswith("_nvenc")


def choose_encoder(fmt: Format, quality: str = rules.DEFAULTS["quality"], allow_nvenc: bool = True) -> Encoder:
    hevc = fmt.prefers_hevc
    crf = QUALITY_CRF[quality]
    nvenc = "hevc_nvenc" if hevc else "h264_nvenc"
    if allow_nvenc and nvenc_works(nvenc):
        return Encoder(nvenc, ("-c:v", nvenc, "-preset", "p5", "-tune", "hq", "-rc", "vbr", "-cq", str(crf),
                               "-b:v", "0"))
    # Both software encoders run `veryfast` two CRF steps finer than `fast`: measured on our frames that is
    # better (PSNR +0.5 dB for x264, +1.0 dB for x265) and faster (×1.5 and ×1.2), for about 30 % more
    # bytes (docs/PERFORMANCE.md, `make bench-render`).
    if hevc:
        return Encoder("libx265", ("-c:v", "libx265", "-preset", "veryfast", "-crf", str(crf - 2), "-x265-params",
                                   "log-level=error", "-tag:v", "hvc1"))
    return Encoder("libx264", ("-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf - 2)))


# What the frames are, told to the encoder: BT.709 in limited range (the conversion kernel's matrix).
COLOR_TAGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")
# The conversion kernel averages each 2×2 block: its chroma sits at the block's centre.
CHROMA_SITING = ("-chroma_sample_location", "center")


class FrameWriter:
    """An ffmpeg process fed `yuv420p` pictures (BT.709, limited range) on stdin, writing a video-only MP4
    segment (the audio is encoded once beside it and muxed by the join). Its stderr is drained as it comes,
    so a chatty encoder never blocks."""

    def __init__(self, out: str, width: int, height: int, fps: int, encoder: Encoder, ffmpeg: str = "ffmpeg"):
        cmd = [
            ffmpeg, "-v", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", *COLOR_TAGS, "-s", f"{width}x{height}", "-r", str(fps),
            "-i", "pipe:0", "-map", "0:v:0", *encoder.args, "-pix_fmt", "yuv420p", *COLOR_TAGS, *CHROMA_SITING,
            "-f", "mp4", out,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frame_bytes = width * height * 3 // 2
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=64)
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self) -> None:
        for line in iter(self.proc.stderr.readline, b""):
            self.stderr.append(line)

    def write(self, frame) -> None:
        data = frame if isinstance(frame, (bytes, bytearray, memoryview)) else frame.tobytes()
        if len(data) != self.frame_bytes:
            raise ValueError(f"frame is {len(data)} bytes, expected {self.frame_bytes}")
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self.proc.wait()
            raise RuntimeError(f"ffmpeg stopped: {self.error()}") from None

    def error(self) -> str:
        self.drain.join(timeout=5)
        return b"".join(self.stderr).decode(errors="replace")[-2000:]

    def close(self) -> None:
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed: {self.error()}")

    def abort(self) -> None:
        self.proc.kill()
        self.proc.wait()


class PipelinedWriter:
    """A `FrameWriter` fed from a thread through a short queue: the next frame renders (Warp releases the
    GIL in its launches) while this one is piped to the encoder, instead of one after the other."""

    def __init__(self, writer: FrameWriter, depth: int = 3):
        self.writer = writer
        self.frames: queue.Queue = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        while (frame := self.frames.get()) is not None:
            if self.failure is None:
                try:
                    self.writer.write(frame)
                except BaseException as e:  # noqa: BLE001 - surfaced by the next write or close
                    self.failure = e

    def write(self, frame) -> None:
        if self.failure is not None:
            raise self.failure
        self.frames.put(frame)

    def close(self) -> None:
        self.frames.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure
        self.writer.close()

    def abort(self) -> None:
        self.failure = self.failure or RuntimeError("aborted")
        self.writer.abort()  # a write in progress fails at once; queued frames are dropped
        while True:
            try:
                self.frames.get_nowait()
            except queue.Empty:
                break
        self.frames.put(None)  # only the feeder takes from the queue, and nothing is put after this
        self.thread.join(timeout=5)

"""Encoding: raw frames (`yuv420p` from the device, so ffmpeg runs no scaler) stream into ffmpeg's stdin
(no image files), the audio is muxed, and the MP4 gets `+faststart`. NVENC (`h264_nvenc`/`hevc_nvenc`) is used when a one-frame probe encode works on this
machine, else libx264/libx265."""

from __future__ import annotations

import collections
import functools
import subprocess
import threading
from dataclasses import dataclass

from .formats import Format

QUALITY_CRF = {"fast": 26, "balanced": 21, "quality": 18}


@functools.lru_cache(maxsize=None)
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


def choose_encoder(fmt: Format, quality: str = "balanced", allow_nvenc: bool = True) -> Encoder:
    hevc = fmt.prefers_hevc
    crf = QUALITY_CRF[quality]
    nvenc = "hevc_nvenc" if hevc else "h264_nvenc"
    if allow_nvenc and nvenc_works(nvenc):
        return Encoder(nvenc, ("-c:v", nvenc, "-preset", "p5", "-tune", "hq", "-rc", "vbr", "-cq", str(crf), "-b:v", "0"))
    if hevc:
        return Encoder("libx265", ("-c:v", "libx265", "-preset", "fast", "-crf", str(crf), "-x265-params", "log-level=error", "-tag:v", "hvc1"))
    return Encoder("libx264", ("-c:v", "libx264", "-preset", "fast", "-crf", str(crf)))


# What the frames are, told to the encoder: BT.709 in limited range (the conversion kernel's matrix).
COLOR_TAGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")


class FrameWriter:
    """An ffmpeg process fed raw frames on stdin — `yuv420p` pictures (BT.709, limited range) by default,
    or `rgb24` — muxing `audio` (optionally only its first `seconds`), or video only when `audio` is None
    (a chunk of a longer render). Its stderr is drained as it comes, so a chatty encoder never blocks."""

    def __init__(self, out: str, width: int, height: int, fps: int, audio: str | None, encoder: Encoder,
                 seconds: float | None = None, ffmpeg: str = "ffmpeg", pix_fmt: str = "yuv420p"):
        audio_input = (["-t", f"{seconds:.3f}"] if seconds else []) + (["-i", audio] if audio else [])
        audio_out = ["-map", "1:a:0", "-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-shortest"] if audio else []
        tags = COLOR_TAGS if pix_fmt == "yuv420p" else ()
        cmd = [
            ffmpeg, "-v", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", pix_fmt, *tags, "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
            *audio_input,
            "-map", "0:v:0", *encoder.args, "-pix_fmt", "yuv420p", *tags,
            *audio_out, "-movflags", "+faststart", out,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frame_bytes = width * height * 3 // (2 if pix_fmt == "yuv420p" else 1)
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
        self.proc.stdin.write(data)

    def close(self) -> None:
        self.proc.stdin.close()
        code = self.proc.wait()
        self.drain.join(timeout=5)
        if code != 0:
            err = b"".join(self.stderr).decode(errors="replace")
            raise RuntimeError(f"ffmpeg failed: {err[-2000:]}")

    def abort(self) -> None:
        self.proc.kill()
        self.proc.wait()

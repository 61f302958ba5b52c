"""Encoding: raw RGB frames stream into ffmpeg's stdin (no image files), the audio is muxed, and the MP4
gets `+faststart`. NVENC (`h264_nvenc`/`hevc_nvenc`) is used when a one-frame probe encode works on this
machine, else libx264/libx265."""

from __future__ import annotations

import functools
import subprocess
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


class FrameWriter:
    """An ffmpeg process fed raw frames on stdin, muxing `audio` (optionally only its first `seconds`)."""

    def __init__(self, out: str, width: int, height: int, fps: int, audio: str, encoder: Encoder,
                 seconds: float | None = None, ffmpeg: str = "ffmpeg"):
        audio_input = ["-t", f"{seconds:.3f}"] if seconds else []
        cmd = [
            ffmpeg, "-v", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
            *audio_input, "-i", audio,
            "-map", "0:v:0", "-map", "1:a:0",
            *encoder.args, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "192k", "-ar", "48000",
            "-shortest", "-movflags", "+faststart", out,
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frame_bytes = width * height * 3

    def write(self, rgb) -> None:
        data = rgb.tobytes()
        if len(data) != self.frame_bytes:
            raise ValueError(f"frame is {len(data)} bytes, expected {self.frame_bytes}")
        self.proc.stdin.write(data)

    def close(self) -> None:
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace")
        if self.proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed: {err[-2000:]}")

    def abort(self) -> None:
        self.proc.kill()
        self.proc.wait()

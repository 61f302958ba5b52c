"""`make bench-render`: per format and device, side by side in one run — the kernel's frames per second
(render + on-device YUV conversion + copy to the host), the encoder's alone (the same YUV frames, pre-
rendered), end to end, the realtime factor, the pipeline efficiency (end to end ÷ the slower of kernel
and encoder), and the fan-out speed-up of K = 1, 2, 4 chunk processes. Prints figures; it never fails on
speed. On the CPU the frames are drafts (`CPU_SCALE`), since a full 8K frame takes minutes there."""

from __future__ import annotations

import os
import tempfile
import time

from .. import rules
from ..service.contract import render_spec
from .analysis import analyse
from .chunks import encode_frames
from .encode import FrameWriter, PipelinedWriter, choose_encoder
from .formats import get_format
from .render import render
from .scene import FrameRenderer, Scene
from .tracks import pulses_and_hats, write_wav

CASES = ["flat-1080p-landscape", "flat-4k-landscape", "360-mono-8k", "360-stereo-8k"]
FPS = rules.DEFAULTS["fps"]
CPU_SCALE = 0.0625
# Enough frames that a row runs for seconds: an encoder's start and the final mux are not the figure.
CPU_FRAMES = {"flat-1080p-landscape": 96, "flat-4k-landscape": 32, "360-mono-8k": 16, "360-stereo-8k": 16}
FANOUT_SCALE, FANOUT_SECONDS = 0.15, 8.0


def measure(format_id: str, device: str, frames: int, scale: float, features) -> dict:
    settings = {"format": format_id, "fps": FPS, "seed": 1, "visual": {"mode": "flame"}, "options": {"scale": scale}}
    spec = render_spec(settings, "", "", device)
    fmt = get_format(spec.format_id)
    width, height = fmt.scaled(spec.scale)
    visual = spec.visual
    scene = Scene(visual, features, seed=spec.seed)
    renderer = FrameRenderer(fmt, width, height, visual, device)
    renderer.render_yuv(scene.frame(0))  # compile / warm up
    t = time.perf_counter()
    pictures = [renderer.render_yuv(scene.frame(i)) for i in range(frames)]
    kernel_fps = frames / (time.perf_counter() - t)
    encoder = choose_encoder(fmt)
    with tempfile.TemporaryDirectory() as d:
        writer = FrameWriter(os.path.join(d, "enc.mp4"), width, height, FPS, encoder)
        t = time.perf_counter()
        for picture in pictures:
            writer.write(picture)
        writer.close()
        encode_fps = frames / (time.perf_counter() - t)
        # End to end is the loop every chunk runs: states built ahead, frames in flight through the ring,
        # the writer on its own thread (the audio is encoded beside it and joined after, not timed here).
        writer = PipelinedWriter(FrameWriter(os.path.join(d, "e2e.mp4"), width, height, FPS, encoder))
        t = time.perf_counter()
        encode_frames(renderer, scene, range(frames), writer, lambda done: None, lambda: False)
        e2e_fps = frames / (time.perf_counter() - t)
    return {"format": format_id, "size": f"{width}x{height}", "device": device, "frames": frames,
            "kernel": kernel_fps, "encode": encode_fps, "e2e": e2e_fps, "realtime": e2e_fps / FPS,
            "efficiency": e2e_fps / min(kernel_fps, encode_fps), "encoder": encoder.codec}


def fanout(audio: str, device: str) -> list[tuple[int, float]]:
    """Seconds for a draft render with K chunk processes, K = 1, 2, 4."""
    times = []
    with tempfile.TemporaryDirectory() as d:
        for k in (1, 2, 4):
            t = time.perf_counter()
            settings = {"format": "flat-1080p-landscape", "fps": FPS, "seed": 1,
                        "options": {"scale": FANOUT_SCALE, "previewSeconds": FANOUT_SECONDS}}
            render(render_spec(settings, audio, os.path.join(d, f"k{k}.mp4"), device, processes=k, encoders=1))
            times.append((k, time.perf_counter() - t))
    return times


def join_cost(chunk_seconds: float = 75.0, k: int = 8) -> tuple[float, float]:
    """The fan-out's fixed tail on this machine: joining K 1080p30 segments of `chunk_seconds` each (a
    10-minute render over 8 containers) with the audio, without re-encoding. The segments run at 6 Mbit/s,
    about our 1080p frames' 24 KB each. Returns (seconds, MB out)."""
    import subprocess

    from . import chunks

    with tempfile.TemporaryDirectory() as d:
        segment, audio = os.path.join(d, "seg.mp4"), os.path.join(d, "a.wav")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r={FPS}:d={chunk_seconds}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-pix_fmt", "yuv420p", segment],
                       check=True)
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f=220:d={chunk_seconds * k}", audio],
                       check=True)
        out = os.path.join(d, "joined.mp4")
        track = chunks.AudioEncode(audio, chunk_seconds * k, os.path.join(d, "a.m4a"))
        track.wait()  # encoded while the chunks render: not part of the tail
        t = time.perf_counter()
        chunks.join([segment] * k, track, out)
        return time.perf_counter() - t, os.path.getsize(out) / 1e6


X265_QUIET = ("-x265-params", "log-level=error")
CANDIDATES = {
    "libx264 fast crf21 (before)": ("-c:v", "libx264", "-preset", "fast", "-crf", "21"),
    "libx264 veryfast crf21": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "21"),
    "libx264 veryfast crf19 (shipped)": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "19"),
    "libx264 faster crf20": ("-c:v", "libx264", "-preset", "faster", "-crf", "20"),
    "libx265 fast crf21 (before)": ("-c:v", "libx265", "-preset", "fast", "-crf", "21", *X265_QUIET),
    "libx265 veryfast crf19 (shipped)": ("-c:v", "libx265", "-preset", "veryfast", "-crf", "19", *X265_QUIET),
    "libx265 ultrafast crf19": ("-c:v", "libx265", "-preset", "ultrafast", "-crf", "19", *X265_QUIET),
}


def compare_encoders(device: str, features, scale: float = 0.5, frames: int = 12) -> None:
    """Encoder settings side by side on the same frames of our content: fps, PSNR against the frames the
    encoder was given, and bytes per frame."""
    import subprocess

    spec = render_spec({"format": "flat-1080p-landscape", "fps": FPS, "seed": 1, "visual": {"mode": "flame"},
                        "options": {"scale": scale}}, "", "", device)
    fmt = get_format(spec.format_id)
    width, height = fmt.scaled(spec.scale)
    visual = spec.visual
    scene = Scene(visual, features, seed=spec.seed)
    renderer = FrameRenderer(fmt, width, height, visual, device)
    raw = b"".join(renderer.render_yuv(scene.frame(i * 7)) for i in range(frames))
    print(f"encoders on {frames} frames of {width}x{height} ({device}):")
    with tempfile.TemporaryDirectory() as d:
        source = os.path.join(d, "frames.yuv")
        with open(source, "wb") as f:
            f.write(raw)
        rawvideo = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(FPS)]
        for name, args in CANDIDATES.items():
            out = os.path.join(d, "c.mp4")
            t = time.perf_counter()
            subprocess.run(["ffmpeg", "-v", "error", "-y", *rawvideo, "-i", source, *args, out], check=True)
            fps = frames / (time.perf_counter() - t)
            psnr = subprocess.run(["ffmpeg", "-v", "info", "-nostats", "-i", out, *rawvideo, "-i", source,
                                   "-lavfi", "psnr", "-f", "null", "-"], capture_output=True, text=True).stderr
            average = psnr.rsplit("average:", 1)[1].split()[0]
            per_frame = os.path.getsize(out) / frames / 1024
            print(f"  {name:30} {fps:8.1f} fps  PSNR {average} dB  {per_frame:7.1f} KB/frame", flush=True)


def main() -> None:
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # no banner or cache notes in the log
    wp.init()
    devices = ["cpu"] + (["cuda"] if wp.is_cuda_available() else [])
    samples, _, _ = pulses_and_hats(seconds=10.0)
    print(f"cores: {os.cpu_count()}; CPU rows are drafts at scale {CPU_SCALE}")
    with tempfile.TemporaryDirectory() as d:
        audio = write_wav(os.path.join(d, "bench.wav"), samples)
        features = analyse(samples, FPS)
        print(f"{'format':22} {'size':>10} {'device':6} {'frames':>6} {'kernel fps':>10} {'encode fps':>10} "
              f"{'e2e fps':>8} {'x realtime':>10} {'efficiency':>10}  encoder")
        for device in devices:
            for case in CASES:
                scale, frames = (CPU_SCALE, CPU_FRAMES[case]) if device == "cpu" else (1.0, 90)
                m = measure(case, device, frames, scale, features)
                print(f"{m['format']:22} {m['size']:>10} {m['device']:6} {m['frames']:6d} {m['kernel']:10.2f} "
                      f"{m['encode']:10.2f} {m['e2e']:8.2f} {m['realtime']:10.3f} {m['efficiency']:10.2f}  "
                      f"{m['encoder']}", flush=True)
        for device in devices:
            times = fanout(audio, device)
            base = times[0][1]
            cells = "  ".join(f"K={k}: {s:6.1f} s ({base / s:4.2f}x)" for k, s in times)
            print(f"fan-out {device} ({FANOUT_SECONDS:.0f} s draft at scale {FANOUT_SCALE}): {cells}", flush=True)
        seconds, size = join_cost()
        print(f"join: 8 segments of 75 s 1080p30 (testsrc2 at 6 Mbit/s, {size:.0f} MB) + 10 min of AAC audio "
              f"encoded beforehand, no re-encode: {seconds:.1f} s", flush=True)
        for device in devices:
            compare_encoders(device, features)
        if "cuda" not in devices:
            print("no CUDA device here: GPU figures were not measured (see docs/PERFORMANCE.md)")


if __name__ == "__main__":
    main()

"""`make bench-render`: frames per second of the kernel alone and of kernel + encode, and the realtime
factor, for 1080p, 4K and 360-8K — on the CPU (a few frames) and on CUDA when a GPU is present. Prints
figures; it never fails on speed."""

from __future__ import annotations

import os
import tempfile
import time

from .analysis import analyse
from .encode import FrameWriter, choose_encoder
from .formats import get_format
from .presets import VisualConfig
from .scene import FrameRenderer, Scene
from .tests.tracks import pulses_and_hats, write_wav

CASES = ["flat-1080p-landscape", "flat-4k-landscape", "360-mono-8k"]
FPS = 30


def measure(format_id: str, device: str, frames: int, audio: str, features) -> dict:
    fmt = get_format(format_id)
    visual = VisualConfig(mode="flame")
    scene = Scene(visual, features, seed=1)
    FrameRenderer(fmt, 64, 64, visual, device).render(scene.frame(0))  # compile / warm up
    renderer = FrameRenderer(fmt, fmt.width, fmt.height, visual, device)
    t = time.perf_counter()
    for i in range(frames):
        renderer.render(scene.frame(i))
    kernel_fps = frames / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as d:
        writer = FrameWriter(os.path.join(d, "o.mp4"), fmt.width, fmt.height, FPS, audio, choose_encoder(fmt),
                             seconds=frames / FPS)
        t = time.perf_counter()
        for i in range(frames):
            writer.write(renderer.render(scene.frame(i)))
        writer.close()
        total_fps = frames / (time.perf_counter() - t)
        encoder = choose_encoder(fmt).codec
    return {"format": format_id, "device": device, "frames": frames, "kernel_fps": kernel_fps,
            "kernel_encode_fps": total_fps, "realtime": total_fps / FPS, "encoder": encoder}


def main() -> None:
    import warp as wp

    wp.init()
    devices = ["cpu"] + (["cuda"] if wp.is_cuda_available() else [])
    samples, _, _ = pulses_and_hats(seconds=10.0)
    with tempfile.TemporaryDirectory() as d:
        audio = write_wav(os.path.join(d, "bench.wav"), samples)
        features = analyse(samples, FPS)
        print(f"{'format':22} {'device':6} {'frames':>6} {'kernel fps':>11} {'kernel+enc fps':>15} {'x realtime':>11}  encoder")
        for device in devices:
            for case in CASES:
                frames = 1 if device == "cpu" else 90
                m = measure(case, device, frames, audio, features)
                print(f"{m['format']:22} {m['device']:6} {m['frames']:6d} {m['kernel_fps']:11.3f} "
                      f"{m['kernel_encode_fps']:15.3f} {m['realtime']:11.4f}  {m['encoder']}", flush=True)
        if "cuda" not in devices:
            print("no CUDA device here: GPU figures need a GPU machine (see docs/PERFORMANCE.md)")


if __name__ == "__main__":
    main()

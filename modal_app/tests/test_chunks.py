"""The pipelined frame path and chunked renders, on the CPU: frames converted to yuv420p on the device
match a reference conversion of the same RGB frame; a render split into chunks (parallel encoders fed
by one renderer, or chunk processes) has exactly the frames and duration of a single-process render,
with the same pictures at every seam; a 360 render joined from chunks keeps its spherical metadata; a
chunk that dies is rendered again alone; a cancel stops every chunk and leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
from itertools import pairwise

import numpy as np
import pytest

from modal_app.engine import chunks
from modal_app.engine.analysis import analyse
from modal_app.engine.formats import get_format
from modal_app.engine.presets import VisualConfig
from modal_app.engine.render import Cancelled, render
from modal_app.engine.scene import FrameRenderer, Scene
from modal_app.engine.spec import RenderSpec
from modal_app.engine.tracks import pulses_and_hats
from modal_app.tests.support import SMOOTH, H, W, frames_of, psnr, stream_facts


def test_plans_cover_every_frame_once():
    for frames, k in [(10, 3), (7, 7), (5, 8), (100, 4), (1, 2)]:
        ranges = chunks.plan(frames, k)
        assert ranges[0][0] == 0 and ranges[-1][1] == frames
        assert all(a[1] == b[0] for a, b in pairwise(ranges))
        sizes = [b - a for a, b in ranges]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_device_yuv_matches_a_reference_conversion_of_the_same_frame():
    samples, _, _ = pulses_and_hats(seconds=1.0)
    visual = VisualConfig(mode="flame")
    scene = Scene(visual, analyse(samples, 30), seed=3)
    renderer = FrameRenderer(get_format("flat-1080p-landscape"), 320, 180, visual, "cpu")
    state = scene.frame(12)
    rgb = renderer.render(state)
    ours = np.frombuffer(renderer.render_yuv(state), dtype=np.uint8)
    reference = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "320x180", "-i", "pipe:0",
         "-vf", "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int", "-pix_fmt", "yuv420p",
         "-f", "rawvideo", "pipe:1"],
        input=rgb.tobytes(), capture_output=True, check=True).stdout
    reference = np.frombuffer(reference, dtype=np.uint8)
    assert ours.size == reference.size == 320 * 180 * 3 // 2
    luma = 320 * 180
    assert psnr(ours[:luma], reference[:luma]) >= 45, "luma"
    assert psnr(ours[luma:], reference[luma:]) >= 45, "chroma"


@pytest.mark.parametrize("format_id", ["flat-1080p-landscape", "360-stereo-8k"])
def test_the_yuv_kernel_equals_the_rgb_kernel_then_conversion(format_id):
    """Renders shade straight into yuv420p; the RGB kernel and the conversion kernel are its reference."""
    import warp as wp

    from modal_app.engine import kernels

    samples, _, _ = pulses_and_hats(seconds=1.0)
    visual = VisualConfig(mode="flame")
    scene = Scene(visual, analyse(samples, 30), seed=3)
    renderer = FrameRenderer(get_format(format_id), 128, 96, visual, "cpu")
    state = scene.frame(17)
    fused = renderer.render_yuv(state)
    renderer.launch(state)
    planes = [wp.zeros((96, 128), dtype=wp.uint8, device="cpu"), wp.zeros((48, 64), dtype=wp.uint8, device="cpu"),
              wp.zeros((48, 64), dtype=wp.uint8, device="cpu")]
    wp.launch(kernels.rgb_to_yuv420, dim=(48, 64), inputs=[renderer.out, *planes], device="cpu")
    assert fused == b"".join(p.numpy().tobytes() for p in planes)


def test_pictures_in_flight_come_back_in_order_and_equal_one_at_a_time():
    from modal_app.engine import ring

    samples, _, _ = pulses_and_hats(seconds=1.0)
    visual = VisualConfig(mode="flame")
    scene = Scene(visual, analyse(samples, 30), seed=3)
    fmt = get_format("flat-1080p-landscape")
    one_at_a_time = [FrameRenderer(fmt, W, H, visual, "cpu").render_yuv(scene.frame(i)) for i in range(8)]
    renderer = FrameRenderer(fmt, W, H, visual, "cpu")
    streamed = list(ring.pictures(renderer, ((i, scene.frame(i)) for i in range(8))))
    assert [i for i, _ in streamed] == list(range(8))
    assert [p for _, p in streamed] == one_at_a_time
    assert len(set(one_at_a_time)) > 4, "the frames differ"
    slots = [renderer.submit_yuv(scene.frame(i)) for i in range(renderer.ring_depth)]
    with pytest.raises(RuntimeError, match="reused"):
        renderer.submit_yuv(scene.frame(0))  # every slot still unread
    assert renderer.read_yuv(slots[0]) == one_at_a_time[0]


def test_chunked_renders_equal_the_single_render_at_every_seam(track, tmp_path):
    outs = {}
    for name, kwargs in {"single": {"processes": 1, "encoders": 1}, "encoders": {"processes": 1, "encoders": 3},
                         "processes": {"processes": 2}}.items():
        out = str(tmp_path / f"{name}.mp4")
        seen = []
        render(RenderSpec(track, out, "flat-1080p-landscape", 30, SMOOTH, seed=5, device="cpu", scale=0.05,
                          quality="quality", **kwargs),
               progress=lambda done, total, seen=seen: seen.append((done, total)))
        assert seen[-1] == (90, 90) and all(a[0] <= b[0] for a, b in pairwise(seen)), f"{name}: progress"
        outs[name] = out
        assert not list(tmp_path.glob(f"{name}.mp4.part*")), "segments are removed"
    single = frames_of(outs["single"])
    facts = stream_facts(outs["single"])
    assert facts[0] == 90
    for name, ranges in {"encoders": chunks.plan(90, 3), "processes": chunks.plan(90, 2)}.items():
        frames_n, video_s, audio_s = stream_facts(outs[name])
        assert frames_n == facts[0], f"{name}: exactly the frames"
        assert abs(video_s - facts[1]) < 1e-3 and abs(audio_s - facts[2]) < 0.03, f"{name}: the same duration"
        frames = frames_of(outs[name])
        typical = np.median([psnr(f, g) for f, g in zip(frames, single, strict=True)])
        print(f"{name}: median PSNR against the single render {typical:.1f} dB")
        for start, _ in ranges[1:]:
            for index in (start - 1, start):  # the last frame of a chunk and the first of the next
                assert psnr(frames[index], single[index]) >= 40, f"{name}: seam frame {index}"


def test_a_cancel_stops_every_chunk_and_leaves_nothing(track, tmp_path):
    out = tmp_path / "cancelled.mp4"
    seen = []

    def stop():
        return len(seen) >= 1

    with pytest.raises(Cancelled):
        render(RenderSpec(track, str(out), "flat-1080p-landscape", 30, VisualConfig(), 0, "cpu", 0.05, processes=2),
               progress=lambda done, total: done and seen.append(done), should_stop=stop)
    assert not out.exists()
    assert not list(tmp_path.glob("cancelled.mp4*")), "no segment left"


@pytest.mark.parametrize("format_id, layout", [("360-mono-4k", None), ("360-stereo-8k", "top and bottom")])
def test_a_chunked_360_render_keeps_its_spherical_metadata(format_id, layout, track, tmp_path):
    out = str(tmp_path / "vr.mp4")
    render(RenderSpec(track, out, format_id, 30, SMOOTH, seed=2, device="cpu", scale=0.02, preview_seconds=2.0,
                      processes=2))
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", out],
        capture_output=True, check=True).stdout)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], int(video["nb_read_frames"])) == ("hevc", 60)
    side = {d["side_data_type"]: d for d in video.get("side_data_list", [])}
    assert side["Spherical Mapping"]["projection"] == "equirectangular", side
    if layout:
        assert side["Stereo 3D"]["type"] == layout, side


def test_a_chunk_that_dies_is_rendered_again_alone(track, tmp_path):
    import multiprocessing
    import os
    import signal

    killed = []

    def progress(done, total):
        # Once the chunks are under way, one of them dies (as an out-of-memory kill would end it).
        chunk = [p for p in multiprocessing.active_children() if p.name.startswith("SpawnProcess")]
        if done > 0 and not killed and chunk:
            os.kill(chunk[0].pid, signal.SIGKILL)
            killed.append(chunk[0].pid)
        seen.append(done)

    seen = []
    out = str(tmp_path / "retried.mp4")
    render(RenderSpec(track, out, "flat-1080p-landscape", 30, SMOOTH, seed=5, device="cpu", scale=0.05,
                      quality="quality", processes=2), progress=progress)
    assert killed, "a chunk process was killed"
    assert seen == sorted(seen) and seen[-1] == 90, "progress never went back"
    assert stream_facts(out)[0] == 90, "exactly the frames, the dead chunk's included"
    assert not list(tmp_path.glob("retried.mp4.*")), "no attempt file left"

"""Fan-out over containers (`service/modal_pool.py`), with stand-ins for Modal's objects that honour the
calls the pool makes: `spawn` starts a real process running the chunk container's body
(`run_chunk_here`), `get(timeout=0)` raises `TimeoutError` while it runs and the chunk's error if it
failed, `cancel(terminate_containers=True)` kills it; the progress dict is shared across processes; the
volume is a folder with `commit`, `reload` and `remove_file`.

A render through the pool has exactly the frames of a single render, with the same pictures at every
seam; progress is summed and never goes back; a chunk whose container fails is rendered again alone; a
cancel stops every chunk and removes the render's segments. Also: the settings and the container count."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil

import numpy as np
import pytest

from modal_app.engine import chunks, fanout
from modal_app.engine.analysis import analyse, decode_mono
from modal_app.engine.render import Cancelled, render
from modal_app.engine.spec import RenderSpec
from modal_app.service import modal_pool
from modal_app.service.modal_pool import ModalPool, containers_for, settings
from modal_app.tests.support import SMOOTH, frames_of, psnr, stream_facts


class FolderVolume:
    """A modal.Volume over a local folder (mounted at the same path in every 'container')."""

    def __init__(self, mount: str):
        self.mount = mount

    def commit(self) -> None:
        pass  # one filesystem: a write is visible at once

    def reload(self) -> None:
        pass

    def remove_file(self, path: str, recursive: bool = False) -> None:
        target = os.path.join(self.mount, path.lstrip("/"))
        if not os.path.exists(target):
            raise FileNotFoundError(path)
        shutil.rmtree(target) if recursive else os.remove(target)


def _container(job, key, progress, volume, results, fail, pretend):
    if fail:
        raise SystemExit("the container ran out of memory")
    codec = modal_pool.run_chunk_here(job, key, progress, volume)
    results[key] = pretend or codec  # `pretend`: as a container with NVENC would report


class ProcessCall:
    """A modal.FunctionCall whose input runs in a process of its own."""

    def __init__(self, ctx, job, key, progress, volume, results, fail, pretend=None):
        self.object_id = f"fc-{key}-{job.attempt}"
        self.key, self.results, self.job = key, results, job
        self.proc = ctx.Process(target=_container, args=(job, key, progress, volume, results, fail, pretend),
                                daemon=True)
        self.proc.start()
        self.cancelled = False

    def get(self, timeout=None):
        if self.proc.exitcode is None:
            raise TimeoutError()
        if self.proc.exitcode != 0:
            raise RuntimeError(f"the input failed (exit {self.proc.exitcode})")
        return self.results[self.key]

    def cancel(self, terminate_containers=False):
        self.cancelled = True
        if terminate_containers and self.proc.is_alive():
            self.proc.kill()
        self.proc.join()


class Modal:
    """The stand-ins for one test: `spawn` as `render_chunk.spawn`, the dict, the volume."""

    def __init__(self, mount: str, fail_first: set[int] = frozenset(), nvenc_first: set[int] = frozenset()):
        self.ctx = mp.get_context("spawn")
        self.manager = self.ctx.Manager()
        self.progress, self.results = self.manager.dict(), self.manager.dict()
        self.volume = FolderVolume(mount)
        self.fail_first, self.nvenc_first = set(fail_first), set(nvenc_first)
        self.spawned: list[ProcessCall] = []
        self.published: list[list[str]] = []

    def spawn(self, job, key):
        fail = job.index in self.fail_first and job.attempt == 0
        pretend = "h264_nvenc" if job.index in self.nvenc_first and job.attempt == 0 else None
        call = ProcessCall(self.ctx, job, key, self.progress, self.volume, self.results, fail, pretend)
        self.spawned.append(call)
        return call

    def pool(self, call_id: str, chunk_seconds: float) -> ModalPool:
        pool = ModalPool(call_id, 30, self.spawn, self.progress, self.volume, self.published.append,
                         max_containers=4, chunk_seconds=chunk_seconds, mount=self.volume.mount)
        pool.poll_seconds = 0.1
        return pool

    def close(self):
        for call in self.spawned:
            call.proc.kill() if call.proc.is_alive() else None
            call.proc.join()
        self.manager.shutdown()


@pytest.fixture
def modal(tmp_path):
    m = Modal(str(tmp_path / "volume"))
    yield m
    m.close()


def spec(track, out: str, **kw) -> RenderSpec:
    return RenderSpec(track, out, "flat-1080p-landscape", 30, SMOOTH, seed=5, device="cpu", scale=0.05,
                      quality="quality", **kw)


def test_a_render_fanned_out_over_containers_equals_the_single_render(track, modal, tmp_path):
    single = str(tmp_path / "single.mp4")
    render(spec(track, single, processes=1, encoders=1))
    out = str(tmp_path / "fanned.mp4")
    seen = []
    summary = render(spec(track, out), progress=lambda done, total: seen.append(done),
                     pool=modal.pool("fc-render", chunk_seconds=1.0))
    assert len(modal.spawned) == 3, "one container per second of video (3 s track), at most 4"
    assert modal.published[-1] == [c.object_id for c in modal.spawned], "the chunk calls are recorded"
    assert seen == sorted(seen) and seen[-1] == 90 and any(0 < d < 90 for d in seen), seen
    assert summary.encoder == "libx264"
    assert stream_facts(out)[0] == 90 and abs(stream_facts(out)[1] - stream_facts(single)[1]) < 1e-3
    frames, reference = frames_of(out), frames_of(single)
    for start, _ in chunks.plan(90, 3)[1:]:
        for index in (start - 1, start):
            assert psnr(frames[index], reference[index]) >= 40, f"seam frame {index}"
    assert not os.path.exists(os.path.join(modal.volume.mount, "fc-render")), "the segments are removed"
    assert not any(k.startswith("fc-render:") for k in modal.progress.keys()), "the counters are removed"


def test_a_failed_container_is_retried_alone(track, tmp_path):
    modal = Modal(str(tmp_path / "volume"), fail_first={1})
    try:
        out = str(tmp_path / "retried.mp4")
        render(spec(track, out), pool=modal.pool("fc-retry", chunk_seconds=1.0))
        attempts = sorted((c.object_id.split(":")[1]) for c in modal.spawned)
        assert attempts == ["0-0", "1-0", "1-1", "2-0"], "chunk 1 twice, the others once"
        assert stream_facts(out)[0] == 90
    finally:
        modal.close()


def test_a_container_with_another_encoder_is_rendered_again_with_the_software_one(track, tmp_path):
    modal = Modal(str(tmp_path / "volume"), nvenc_first={0})
    try:
        out = str(tmp_path / "mixed.mp4")
        summary = render(spec(track, out), pool=modal.pool("fc-mixed", chunk_seconds=1.0))
        redone = [c.job for c in modal.spawned if c.job.index == 0]
        assert [(j.attempt, j.codec) for j in redone] == [(0, None), (1, "libx264")]
        assert summary.encoder == "libx264" and stream_facts(out)[0] == 90
    finally:
        modal.close()


def test_stopping_from_outside_reaches_every_recorded_chunk_and_the_flag_stops_the_rest(modal, tmp_path):
    """A cancel reaching the web app (or a coordinator found dead): the coordinator and every chunk call
    recorded — read after the coordinator is stopped — are cancelled, the segments removed, and the stop
    flag is up for a chunk that no cancel reached."""
    cancelled, record = [], {"chunkCalls": ["fc-a"]}

    class Call:
        def __init__(self, call_id):
            self.call_id = call_id

        def cancel(self, terminate_containers=False):
            assert terminate_containers
            cancelled.append(self.call_id)
            if self.call_id == "fc-coordinator":
                record["chunkCalls"].append("fc-b")  # started just before the coordinator stopped

    folder = os.path.join(modal.volume.mount, "fc-coordinator")
    os.makedirs(folder)
    modal.progress[modal_pool.progress_key("fc-coordinator", 0)] = 12
    modal_pool.stop_everywhere("fc-coordinator", lambda _: record, Call, modal.progress, modal.volume)
    assert cancelled == ["fc-coordinator", "fc-a", "fc-b"]
    assert not os.path.exists(folder)
    assert modal.progress.get(modal_pool.stop_key("fc-coordinator")) is True
    assert modal_pool.progress_key("fc-coordinator", 0) not in modal.progress.keys()


def test_a_chunk_that_sees_the_stop_flag_commits_nothing(track, modal, tmp_path):
    features = analyse(decode_mono(track), 30)
    out = os.path.join(modal.volume.mount, "fc-flag", "part000.mp4")
    job = fanout.ChunkJob(0, 0, 30, out, "flat-1080p-landscape", 96, 54, 30, "quality", SMOOTH, features, 5, "cpu")
    modal.progress[modal_pool.stop_key("fc-flag")] = True
    with pytest.raises(chunks.ChunkCancelled):
        modal_pool.run_chunk_here(job, modal_pool.progress_key("fc-flag", 0), modal.progress, modal.volume)
    assert not os.path.exists(out)


def test_a_cancel_stops_every_container_and_removes_the_segments(track, modal, tmp_path):
    seen = []
    out = tmp_path / "cancelled.mp4"
    with pytest.raises(Cancelled):
        render(spec(track, str(out)), progress=lambda done, total: done and seen.append(done),
               should_stop=lambda: bool(seen), pool=modal.pool("fc-cancel", chunk_seconds=1.0))
    assert len(modal.spawned) == 3 and all(c.cancelled and not c.proc.is_alive() for c in modal.spawned)
    assert not out.exists()
    assert not os.path.exists(os.path.join(modal.volume.mount, "fc-cancel"))


def test_a_chunk_beside_a_gpu_splits_over_parallel_encoders(track, tmp_path, monkeypatch):
    """Where a chunk's encoder is software beside a GPU, the chunk feeds several encoders itself and
    concatenates them: the segment has exactly its frames, the same pictures as one encoder's."""
    features = analyse(decode_mono(track), 30)
    segments = {}
    for name, encoders in {"one": 1, "three": 3}.items():
        monkeypatch.setattr(chunks, "auto_encoders", lambda device, encoder, k=encoders: k)
        monkeypatch.setattr(chunks, "MIN_FRAMES_PER_PROCESS", 20)
        job = fanout.ChunkJob(0, 10, 90, str(tmp_path / f"{name}.mp4"), "flat-1080p-landscape", 96, 54, 30,
                              "quality", SMOOTH, features, 5, "cpu")
        done = []
        fanout.render_chunk(job, done.append, lambda: False)
        assert done[-1] == 80 and done == sorted(done)
        segments[name] = frames_of(job.out)
        assert not [p for p in os.listdir(tmp_path) if ".part" in p or ".a0" in p], "no part left"
    assert len(segments["three"]) == len(segments["one"]) == 80
    assert np.median([psnr(a, b) for a, b in zip(segments["three"], segments["one"], strict=True)]) >= 40


def test_settings_name_the_bad_variable_and_containers_follow_the_length():
    assert settings({}) == (8, 30.0)
    assert settings({"RENDER_MAX_CONTAINERS": "16", "RENDER_CHUNK_SECONDS": "20"}) == (16, 20.0)
    for env, name in [({"RENDER_MAX_CONTAINERS": "0"}, "RENDER_MAX_CONTAINERS"),
                      ({"RENDER_MAX_CONTAINERS": "lots"}, "RENDER_MAX_CONTAINERS"),
                      ({"RENDER_CHUNK_SECONDS": "1"}, "RENDER_CHUNK_SECONDS"),
                      ({"RENDER_CHUNK_SECONDS": "nan"}, "RENDER_CHUNK_SECONDS")]:
        with pytest.raises(ValueError, match=name):
            settings(env)
    assert containers_for(30 * 10, 30, 8, 30.0) == 1, "a 10 s render stays in one container"
    assert containers_for(30 * 61, 30, 8, 30.0) == 3
    assert containers_for(30 * 600, 30, 8, 30.0) == 8, "a 10 min render uses every container"

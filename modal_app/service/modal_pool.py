"""Fan-out on Modal: the chunks of one render spread over up to `RENDER_MAX_CONTAINERS` GPU containers.

The coordinator (`app.render_job`, a CPU container) fetches and analyses the audio, then drives the chunks
through the same `fanout.render_fanout` as the local emulator's processes, with this pool:

* each chunk is one call of `app.render_chunk` (its own GPU, its own encoder), which writes its segment
  to a shared `modal.Volume` under the render's folder and commits it;
* each chunk publishes its frame count in a `modal.Dict`, which the coordinator sums;
* the chunk calls' ids are written into the render's status record, so a cancel that ends the
  coordinator also cancels every chunk (`ModalBackend.cancel`);
* after the join, the render's folder is removed from the volume.

The Modal objects are passed in, so the pool is tested with stand-ins that honour the same calls.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable

from ..engine import chunks
from ..engine.fanout import ChunkFailed, ChunkJob, render_chunk

SEGMENTS_MOUNT = "/segments"
DEFAULT_MAX_CONTAINERS = 8
# Below this much video per container, a container's start-up costs more than its share of the frames.
DEFAULT_CHUNK_SECONDS = 30.0
PROGRESS_PUBLISH_SECONDS = 1.0


def settings(env) -> tuple[int, float]:
    """`RENDER_MAX_CONTAINERS` (1-64, default 8) and `RENDER_CHUNK_SECONDS` (at least 5, default 30): read
    when the app is deployed and when each container starts; a bad value stops both, naming the variable."""
    raw = env.get("RENDER_MAX_CONTAINERS") or str(DEFAULT_MAX_CONTAINERS)
    if not (raw.isdigit() and 1 <= int(raw) <= chunks.MAX_PARALLEL):
        raise ValueError(f"RENDER_MAX_CONTAINERS must be a whole number from 1 to {chunks.MAX_PARALLEL}, not {raw!r}")
    seconds = env.get("RENDER_CHUNK_SECONDS") or str(DEFAULT_CHUNK_SECONDS)
    try:
        chunk_seconds = float(seconds)
    except ValueError:
        chunk_seconds = -1.0
    if not 5.0 <= chunk_seconds <= 3600.0:
        raise ValueError(f"RENDER_CHUNK_SECONDS must be a number of seconds from 5 to 3600, not {seconds!r}")
    return int(raw), chunk_seconds


def progress_key(call_id: str, index: int) -> str:
    return f"{call_id}:{index}"


def stop_key(call_id: str) -> str:
    """Set when a render is stopped: a chunk that a cancel could not reach (started a moment after it was
    read, or orphaned by a coordinator that died) sees it within a second and ends without committing."""
    return f"{call_id}:stop"


def containers_for(frames: int, fps: int, max_containers: int, chunk_seconds: float) -> int:
    """How many containers a render of `frames` gets: one per `chunk_seconds` of video, at most
    `max_containers`, at least one."""
    return max(1, min(max_containers, math.ceil(frames / (fps * chunk_seconds))))


class ModalPool:
    poll_seconds = 1.0

    def __init__(self, call_id: str, fps: int, spawn_chunk: Callable, progress: dict, volume,
                 on_calls: Callable[[list[str]], None], max_containers: int = DEFAULT_MAX_CONTAINERS,
                 chunk_seconds: float = DEFAULT_CHUNK_SECONDS, mount: str = SEGMENTS_MOUNT):
        self.call_id, self.fps = call_id, fps
        self.spawn_chunk, self.progress, self.volume, self.on_calls = spawn_chunk, progress, volume, on_calls
        self.max_containers, self.chunk_seconds, self.mount = max_containers, chunk_seconds, mount
        self.calls: dict[int, object] = {}
        self.counts: dict[int, int] = {}
        self.stopped = False

    @property
    def folder(self) -> str:
        return os.path.join(self.mount, self.call_id)

    def size(self, frames: int) -> int:
        return containers_for(frames, self.fps, self.max_containers, self.chunk_seconds)

    def segment_paths(self, out: str, k: int) -> list[str]:
        return [os.path.join(self.folder, f"part{i:03d}.mp4") for i in range(k)]

    def start(self, job: ChunkJob) -> None:
        previous = self.calls.get(job.index)
        if previous is not None:
            _cancel(previous)  # a call that only looked failed (a lost poll) must not run on beside its retry
        self.progress[progress_key(self.call_id, job.index)] = 0
        self.counts[job.index] = 0
        self.calls[job.index] = self.spawn_chunk(job, progress_key(self.call_id, job.index))
        self.on_calls([call.object_id for call in self.calls.values()])

    def frames_done(self) -> int:
        for index in self.calls:
            self.counts[index] = int(self.progress.get(progress_key(self.call_id, index), 0) or 0)
        return sum(self.counts.values())

    def result(self, index: int) -> str | None:
        try:
            return self.calls[index].get(timeout=0)
        except TimeoutError:
            return None
        except Exception as e:  # noqa: BLE001 - whatever ended the call, its segment is not there
            raise ChunkFailed(f"{type(e).__name__}") from None

    def stop(self) -> None:
        self.stopped = True
        self.progress[stop_key(self.call_id)] = True
        for call in self.calls.values():
            _cancel(call)

    def collect(self) -> None:
        self.volume.reload()  # the chunks' commits become visible here

    def cleanup(self, jobs: list[ChunkJob]) -> None:
        remove_folder(self.volume, self.call_id, self.progress, len(jobs))
        if not self.stopped:
            self.progress.pop(stop_key(self.call_id), None)


def _cancel(call) -> None:
    try:
        call.cancel(terminate_containers=True)
    except Exception:  # noqa: BLE001 - already ended
        pass


def stop_everywhere(call_id: str, read_record: Callable[[str], dict | None], call_from_id: Callable, progress: dict,
                    volume) -> None:
    """Stops a render from outside its coordinator (a cancel, or a coordinator found dead): the stop flag,
    the coordinator, then every chunk call it recorded — read after the coordinator is stopped, so a
    chunk it started meanwhile is included — and the render's segments."""
    progress[stop_key(call_id)] = True
    _cancel(call_from_id(call_id))
    calls = (read_record(call_id) or {}).get("chunkCalls", [])
    for chunk_call in calls:
        _cancel(call_from_id(chunk_call))
    remove_folder(volume, call_id, progress, len(calls))


def remove_folder(volume, call_id: str, progress: dict, chunk_count: int) -> None:
    """Drops a render's segments from the volume and its counters from the dict (also after a cancel)."""
    try:
        volume.remove_file(f"/{call_id}", recursive=True)
    except Exception:  # noqa: BLE001 - nothing was written, or already removed
        pass
    for index in range(chunk_count):
        progress.pop(progress_key(call_id, index), None)


def run_chunk_here(job: ChunkJob, key: str, progress: dict, volume) -> str:
    """The body of `app.render_chunk`, in the chunk's container: renders the segment on local disk (the
    MP4 muxer seeks back as it finishes; a volume is written once, whole), publishing the frame count at
    most once a second, then copies it onto the volume and commits."""
    last, stop = [0.0, 0.0], stop_key(key.rsplit(":", 1)[0])

    def on_frame(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_PUBLISH_SECONDS or done == job.frames:
            last[0] = now
            progress[key] = done

    def should_stop() -> bool:
        now = time.monotonic()
        if now - last[1] < PROGRESS_PUBLISH_SECONDS:
            return False
        last[1] = now
        return bool(progress.get(stop, False))

    with tempfile.TemporaryDirectory(prefix="chunk-") as local:
        here = dataclasses.replace(job, out=os.path.join(local, os.path.basename(job.out)))
        codec = render_chunk(here, on_frame, should_stop)
        if progress.get(stop, False):
            raise chunks.ChunkCancelled()  # stopped while finishing: commit nothing
        os.makedirs(os.path.dirname(job.out), exist_ok=True)
        shutil.copyfile(here.out, job.attempt_path)
        os.replace(job.attempt_path, job.out)
    volume.commit()
    return codec

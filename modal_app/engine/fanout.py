"""Fan-out: a render's frames split into K contiguous chunks, each rendered and encoded on its own —
by a process on this machine (`ProcessPool`: the CLI, the benchmark and the local emulator) or by a GPU
container on Modal (`service.modal_pool.ModalPool`) — through one driver, `render_fanout`:

* progress is the sum of the chunks' frame counts, and never goes back;
* a cancel stops every chunk;
* a chunk that fails is rendered again alone, into a file of its own (once), the others going on;
* every chunk must come back from the same encoder, or the join (stream copy) could not be trusted:
  where they differ, the odd ones are rendered again with the software encoder.

Frames are pure functions of their index, so a chunk renders exactly the frames a single render would.
"""

from __future__ import annotations

import dataclasses
import glob
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from . import chunks
from .encode import FrameWriter, PipelinedWriter, choose_encoder

FAILED_CHUNK_RETRIES = 1


class ChunkFailed(Exception):
    """One chunk's attempt ended without its segment."""


@dataclass
class ChunkJob:
    """What one chunk needs (picklable: it crosses a process or container boundary). The encoder is chosen
    where the chunk runs — that machine's GPU decides whether NVENC is there."""

    index: int
    start: int
    end: int
    out: str
    format_id: str
    width: int
    height: int
    fps: int
    quality: str
    visual: object
    features: object
    seed: int
    device: str
    attempt: int = 0
    # Parallel encoders fed by this chunk's renderer; None: as suit the machine (`chunks.auto_encoders`).
    encoders: int | None = None
    # The encoder this chunk must use (the software one, after chunks came back from different encoders);
    # None: the best this machine has.
    codec: str | None = None

    @property
    def attempt_path(self) -> str:
        """Each attempt writes its own file (a killed attempt's encoder may still be finishing its own),
        renamed to the segment's path once complete."""
        return f"{self.out}.a{self.attempt}.mp4"

    @property
    def frames(self) -> int:
        return self.end - self.start


def render_chunk(job: ChunkJob, on_frame: Callable[[int], None], should_stop: Callable[[], bool]) -> str:
    """Renders the chunk's frames into its segment (video only, starting on a keyframe at time 0), calling
    `on_frame(frames done)`; returns the encoder's name. Beside a GPU with a software encoder the chunk is
    itself split over parallel encoders (`chunks.render_round_robin`) and concatenated."""
    import warp as wp

    from .formats import get_format
    from .scene import FrameRenderer, Scene

    wp.config.log_level = wp.LOG_WARNING  # no banner or cache notes in the log
    fmt = get_format(job.format_id)
    encoder = choose_encoder(fmt, job.quality)
    if job.codec and encoder.codec != job.codec:
        # The other chunks used another encoder: software is there on every machine, NVENC is not.
        encoder = choose_encoder(fmt, job.quality, allow_nvenc=False)
        if encoder.codec != job.codec:
            raise RuntimeError(f"this machine cannot encode with {job.codec}")
    scene = Scene(job.visual, job.features, job.seed)
    renderer = FrameRenderer(fmt, job.width, job.height, job.visual, job.device)
    encoders = job.encoders or min(chunks.auto_encoders(job.device, encoder),
                                   max(1, job.frames // chunks.MIN_FRAMES_PER_PROCESS))
    if encoders > 1:
        ranges = [(job.start + a, job.start + b) for a, b in chunks.plan(job.frames, encoders)]
        parts = chunks.render_round_robin(renderer, scene, ranges, job.attempt_path, job.width, job.height, job.fps,
                                          encoder, on_frame, should_stop)
        try:
            chunks.concat(parts, job.attempt_path)
        finally:
            chunks.remove(parts)
    else:
        writer = PipelinedWriter(FrameWriter(job.attempt_path, job.width, job.height, job.fps, encoder))
        chunks.encode_frames(renderer, scene, range(job.start, job.end), writer, on_frame, should_stop)
    os.replace(job.attempt_path, job.out)
    return encoder.codec


class ChunkPool(Protocol):
    """Where chunks run. `start` (re)starts one chunk; `result` is None while it runs, the encoder's name
    once its segment is done, and raises `ChunkFailed` if the attempt ended without it."""

    poll_seconds: float

    def size(self, frames: int) -> int: ...

    def segment_paths(self, out: str, k: int) -> list[str]: ...

    def start(self, job: ChunkJob) -> None: ...

    def frames_done(self) -> int: ...

    def result(self, index: int) -> str | None: ...

    def stop(self) -> None: ...

    def collect(self) -> None: ...

    def cleanup(self, jobs: list[ChunkJob]) -> None: ...


def render_fanout(jobs: list[ChunkJob], pool: ChunkPool, progress: Callable[[int], None],
                  should_stop: Callable[[], bool]) -> tuple[list[str], str]:
    """Runs every chunk at once in `pool`; returns the segment files in order (readable here) and the
    encoder they share. On any failure or cancel every chunk is stopped and its files removed."""
    reported = 0  # progress never goes back, even while a failed chunk is rendered again
    retries = [FAILED_CHUNK_RETRIES] * len(jobs)
    finished: dict[int, str] = {}  # chunk → the encoder its segment came from

    def again(index: int, why: str, codec: str | None = None) -> None:
        if retries[index] == 0:
            raise RuntimeError(f"chunk {index} failed twice: {why}")
        retries[index] -= 1
        jobs[index] = dataclasses.replace(jobs[index], attempt=jobs[index].attempt + 1, codec=codec)
        pool.start(jobs[index])

    try:
        for job in jobs:
            pool.start(job)
        running = set(range(len(jobs)))
        while running:
            time.sleep(pool.poll_seconds)
            done = pool.frames_done()
            if done > reported:
                reported = done
                progress(reported)
            if should_stop():
                raise chunks.ChunkCancelled()
            for index in sorted(running):
                try:
                    codec = pool.result(index)
                except ChunkFailed as e:
                    again(index, str(e), jobs[index].codec)
                    continue
                if codec is not None:
                    running.discard(index)
                    finished[index] = codec
            if not running:
                # A stream copy joins only one encoder's segments. Where a container lacked NVENC, the
                # others' chunks are rendered again with the software encoder every machine has.
                software, odd = _odd_ones(finished)
                for index in odd:
                    again(index, f"encoded with {finished.pop(index)}, not {software}", software)
                    running.add(index)
        pool.collect()
        total = sum(job.frames for job in jobs)
        if total > reported:
            progress(total)
        return [job.out for job in jobs], finished[0]
    except BaseException:
        pool.stop()
        pool.cleanup(jobs)
        raise


def _odd_ones(finished: dict[int, str]) -> tuple[str | None, list[int]]:
    codecs = set(finished.values())
    if len(codecs) <= 1:
        return None, []
    software = min(codecs, key=lambda c: (c.endswith("_nvenc"), c))
    return software, [index for index, codec in finished.items() if codec != software]


class ProcessPool:
    """Chunks as processes on this machine: one per core on the CPU by default (each Warp CPU launch runs
    on one thread). Frame counts live in a shared array, each slot written by its chunk's process alone,
    so no lock can be left held by a process that dies."""

    poll_seconds = 0.2

    def __init__(self, device: str, processes: int | None = None):
        self.device, self.processes = device, processes
        self.ctx = mp.get_context("spawn")
        self.stop_event = self.ctx.Event()
        self.counts = None
        self.codec: str | None = None
        self.procs: dict[int, mp.Process] = {}

    def size(self, frames: int) -> int:
        if self.processes is not None:
            return min(self.processes, chunks.MAX_PARALLEL)
        return chunks.auto_processes(frames, self.device)

    def segment_paths(self, out: str, k: int) -> list[str]:
        return chunks.segment_paths(out, k)

    def start(self, job: ChunkJob) -> None:
        if self.counts is None:
            from .formats import get_format

            self.counts = self.ctx.Array("i", chunks.MAX_PARALLEL, lock=False)
            # The chunks run on this machine: they choose what this process would.
            self.codec = choose_encoder(get_format(job.format_id), job.quality).codec
        self.counts[job.index] = 0
        proc = self.ctx.Process(target=_run_in_process, args=(job, self.counts, self.stop_event), daemon=True)
        proc.start()
        self.procs[job.index] = proc

    def frames_done(self) -> int:
        return sum(self.counts[i] for i in self.procs)

    def result(self, index: int) -> str | None:
        proc = self.procs[index]
        if proc.exitcode is None:
            return None
        if proc.exitcode != 0:
            raise ChunkFailed(f"exit {proc.exitcode}")
        return self.codec

    def stop(self) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + 3.0
        for proc in self.procs.values():
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()

    def collect(self) -> None:
        pass  # the segments are already on this machine

    def cleanup(self, jobs: list[ChunkJob]) -> None:
        remove_files(jobs)


def remove_files(jobs: list[ChunkJob]) -> None:
    """The chunks' segments and any attempt files left on this machine."""
    for job in jobs:
        chunks.remove([job.out, *glob.glob(glob.escape(job.out) + ".a*")])


def _run_in_process(job: ChunkJob, counts, stop) -> None:
    def on_frame(done: int) -> None:
        counts[job.index] = done

    render_chunk(job, on_frame, stop.is_set)

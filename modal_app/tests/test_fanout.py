"""The fan-out path through the local emulator (the render service's HTTP contract): with
`RENDER_PROCESSES=2` a render is split over two chunk processes, joined and uploaded, with progress
summed across the chunks; a cancel stops every chunk process and nothing is uploaded."""

from __future__ import annotations

import os
import tempfile
import time

import httpx
import pytest

from modal_app.engine.tracks import pulses_and_hats, write_mp3
from modal_app.tests.receiver import Receiver
from modal_app.tests.support import (
    SECRET,
    auth,
    job,
    render_pids,
    start_service,
    submit_until_frames_render,
    wait_status,
)


@pytest.fixture(scope="module")
def service():
    yield from start_service(RENDER_PROCESSES="2")


@pytest.fixture
def edge():
    samples, _, _ = pulses_and_hats(seconds=6.0)
    with tempfile.TemporaryDirectory() as d:
        with open(write_mp3(os.path.join(d, "t.mp3"), samples), "rb") as f:
            audio = f.read()
    r = Receiver(audio, SECRET)
    yield r
    r.close()


def group_members(pgid: int) -> list[int]:
    members = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(pid))
            except (OSError, IndexError, ValueError):
                pass
    return members


def test_a_fanned_out_render_joins_and_uploads_with_summed_progress(service, edge):
    body = job(edge, options={"scale": 0.05, "previewSeconds": 5.0})
    call_id = httpx.post(f"{service}/submit", json=body, headers=auth()).json()["callId"]
    status = wait_status(service, call_id, {"complete", "failed"})
    assert status["status"] == "complete", status
    assert edge.single[4:8] == b"ftyp" and len(edge.single) == status["result"]["sizeBytes"]
    assert abs(status["result"]["durationSec"] - 5.0) < 0.05
    frames = [e["data"]["framesDone"] for e in edge.events
              if e["type"] == "render.progress" and "framesDone" in e["data"]]
    assert frames == sorted(frames) and frames[-1] == 150, frames
    assert any(0 < f < 150 for f in frames), "progress while the chunks render"


def test_a_cancel_stops_every_chunk_process(service, edge):
    call_id = submit_until_frames_render(service, edge, {"scale": 0.1, "previewSeconds": 6.0})
    runner = render_pids(call_id)[0]
    pgid = os.getpgid(runner)
    assert len(group_members(pgid)) >= 3, "the runner and its two chunk processes"
    r = httpx.post(f"{service}/cancel", json={"callId": call_id}, headers=auth())
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    started = time.monotonic()
    while group_members(pgid):
        assert time.monotonic() - started < 3.0, "chunk processes still alive after cancel"
        time.sleep(0.05)
    time.sleep(1.0)
    assert "render.completed" not in edge.types() and edge.single is None

"""The render service contract, against the real local emulator process (`python -m modal_app.service.local`)."""

import time
from itertools import pairwise

import httpx
import pytest

from modal_app.engine.tracks import pulses_and_hats, write_mp3
from modal_app.tests.receiver import Receiver
from modal_app.tests.support import (
    SECRET,
    TOKEN,
    auth,
    job,
    render_pids,
    start_service,
    submit_until_frames_render,
    wait_status,
)


@pytest.fixture(scope="module")
def service():
    yield from start_service()


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    samples, _, _ = pulses_and_hats(seconds=20.0)
    path = write_mp3(str(tmp_path_factory.mktemp("a") / "t.mp3"), samples)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def edge(audio):
    r = Receiver(audio, SECRET)
    yield r
    r.close()


def test_no_or_wrong_token_is_401(service, edge):
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": TOKEN}):
        assert httpx.post(f"{service}/submit", json=job(edge), headers=headers).status_code == 401
        assert httpx.get(f"{service}/status", params={"callId": "x"}, headers=headers).status_code == 401
        r = httpx.post(f"{service}/cancel", json={"callId": "x"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"format": "flat-720p"}, "format"),
        ({"fps": 24}, "fps"),
        ({"visual": {"mode": "disco"}}, "visual.mode"),
        ({"visual": {"skyboxPreset": "nebula"}}, "visual.skyboxPreset"),
        ({"options": {"scale": 2}}, "options.scale"),
        ({"webhook": None}, "webhook"),
        ({"audio": {"url": "ftp://x"}}, "audio.url"),
        ({"output": {"key": "k", "upload": {"type": "carrier-pigeon"}}}, "output.upload"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_fields_are_422_naming_the_field(service, edge, change, field):
    body = job(edge, **change)
    if change.get("webhook", 1) is None:
        del body["webhook"]
    r = httpx.post(f"{service}/submit", json=body, headers=auth())
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["field"] == field, err
    assert field in err["message"]


def test_submit_renders_uploads_and_sends_signed_webhooks(service, edge):
    edge.fail_first_hooks = 2  # the sender must retry through two 503s
    r = httpx.post(f"{service}/submit", json=job(edge), headers=auth())
    assert r.status_code == 202
    call_id = r.json()["callId"]
    status = wait_status(service, call_id, {"complete", "failed"})
    assert status["status"] == "complete", status
    result = status["result"]
    assert edge.single is not None and len(edge.single) == result["sizeBytes"]
    assert edge.single[4:8] == b"ftyp"
    deadline = time.monotonic() + 10
    while "render.completed" not in edge.types() and time.monotonic() < deadline:
        time.sleep(0.05)
    types = edge.types()
    assert edge.bad_signatures == 0
    assert types[0] == "render.progress"
    assert types.count("render.completed") == 1 and "render.failed" not in types
    assert types.index("render.completed") == len(types) - 1
    progress = [e["data"]["progress"] for e in edge.events if e["type"] == "render.progress"]
    assert progress == sorted(progress) and max(progress) == 1.0
    assert all(b - a <= 0.1 + 1e-9 for a, b in pairwise(progress)), progress
    done = edge.events[-1]
    assert done["token"] == "per-job-token" and done["jobId"] == "job_test" and done["callId"] == call_id
    for key in ("key", "sizeBytes", "width", "height", "fps", "durationSec", "videoCodec", "audioCodec",
                "renderSeconds", "device", "projection"):
        assert key in done["data"], key
    assert (done["data"]["width"], done["data"]["height"], done["data"]["videoCodec"]) == (96, 54, "h264")
    assert abs(done["data"]["durationSec"] - 1.0) < 0.05
    assert done["data"]["projection"] == "perspective"
    # The audio analysis: the 1 s preview holds two of the track's 120 BPM pulses (0.25 s and 0.75 s).
    assert done["data"]["analysis"]["beats"] == 2
    assert abs(done["data"]["analysis"]["tempoBpm"] - 120) <= 3, done["data"]["analysis"]
    stages = [e["data"]["stage"] for e in edge.events if e["type"] == "render.progress"]
    assert stages.index("encoding") < stages.index("uploading"), stages


def test_multipart_upload_plan(service, edge):
    plan = {"type": "multipart", "partSize": 5 * 1024 * 1024, "completeUrl": f"{edge.url}/upload/complete",
            "parts": [{"partNumber": n, "url": f"{edge.url}/upload/part/{n}"} for n in (1, 2, 3)]}
    r = httpx.post(f"{service}/submit", json=job(edge, upload=plan), headers=auth())
    status = wait_status(service, r.json()["callId"], {"complete", "failed"})
    assert status["status"] == "complete", status
    assert edge.completed is not None and len(edge.completed) == status["result"]["sizeBytes"]
    assert edge.completed[4:8] == b"ftyp"


def test_cancel_stops_the_render_within_two_seconds_and_never_completes(service, edge):
    call_id = submit_until_frames_render(service, edge, {"scale": 0.1, "previewSeconds": 20.0})
    assert render_pids(call_id), "the render process is running"
    started = time.monotonic()
    r = httpx.post(f"{service}/cancel", json={"callId": call_id}, headers=auth())
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    while render_pids(call_id):
        assert time.monotonic() - started < 2.0, "render processes still alive 2 s after cancel"
        time.sleep(0.02)
    time.sleep(2.0)
    types = edge.types()
    assert "render.completed" not in types
    failed = [e for e in edge.events if e["type"] == "render.failed"]
    assert len(failed) == 1 and failed[0]["data"]["code"] == "cancelled"
    assert wait_status(service, call_id, {"cancelled"})["error"]["code"] == "cancelled"
    assert edge.single is None, "nothing was uploaded"


def test_unknown_call_ids(service):
    assert httpx.get(f"{service}/status", params={"callId": "lc-nope"}, headers=auth()).json()["status"] == "unknown"

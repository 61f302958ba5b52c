"""The render service logs JSON lines (`ts`, `level`, `msg`, and the worker's `job.id`, `call.id`, `stage`,
`attempt`), with no secret in any line: the web app, the local emulator's runner process, and `scrub`."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time

import httpx
import pytest

from modal_app import logs
from modal_app.service import contract
from modal_app.service.local import LocalBackend
from modal_app.service.web import create_app
from modal_app.tests.receiver import Receiver
from modal_app.tests.support import SECRET, TOKEN, job

SIGNED = "https://edge.example/blobs/renders/job_1/video.mp4?exp=1700000000000&max=99&sig=AbC-_d"


def test_scrub_cuts_every_secret_and_keeps_the_rest():
    text = (f"PUT {SIGNED} failed; retry with sig=ZZZ&exp=1, token: per-job-token, \"token\":\"tok2\", "
            f"Authorization: Bearer t0ps3cret, secret {SECRET}, https://user:pw@host/x#frag, callId=lc-1")
    clean = logs.scrub(text)
    for secret in ("AbC-_d", "exp=1700", "ZZZ", "per-job-token", "tok2", "t0ps3cret", SECRET[6:], "pw@", "frag"):
        assert secret not in clean, (secret, clean)
    assert "https://edge.example/blobs/renders/job_1/video.mp4?[redacted]" in clean
    assert "https://[redacted]@host/x#[redacted]" in clean and "callId=lc-1" in clean


@pytest.fixture
def captured():
    stream = io.StringIO()
    logs.setup(stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h.formatter, logs.JsonFormatter)]:
        root.removeHandler(handler)


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_line_is_one_json_object_with_the_workers_field_names(captured):
    log = logging.getLogger("modal_app.test")
    log.info("fetching %s", SIGNED, extra=logs.fields(job_id="job_1", call_id="fc-1", stage="rendering", attempt=2))
    with logs.bound(job_id="job_2", call_id="fc-2"):
        try:
            raise RuntimeError(f"upload to {SIGNED} failed")
        except RuntimeError:
            log.exception("render failed")
    log.warning("plain")
    first, failed, plain = lines(captured.getvalue())
    assert set(first) >= {"ts", "level", "msg", "job.id", "call.id", "stage", "attempt"}
    assert (first["level"], first["job.id"], first["call.id"], first["stage"], first["attempt"]) == (
        "INFO", "job_1", "fc-1", "rendering", 2)
    assert first["ts"].endswith("Z") and "sig=" not in first["msg"]
    assert (failed["level"], failed["job.id"], failed["call.id"]) == ("ERROR", "job_2", "fc-2")
    assert "RuntimeError" in failed["error"] and "sig=" not in failed["error"]
    assert plain["level"] == "WARN" and "job.id" not in plain, "bound fields end with their block"
    with pytest.raises(TypeError):
        logs.fields(jobId="x")


class Spawned:
    def spawn(self, req):
        return "fc-42"

    def status(self, call_id):
        return {}

    def cancel(self, call_id):
        return {}


def test_the_web_app_logs_a_submit_with_job_call_and_attempt(captured):
    edge = type("Edge", (), {"url": "https://edge.example"})()
    body = job(edge, attempt=3, output={"key": "k", "upload": {"type": "put", "url": SIGNED}})

    async def submit():
        transport = httpx.ASGITransport(app=create_app(Spawned(), TOKEN))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.post("/submit", json=body, headers={"authorization": f"Bearer {TOKEN}"})

    assert asyncio.run(submit()).status_code == 202
    submitted = [line for line in lines(captured.getvalue()) if line.get("call.id") == "fc-42"]
    assert submitted and submitted[0]["job.id"] == "job_test" and submitted[0]["attempt"] == 3
    assert "sig=" not in captured.getvalue() and TOKEN not in captured.getvalue()


def test_the_runner_process_logs_json_lines_through_every_stage(tmp_path):
    """The local emulator's runner: every line of its log is JSON, with the job, the call and the attempt,
    its stages in order, and none of the signed URLs it was given."""
    from modal_app.engine.tracks import pulses_and_hats, write_wav

    samples, _, _ = pulses_and_hats(seconds=1.0)
    with open(write_wav(str(tmp_path / "a.wav"), samples), "rb") as f:
        edge = Receiver(f.read(), SECRET)
    try:
        backend = LocalBackend(SECRET, str(tmp_path / "svc"))
        signed = {"type": "put", "url": f"{edge.url}/upload/single?exp=1&sig=s3cr3t"}
        req = contract.parse_request(job(edge, upload=signed, attempt=2,
                                         options={"scale": 0.05, "previewSeconds": 0.5}))
        call_id = backend.spawn(req)
        deadline = time.monotonic() + 120
        while backend.status(call_id)["status"] not in ("complete", "failed"):
            assert time.monotonic() < deadline, "the render never ended"
            time.sleep(0.1)
        assert backend.status(call_id)["status"] == "complete", backend.status(call_id)
        backend.procs[call_id][0].wait(timeout=30)
        with open(os.path.join(backend.dir, f"{call_id}.log")) as f:
            text = f.read()
    finally:
        edge.close()
    records = lines(text)  # every line parses
    ours = [r for r in records if r["logger"].startswith("modal_app")]
    assert ours and all((r["job.id"], r["call.id"], r["attempt"]) == ("job_test", call_id, 2) for r in ours)
    stages = [r["stage"] for r in ours if "stage" in r]
    assert stages == ["starting", "rendering", "encoding", "uploading"], stages
    assert "s3cr3t" not in text and "sig=" not in text

"""The render service on Modal. `web` mounts the same FastAPI app as the local emulator with a backend
that spawns `render_job`: a CPU container that fetches and analyses the audio, fans the frames out over
up to `RENDER_MAX_CONTAINERS` calls of `render_chunk` (one per `RENDER_CHUNK_SECONDS` of video, each on
its own GPU — type from `RENDER_GPU`, default L4, which has NVENC), joins their segments from the
`ethereal-render-segments` volume, uploads the MP4 and sends the webhooks (`service/modal_pool.py`).
Secrets come by name: `ethereal-render` must hold MODAL_AUTH_TOKEN and WEBHOOK_SECRET. The image installs
`requirements.txt` (the runtime pins) and ships `contracts/render.json` where `rules.py` looks for it;
every function logs JSON lines (`logs.py`).

Deploy: `modal deploy modal_app/app.py` (RENDER_GPU, RENDER_MAX_CONTAINERS and RENDER_CHUNK_SECONDS are
read from the deploying shell and baked into the image).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

import modal

from modal_app import logs, rules
from modal_app.rules import call_state, failure, ships_with_source
from modal_app.service.modal_pool import SEGMENTS_MOUNT, settings

APP_NAME = "ethereal-flame-render"
GPU = os.environ.get("RENDER_GPU", "L4")
SECRET_NAME = os.environ.get("RENDER_SECRET_NAME", "ethereal-render")
RENDER_TIMEOUT_S = 24 * 60 * 60
MAX_CONTAINERS, CHUNK_SECONDS = settings(os.environ)
# The one pinned list of what the service needs to run (requirements-dev.txt adds the tests' tools).
RUNTIME_REQUIREMENTS = Path(__file__).with_name("requirements.txt")
# add_local_python_source puts the package at /root/modal_app, so rules.py finds the contract here.
REMOTE_ROOT = PurePosixPath("/root")
REMOTE_CONTRACT = REMOTE_ROOT / PurePosixPath(rules.CONTRACT_RELATIVE.as_posix())
log = logging.getLogger("modal_app.app")

app = modal.App(APP_NAME)
image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("ffmpeg")
    .pip_install_from_requirements(str(RUNTIME_REQUIREMENTS))
    .env({"NVIDIA_DRIVER_CAPABILITIES": "compute,utility,video", "RENDER_MAX_CONTAINERS": str(MAX_CONTAINERS),
          "RENDER_CHUNK_SECONDS": str(CHUNK_SECONDS)})
    # Python sources (not the tests), and the render contract they read (the one loaded here).
    .add_local_python_source("modal_app", ignore=lambda p: not ships_with_source(p))
    .add_local_file(rules.CONTRACT_PATH, str(REMOTE_CONTRACT))
)
secrets = [modal.Secret.from_name(SECRET_NAME, required_keys=["MODAL_AUTH_TOKEN", "WEBHOOK_SECRET"])]
status_store = modal.Dict.from_name("ethereal-render-status", create_if_missing=True)
chunk_progress = modal.Dict.from_name("ethereal-render-chunk-progress", create_if_missing=True)
segments = modal.Volume.from_name("ethereal-render-segments", create_if_missing=True)


class DictState:
    """`state.StateStore` over a modal.Dict: terminal records are never overwritten."""

    def __init__(self, store):
        self.store = store

    def read(self, call_id: str):
        return self.store.get(call_id)

    def write(self, call_id: str, record: dict) -> bool:
        from modal_app.service.state import merge_allowed

        current = self.store.get(call_id)
        if not merge_allowed(current):
            return False
        self.store[call_id] = {**(current or {}), **record}
        return True


@app.function(image=image, secrets=secrets, volumes={SEGMENTS_MOUNT: segments}, timeout=RENDER_TIMEOUT_S)
def render_job(job: dict) -> dict:
    """The coordinator: one render, its chunks on GPU containers."""
    from modal_app.service.contract import RenderRequest
    from modal_app.service.modal_pool import ModalPool
    from modal_app.service.runner import run_job

    logs.setup()
    call_id = modal.current_function_call_id()
    req = RenderRequest.model_validate(job)
    state = DictState(status_store)
    pool = ModalPool(call_id, req.fps, render_chunk.spawn, chunk_progress, segments,
                     lambda ids: state.write(call_id, {"chunkCalls": ids}), MAX_CONTAINERS, CHUNK_SECONDS)
    return run_job(req, call_id, state, os.environ["WEBHOOK_SECRET"], "cuda", pool=pool)


@app.function(gpu=GPU, image=image, volumes={SEGMENTS_MOUNT: segments}, timeout=RENDER_TIMEOUT_S)
def render_chunk(job, key: str) -> str:
    """One chunk of a render: its frames into a segment on the volume; returns the encoder used."""
    from modal_app.service.modal_pool import run_chunk_here

    logs.setup()
    return run_chunk_here(job, key, chunk_progress, segments)


class ModalBackend:
    def __init__(self):
        self.state = DictState(status_store)

    def spawn(self, req) -> str:
        call = render_job.spawn(req.model_dump(by_alias=True))
        self.state.write(call.object_id, {"status": call_state("pending"), "progress": 0.0,
                                          "job": req.model_dump(by_alias=True)})
        return call.object_id

    def status(self, call_id: str) -> dict:
        from modal_app.service.state import TERMINAL
        from modal_app.service.web import status_view

        record = self.state.read(call_id)
        if record and record.get("status") not in TERMINAL:
            try:
                modal.FunctionCall.from_id(call_id).get(timeout=0)
            except TimeoutError:
                pass  # still running
            except Exception as e:  # noqa: BLE001 - the call died without writing its ending
                self.state.write(call_id, {"status": call_state("failed"),
                                           "error": {"code": failure("render_crashed"), "message": str(e)[:300]}})
                job = record.get("job") or {}
                log.warning("the render call died: %s", e,
                            extra=logs.fields(job_id=job.get("jobId"), call_id=call_id, attempt=job.get("attempt")))
                self.stop_chunks(call_id)  # its chunks would otherwise run on, and its segments stay
                record = self.state.read(call_id)
        return status_view(record)

    def stop_chunks(self, call_id: str) -> None:
        from modal_app.service.modal_pool import stop_everywhere

        stop_everywhere(call_id, self.state.read, modal.FunctionCall.from_id, chunk_progress, segments)

    def cancel(self, call_id: str) -> dict:
        from modal_app.service.contract import RenderRequest
        from modal_app.service.runner import end_cancelled
        from modal_app.service.state import TERMINAL
        from modal_app.service.web import status_view

        record = self.state.read(call_id)
        if record is None or record.get("status") in TERMINAL:
            return {"callId": call_id, **status_view(record)}
        self.stop_chunks(call_id)
        req = RenderRequest.model_validate(record["job"])
        end_cancelled(self.state, req, call_id, os.environ["WEBHOOK_SECRET"]).close(timeout=60)
        return {"callId": call_id, **status_view(self.state.read(call_id))}


@app.function(image=image, secrets=secrets)
@modal.asgi_app()
def web():
    from modal_app.service.web import create_app

    logs.setup()
    return create_app(ModalBackend(), os.environ["MODAL_AUTH_TOKEN"])

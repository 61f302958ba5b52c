"""The local emulator of the Modal render service: the same web app, with each render in its own
process group on this machine's CPU (`python -m modal_app.service.local --port PORT`, reading
`MODAL_AUTH_TOKEN` and `WEBHOOK_SECRET` from the environment)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from .. import logs
from ..rules import call_state, failure
from .contract import RenderRequest
from .runner import end_cancelled
from .state import TERMINAL, FileState
from .web import create_app, status_view

log = logging.getLogger(__name__)
CANCEL_GRACE = 1.0
PENDING, FAILED = call_state("pending"), call_state("failed")


class LocalBackend:
    def __init__(self, secret: str, state_dir: str | None = None, device: str = "cpu"):
        if not secret.startswith("whsec_"):
            raise ValueError("WEBHOOK_SECRET must be a whsec_… value")
        self.secret = secret
        self.device = device
        self.dir = state_dir or tempfile.mkdtemp(prefix="render-local-")
        self.state = FileState(os.path.join(self.dir, "state"))
        self.procs: dict[str, tuple[subprocess.Popen, RenderRequest]] = {}
        self.lock = threading.Lock()

    def spawn(self, req: RenderRequest) -> str:
        call_id = f"lc-{uuid.uuid4().hex}"
        job_path = os.path.join(self.dir, f"{call_id}.job.json")
        with open(job_path, "w") as f:
            f.write(req.model_dump_json(by_alias=True))
        self.state.write(call_id, {"status": PENDING, "progress": 0.0})
        env = {**os.environ, "WEBHOOK_SECRET": self.secret, "RENDER_DEVICE": self.device}
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        # The runner's JSON log lines go to its own file beside the state (and not into this process's).
        with open(os.path.join(self.dir, f"{call_id}.log"), "w") as runner_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "modal_app.service.runner", job_path, self.state.directory, call_id],
                env=env, stdout=runner_log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        with self.lock:
            self.procs[call_id] = (proc, req)
        return call_id

    def status(self, call_id: str) -> dict:
        record = self.state.read(call_id)
        with self.lock:
            entry = self.procs.get(call_id)
        if record and record.get("status") not in TERMINAL and entry and entry[0].poll() not in (None, 0):
            self.state.write(call_id, {"status": FAILED, "error": {"code": failure("render_crashed"),
                                                                   "message": "the render process died"}})
            log.warning("the render process died (exit %s)", entry[0].returncode,
                        extra=logs.fields(job_id=entry[1].job_id, call_id=call_id, attempt=entry[1].attempt))
            record = self.state.read(call_id)
        return status_view(record)

    def cancel(self, call_id: str) -> dict:
        with self.lock:
            entry = self.procs.get(call_id)
        if entry is None:
            return status_view(self.state.read(call_id))
        proc, req = entry
        if proc.poll() is None:
            _kill_group(proc)
        sender = end_cancelled(self.state, req, call_id, self.secret)
        threading.Thread(target=sender.close, daemon=True).start()
        return {"callId": call_id, **status_view(self.state.read(call_id))}


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the render's whole process group (the renderer and its ffmpeg), SIGKILL after a grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + CANCEL_GRACE
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    ap = argparse.ArgumentParser(prog="python -m modal_app.service.local")
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args(argv)
    missing = [k for k in ("MODAL_AUTH_TOKEN", "WEBHOOK_SECRET") if not os.environ.get(k)]
    if missing:
        print(f"modal_app.service.local: set {', '.join(missing)}", file=sys.stderr)
        return 2
    logs.setup()
    backend = LocalBackend(os.environ["WEBHOOK_SECRET"])
    log.info("render service emulator on http://%s:%d, state in %s", a.host, a.port, backend.dir)
    # log_config=None: uvicorn's lines go through the JSON handler too.
    uvicorn.run(create_app(backend, os.environ["MODAL_AUTH_TOKEN"]), host=a.host, port=a.port, log_level="info",
                log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

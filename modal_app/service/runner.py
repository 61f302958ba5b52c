"""One render job, start to finish: fetch the audio, render with throttled progress webhooks, upload the
MP4 through the signed plan, and end with exactly one `render.completed` or `render.failed`.

Also runnable as the local emulator's job process: `python -m modal_app.service.runner JOB.json STATE_DIR CALL_ID`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time

from .. import logs
from ..engine.fanout import ChunkPool
from ..engine.formats import get_format
from ..engine.render import Cancelled, render
from ..rules import call_state, failure, stage
from .contract import RenderRequest, render_spec
from .state import FileState, StateStore
from .transfer import TransferError, download, upload
from .webhooks import Target, WebhookSender

log = logging.getLogger("modal_app.service.runner")  # also when run as __main__
PROGRESS_EVERY = 0.10
PROGRESS_MAX_SECONDS = 15.0
RUNNING, COMPLETE = call_state("running"), call_state("complete")
FAILED, CANCELLED = call_state("failed"), call_state("cancelled")
STARTING, RENDERING, ENCODING, UPLOADING = stage("starting"), stage("rendering"), stage("encoding"), stage("uploading")


class ProgressReporter:
    """Sends `render.progress` at least every 10 % or 15 s (whichever comes first)."""

    def __init__(self, sender: WebhookSender, state: StateStore, call_id: str):
        self.sender, self.state, self.call_id = sender, state, call_id
        self.last_fraction, self.last_time = 0.0, time.monotonic()
        self.stage: str | None = None

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total
        now = time.monotonic()
        # Send now if waiting one more frame would let the gap since the last report pass 10 %.
        overshoot = fraction + 1 / total - self.last_fraction > PROGRESS_EVERY + 1e-9
        if done == 0 or overshoot or now - self.last_time >= PROGRESS_MAX_SECONDS or done == total:
            self.last_fraction, self.last_time = fraction, now
            self.state.write(self.call_id, {"status": RUNNING, "progress": round(fraction, 4)})
            # After the last frame the encoder still flushes and muxes: that is the encoding stage.
            now_stage = ENCODING if done == total else RENDERING
            if now_stage != self.stage:
                self.stage = now_stage
                log.info("%s: frame %d of %d", now_stage, done, total, extra=logs.fields(stage=now_stage))
            self.sender.send("render.progress", {"progress": round(fraction, 4), "stage": now_stage,
                                                 "framesDone": done, "framesTotal": total})


def probe(path: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         check=True, capture_output=True).stdout
    return json.loads(out)


def run_job(req: RenderRequest, call_id: str, state: StateStore, secret: str, device: str | None = None,
            pool: ChunkPool | None = None) -> dict:
    """`pool`: where the chunks run (Modal's GPU containers); by default processes on this machine."""
    with logs.bound(job_id=req.job_id, call_id=call_id, attempt=req.attempt):
        return _run_job(req, call_id, state, secret, device, pool)


def _run_job(req: RenderRequest, call_id: str, state: StateStore, secret: str, device: str | None,
             pool: ChunkPool | None) -> dict:
    sender = WebhookSender(secret, Target(req.webhook.url, req.webhook.token, req.job_id, call_id, req.attempt))
    state.write(call_id, {"status": RUNNING, "progress": 0.0, "pid": os.getpid()})
    log.info("render started: %s at %s fps", req.format, req.fps, extra=logs.fields(stage=STARTING))
    sender.send("render.progress", {"progress": 0.0, "stage": STARTING})
    try:
        with tempfile.TemporaryDirectory(prefix=f"render-{req.job_id}-") as work:
            audio = os.path.join(work, "audio")
            download(req.audio.url, audio)
            out = os.path.join(work, "video.mp4")
            spec = render_spec(req, audio, out, device, processes=chunk_processes())
            summary = render(spec, progress=ProgressReporter(sender, state, call_id), pool=pool)
            log.info("upload started", extra=logs.fields(stage=UPLOADING))
            sender.send("render.progress", {"progress": 1.0, "stage": UPLOADING})
            upload(out, req.output.upload)
            info = probe(out)
            video = next(s for s in info["streams"] if s["codec_type"] == "video")
            audio_stream = next(s for s in info["streams"] if s["codec_type"] == "audio")
            result = {
                "key": req.output.key, "sizeBytes": os.path.getsize(out), "width": video["width"],
                "height": video["height"], "fps": req.fps, "durationSec": round(float(info["format"]["duration"]), 3),
                "videoCodec": video["codec_name"], "audioCodec": audio_stream["codec_name"],
                "renderSeconds": round(summary.render_seconds, 3), "device": summary.device, "encoder": summary.encoder,
                "projection": get_format(req.format).projection,
                "analysis": {"tempoBpm": round(summary.tempo_bpm, 2), "beats": summary.beats},
            }
        if state.write(call_id, {"status": COMPLETE, "progress": 1.0, "result": result}):
            log.info("render complete: %s bytes, %s", result["sizeBytes"], summary.line())
            sender.send("render.completed", result)
        return result
    except BaseException as e:  # noqa: BLE001 - every ending must produce exactly one final event
        code, message = classify(e)
        end_failed(state, sender, call_id, code, message)
        if not isinstance(e, Exception):
            raise
        return {"error": {"code": code, "message": message}}
    finally:
        sender.close(timeout=600)


def chunk_processes() -> int | None:
    """`RENDER_PROCESSES`: chunk processes per render (default: `chunks.auto_processes`). A bad value is the
    operator's mistake, not the client's: it is logged and the default used."""
    value = os.environ.get("RENDER_PROCESSES")
    if not value:
        return None
    if value.isdigit() and 1 <= int(value) <= 64:
        return int(value)
    log.warning("RENDER_PROCESSES=%r is not 1-64; choosing for the machine", value)
    return None


def end_failed(state: StateStore, sender: WebhookSender, call_id: str, code: str, message: str) -> None:
    """Records a failed (or cancelled) ending and sends `render.failed` — unless the render already ended."""
    status = CANCELLED if code == failure("cancelled") else FAILED
    if state.write(call_id, {"status": status, "error": {"code": code, "message": message}}):
        log.warning("render %s: %s: %s", status, code, message, extra=sender.target.log_fields())
        sender.send("render.failed", {"code": code, "message": message})


def end_cancelled(state: StateStore, req: RenderRequest, call_id: str, secret: str) -> WebhookSender:
    """For a backend that has just stopped a render: the cancelled ending, as the job itself would write it.
    Returns the sender so the caller decides how long to wait for delivery."""
    sender = WebhookSender(secret, Target(req.webhook.url, req.webhook.token, req.job_id, call_id, req.attempt))
    end_failed(state, sender, call_id, *classify(Cancelled()))
    return sender


def classify(e: BaseException) -> tuple[str, str]:
    if isinstance(e, Cancelled):
        return failure("cancelled"), "the render was cancelled"
    if isinstance(e, TransferError):
        return e.code, str(e)
    if isinstance(e, ValueError):
        return failure("invalid_request"), str(e)
    if isinstance(e, subprocess.CalledProcessError):
        return failure("audio_unreadable"), "the audio could not be decoded"
    log.exception("render failed")
    return failure("render_failed"), "the render failed; see the renderer's log"


def main() -> int:
    logs.setup(capture_output=True)
    job_path, state_dir, call_id = sys.argv[1:4]
    with open(job_path) as f:
        req = RenderRequest.model_validate(json.load(f))
    run_job(req, call_id, FileState(state_dir), os.environ["WEBHOOK_SECRET"], os.environ.get("RENDER_DEVICE"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

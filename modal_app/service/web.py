"""The render service's HTTP surface — one app for both worlds. `create_app(backend)` gets a backend
that spawns, inspects and cancels renders: `LocalBackend` (subprocesses on this machine) or
`ModalBackend` (`render.spawn` on a GPU in Modal)."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .. import logs
from ..rules import call_state, failure
from .contract import InvalidRequest, RenderRequest, parse_request

log = logging.getLogger(__name__)
INVALID = failure("invalid_request")
PENDING, UNKNOWN = call_state("pending"), call_state("unknown")


class Backend(Protocol):
    def spawn(self, req: RenderRequest) -> str: ...

    def status(self, call_id: str) -> dict: ...

    def cancel(self, call_id: str) -> dict: ...


def error(status: int, code: str, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def create_app(backend: Backend, auth_token: str) -> FastAPI:
    if not auth_token:
        raise ValueError("MODAL_AUTH_TOKEN must be set")
    app = FastAPI(title="Ethereal Flame render service", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path != "/health":
            header = request.headers.get("authorization", "")
            given = header[7:] if header.startswith("Bearer ") else ""
            if not hmac.compare_digest(given.encode(), auth_token.encode()):
                return error(401, "unauthorized", "send Authorization: Bearer <MODAL_AUTH_TOKEN>")
        return await call_next(request)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/submit", status_code=202)
    async def submit(request: Request):
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(422, INVALID, "the body is not JSON", field="body")
        try:
            req = parse_request(body)
        except InvalidRequest as e:
            log.info("submit refused: %s: %s", e.field, e.message)
            return error(422, INVALID, f"{e.field}: {e.message}", field=e.field)
        call_id = backend.spawn(req)
        log.info("submitted %s", req.format, extra=logs.fields(job_id=req.job_id, call_id=call_id, attempt=req.attempt))
        return JSONResponse({"callId": call_id}, status_code=202)

    @app.get("/status")
    def status(callId: str = ""):  # noqa: N803 - the contract's name
        if not callId:
            return error(422, INVALID, "callId is required", field="callId")
        return backend.status(callId)

    @app.post("/cancel")
    async def cancel(request: Request):
        try:
            call_id = json.loads(await request.body()).get("callId")
        except (ValueError, AttributeError):
            call_id = None
        if not isinstance(call_id, str) or not call_id:
            return error(422, INVALID, "callId is required", field="callId")
        log.info("cancel asked", extra=logs.fields(call_id=call_id))
        return backend.cancel(call_id)

    return app


def status_view(record: dict | None) -> dict:
    """The `/status` answer for a stored record."""
    if record is None:
        return {"status": UNKNOWN, "progress": 0.0}
    view = {"status": record.get("status", PENDING), "progress": record.get("progress", 0.0)}
    for key in ("result", "error"):
        if key in record:
            view[key] = record[key]
    return view

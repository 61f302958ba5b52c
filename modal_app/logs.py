"""The render service's log: one JSON object per line on stderr — `ts`, `level`, `msg`, and the worker's
field names `job.id`, `call.id`, `stage`, `attempt` where known — in the Modal app, the local emulator
and the runner process alike (`setup` once per process). No secret reaches a line: the query string of
every URL (signed URLs carry `sig=` there), `sig=`/`token=`-style pairs, bearer tokens and `whsec_`
secrets are cut from the message and every field, as studio-core's `redact::scrub` does for the worker.

    log.info("submitted", extra=logs.fields(job_id=req.job_id, call_id=call_id, attempt=req.attempt))
    with logs.bound(job_id=…, call_id=…):  # every line of this process meanwhile (the runner: one job)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time

# Python's names → the worker's (tracing's) field names.
FIELDS = {"job_id": "job.id", "call_id": "call.id", "stage": "stage", "attempt": "attempt"}
LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}
REDACTED = "[redacted]"
_bound: dict = {}

_URL = re.compile(r"(?i)\bhttps?://[^\s\"'<>`()\[\]{},]*")
_PAIR = re.compile(r"(?i)(?<![a-z0-9])(sig|signature|token|access_token|auth_token|api_key|apikey|secret|password)"
                   r"(\"?\s*[=:]\s*\"?)[^\s\"'&,;}]+")
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"',;}]+")
_PREFIXED = re.compile(r"\b(whsec_|efs_live_)[A-Za-z0-9+/=_\-.]+")


def _clean_url(match: re.Match) -> str:
    url = match.group(0)
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    head, tail = (url, "") if cut < 0 else (url[:cut], url[cut] + REDACTED)
    scheme_end = head.index("://") + 3
    slash = head.find("/", scheme_end)
    authority_end = len(head) if slash < 0 else slash
    at = head.rfind("@", scheme_end, authority_end)
    if at >= 0:
        head = head[:scheme_end] + REDACTED + head[at:]
    return head + tail


def scrub(text: str) -> str:
    """`text` without what must never reach a log line."""
    text = _URL.sub(_clean_url, text)
    text = _PAIR.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    return _PREFIXED.sub(lambda m: m.group(1) + REDACTED, text)


def fields(**values) -> dict:
    """`extra=` for one line: `job_id`, `call_id`, `stage`, `attempt` under the worker's names (unknown
    ones are refused, `None`s left out)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log fields {sorted(unknown)}; one of {sorted(FIELDS)}")
    return {FIELDS[k]: v for k, v in values.items() if v is not None}


@contextlib.contextmanager
def bound(**values):
    """Adds the fields to every line of this process (every thread) until the block ends."""
    previous = dict(_bound)
    _bound.update(fields(**values))
    try:
        yield
    finally:
        _bound.clear()
        _bound.update(previous)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": LEVELS.get(record.levelname, record.levelname),
            "msg": scrub(record.getMessage()),
            "logger": record.name,
            **_bound,
        }
        for name in FIELDS.values():
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps({k: scrub(v) if isinstance(v, str) else v for k, v in line.items()}, ensure_ascii=False,
                          default=lambda v: scrub(str(v)))


def setup(level: int = logging.INFO, stream=None, capture_output: bool = False) -> None:
    """Every log line of this process (ours, uvicorn's, httpx's) as JSON on `stream` (stderr by default).
    Idempotent: a second call replaces the handler. `capture_output` (the runner process): what bypasses
    logging — a native library's fprintf, a child process's stderr — becomes log lines too."""
    if capture_output and stream is None:
        stream = _capture_output()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def _capture_output():
    """Points this process's fds 1 and 2 (inherited by its children) at a pipe whose lines a thread logs as
    `stray` lines; returns a stream on the real stderr for the JSON handler."""
    sys.stdout.flush()
    sys.stderr.flush()
    real = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    stray = logging.getLogger("stray")

    def pump() -> None:
        with os.fdopen(read_fd, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.strip():
                    stray.warning("%s", line.rstrip("\n"))

    thread = threading.Thread(target=pump, name="stray-output", daemon=True)
    thread.start()

    def drain() -> None:  # at exit: let the last lines through (children may still hold the pipe)
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        thread.join(timeout=1.0)

    atexit.register(drain)
    return real

"""Signed callbacks per Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64>`
over `id.timestamp.body`, signed with `WEBHOOK_SECRET` (`whsec_…`). A single sender thread keeps events in
order; each is retried with backoff on 5xx, 429 or no answer."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from .. import logs

log = logging.getLogger(__name__)

# Final events: the Standard Webhooks schedule, compressed (seconds between tries); progress: two quick retries.
FINAL_DELAYS = (1, 5, 30, 120, 600, 1800)
PROGRESS_DELAYS = (0.5, 2)


def _delays(env: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = os.environ.get(env)
    return tuple(float(x) for x in raw.split(",")) if raw else default


@dataclass
class Target:
    url: str
    token: str
    job_id: str
    call_id: str
    attempt: int | None = None

    def log_fields(self) -> dict:
        return logs.fields(job_id=self.job_id, call_id=self.call_id, attempt=self.attempt)


class WebhookSender:
    def __init__(self, secret: str, target: Target):
        self.signer = Webhook(secret)
        self.target = target
        self.client = httpx.Client(timeout=15.0)
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def body(self, event_type: str, data: dict) -> bytes:
        return json.dumps(
            {"type": event_type, "timestamp": int(time.time()), "jobId": self.target.job_id,
             "callId": self.target.call_id, "token": self.target.token, "data": data},
            separators=(",", ":"),
        ).encode()

    def send(self, event_type: str, data: dict) -> None:
        """Queues an event; progress events are best-effort, final ones are retried for long."""
        final = not event_type.endswith(".progress")
        self.queue.put((self.body(event_type, data), final))

    def close(self, timeout: float | None = None) -> None:
        """Waits until every queued event was delivered or given up."""
        self.queue.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            body, final = item
            self._deliver(body, _delays("WEBHOOK_RETRY_DELAYS", FINAL_DELAYS) if final else PROGRESS_DELAYS)

    def _deliver(self, body: bytes, delays: tuple[float, ...]) -> bool:
        msg_id = f"msg_{uuid.uuid4().hex}"
        for try_index in range(len(delays) + 1):
            now = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(now),
                "webhook-signature": self.signer.sign(msg_id, datetime.fromtimestamp(now, tz=UTC), body.decode()),
            }
            try:
                r = self.client.post(self.target.url, content=body, headers=headers)
                if r.status_code < 300:
                    return True
                if 400 <= r.status_code < 500 and r.status_code != 429:
                    log.warning("webhook refused with %s; not retrying", r.status_code, extra=self.target.log_fields())
                    return False
            except httpx.HTTPError as e:
                log.warning("webhook try %d failed: %s", try_index + 1, e, extra=self.target.log_fields())
            if try_index < len(delays):
                time.sleep(delays[try_index])
        log.error("webhook %s given up", msg_id, extra=self.target.log_fields())
        return False


"""A local stand-in for the edge during contract tests: serves the input audio, accepts single and
multipart uploads, and records webhooks after verifying their Standard Webhooks signatures. Routes match on
the path alone, so a URL may carry a signed URL's query."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class Receiver:
    def __init__(self, audio: bytes, secret: str):
        self.audio = audio
        self.verifier = Webhook(secret)
        self.single: bytes | None = None
        self.parts: dict[int, bytes] = {}
        self.completed: bytes | None = None
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.hook_attempts = 0
        self.fail_first_hooks = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            @property
            def route(self) -> str:
                return self.path.split("?", 1)[0]

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.route == "/audio":
                    return self._send(200, receiver.audio, {"content-type": "audio/mpeg"})
                self._send(404)

            def do_PUT(self):
                body = self._body()
                if self.route == "/upload/single":
                    receiver.single = body
                    return self._send(200)
                if self.route.startswith("/upload/part/"):
                    receiver.parts[int(self.route.rsplit("/", 1)[1])] = body
                    return self._send(200, headers={"etag": f'"{hashlib.md5(body).hexdigest()}"'})
                self._send(404)

            def do_POST(self):
                body = self._body()
                if self.route == "/upload/complete":
                    plan = json.loads(body)["parts"]
                    for p in plan:
                        data = receiver.parts[p["partNumber"]]
                        assert p["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
                    receiver.completed = b"".join(receiver.parts[p["partNumber"]] for p in plan)
                    return self._send(200)
                if self.route == "/hooks":
                    with receiver.lock:
                        receiver.hook_attempts += 1
                        if receiver.hook_attempts <= receiver.fail_first_hooks:
                            return self._send(503)
                    try:
                        event = receiver.verifier.verify(body, dict(self.headers.items()))
                    except Exception:  # noqa: BLE001
                        receiver.bad_signatures += 1
                        return self._send(400)
                    with receiver.lock:
                        receiver.events.append(event)
                    return self._send(204)
                self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events]

    def close(self):
        self.server.shutdown()

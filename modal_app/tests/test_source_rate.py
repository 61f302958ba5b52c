"""The render service's audio fetch keeps the contract's rate floor, as the worker's downloads do: a
slow-loris audio URL is given up with `source_too_slow`, an origin that keeps the rate completes."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modal_app.rules import CONTRACT, failure_codes, source_rate
from modal_app.service.source_rate import RateWatch, TooSlow
from modal_app.service.transfer import TransferError, download

FLOOR = {"minBytesPerSec": 65_536.0, "windowSec": 30.0, "graceSec": 10.0}


def _run(rate, seconds: float):
    """Feeds `rate(t)` bytes/s in 250-ms steps; the time of the first refusal, or None."""
    watch, total, t = RateWatch(FLOOR, 0.0), 0.0, 0.0
    while t < seconds:
        t += 0.25
        total += rate(t) * 0.25
        try:
            watch.observe(t, int(total))
        except TooSlow:
            return t
    return None


def test_the_floor_is_the_contracts_and_its_code_is_listed():
    assert source_rate() == {k: float(v) for k, v in CONTRACT["sourceRate"].items() if not k.startswith("_")}
    assert source_rate() == FLOOR
    assert "source_too_slow" in failure_codes()


def test_the_rule_matches_the_workers():
    # The same cases as studio-core/src/source_rate.rs.
    assert 10.0 <= _run(lambda t: 0.5, 120) <= 10.5
    assert _run(lambda t: 128 * 1024, 300) is None
    assert _run(lambda t: 66 * 1024, 300) is None
    assert _run(lambda t: 20 * 1024 if t < 5 else 128 * 1024, 120) is None
    cut = _run(lambda t: 200 * 1024 if t < 60 else 0, 200)
    assert 60 < cut < 90


class _Origin(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        self.send_response(200)
        self.send_header("content-length", "1000000" if self.path == "/loris" else str(64 * 1024))
        self.end_headers()
        try:
            if self.path == "/loris":
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            else:
                for _ in range(8):
                    self.wfile.write(b"y" * 8192)
                    self.wfile.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_slow_loris_audio_url_fails_as_too_slow_and_a_steady_one_completes(origin, tmp_path):
    # A short floor keeps the test quick; the rule is the one above.
    floor = {"minBytesPerSec": 16 * 1024.0, "windowSec": 2.0, "graceSec": 1.0}
    started = time.monotonic()
    with pytest.raises(TransferError) as refused:
        download(f"{origin}/loris", str(tmp_path / "a"), floor=floor)
    assert refused.value.code == "source_too_slow"
    assert time.monotonic() - started < 5
    assert download(f"{origin}/steady", str(tmp_path / "b"), floor=floor) == 64 * 1024


def test_a_transfer_error_never_carries_a_signed_url():
    e = TransferError("audio_unavailable", "could not fetch https://edge/blobs/k?exp=1&sig=SECRET: timed out")
    assert "SECRET" not in str(e) and "https://edge/blobs/k" in str(e)
    assert e.code == "audio_unavailable"

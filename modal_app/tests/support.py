"""Helpers shared by the tests (fixtures live in conftest.py): the local emulator started on a free port,
a submit body, waiting on `/status`, the processes of a render; and comparing rendered videos."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np

from modal_app.engine.presets import VisualConfig

TOKEN = "test-modal-token"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Videos compared frame by frame are this size.
W, H = 96, 54
# Orbs without the star field: a picture two encodes reproduce alike, so a seam shows as a difference.
SMOOTH = VisualConfig(mode="flame", background=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(**extra_env):
    """The local emulator on a free port; yields its URL and stops it afterwards."""
    port = free_port()
    env = {**os.environ, "MODAL_AUTH_TOKEN": TOKEN, "WEBHOOK_SECRET": SECRET, "WEBHOOK_RETRY_DELAYS": "0.2,0.4,0.8",
           "PYTHONPATH": ROOT, **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "modal_app.service.local", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait()


def job(edge, upload=None, **over):
    """A submit body whose audio, upload and webhooks go to `edge` (a `Receiver`)."""
    body = {
        "jobId": "job_test",
        "audio": {"url": f"{edge.url}/audio"},
        "output": {"key": "renders/job_test/video.mp4",
                   "upload": upload or {"type": "put", "url": f"{edge.url}/upload/single"}},
        "format": "flat-1080p-landscape",
        "fps": 30,
        "visual": {"mode": "flame", "skyboxPreset": "darkWorld1", "intensity": 1.7},
        "seed": 4,
        "options": {"scale": 0.05, "previewSeconds": 1.0},
        "webhook": {"url": f"{edge.url}/hooks", "token": "per-job-token"},
    }
    body.update(over)
    return body


def auth():
    return {"authorization": f"Bearer {TOKEN}"}


def wait_status(service, call_id, want, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = httpx.get(f"{service}/status", params={"callId": call_id}, headers=auth()).json()
        if s["status"] in want:
            return s
        time.sleep(0.1)
    raise AssertionError(f"status never reached {want}: {s}")


def render_pids(call_id):
    """The processes whose command line names the call (the runner)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if call_id.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def submit_until_frames_render(service, edge, options) -> str:
    """Submits a render and waits until the edge has heard of its first frames; returns the call id."""
    call_id = httpx.post(f"{service}/submit", json=job(edge, options=options), headers=auth()).json()["callId"]
    deadline = time.monotonic() + 60
    while not any(e["type"] == "render.progress" and e["data"].get("framesDone") for e in list(edge.events)):
        assert time.monotonic() < deadline, "the render never made progress"
        time.sleep(0.05)
    return call_id


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def frames_of(path: str) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, H, W, 3)


def stream_facts(path: str) -> tuple[int, float, float]:
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", path],
        capture_output=True, check=True).stdout)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    return int(video["nb_read_frames"]), float(video["duration"]), float(audio["duration"])


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         check=True, capture_output=True).stdout
    return json.loads(out)

"""Moving bytes through signed URLs: the input audio down (streamed to a file, capped), the rendered
MP4 up as one PUT or as a multipart plan (equal parts, then a completion call with the part ETags)."""

from __future__ import annotations

import os
import time

import httpx

from ..logs import scrub
from ..rules import failure, source_rate
from .source_rate import RateWatch, TooSlow

MAX_AUDIO_BYTES = 200 * 1024 * 1024


class TransferError(Exception):
    """A transfer's failure. Its message reaches the creator (`render.failed`), so a signed URL that an
    HTTP library puts in its error text is scrubbed here, once, as log lines are."""

    def __init__(self, code: str, message: str):
        super().__init__(scrub(message))
        self.code = failure(code)


def download(url: str, dest: str, limit: int = MAX_AUDIO_BYTES, floor: dict | None = None) -> int:
    """Streams the audio to `dest`, at most `limit` bytes, given up (`source_too_slow`) below the rate floor.
    The read timeout is the floor's grace, so a silent server is judged as soon as a slow one."""
    floor = floor or source_rate()
    written = 0
    timeout = httpx.Timeout(60.0, read=max(floor["graceSec"], 1.0))
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as r:
            if r.status_code != 200:
                raise TransferError("audio_unavailable", f"the audio URL answered HTTP {r.status_code}")
            watch = RateWatch(floor, time.monotonic())
            with open(dest, "wb") as f:
                for chunk in r.iter_bytes():  # as the bytes arrive (a chunk size would hold them back)
                    written += len(chunk)
                    if written > limit:
                        raise TransferError("audio_too_large", f"the audio is larger than {limit} bytes")
                    f.write(chunk)
                    watch.observe(time.monotonic(), written)
    except TooSlow as e:
        raise TransferError("source_too_slow", str(e)) from e
    except httpx.HTTPError as e:
        raise TransferError("audio_unavailable", f"could not fetch the audio: {e}") from e
    return written


def _file_slice(path: str, offset: int, length: int):
    with open(path, "rb") as f:
        f.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(1 << 20, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _put(client: httpx.Client, url: str, path: str, offset: int, length: int) -> httpx.Response:
    r = client.put(url, content=_file_slice(path, offset, length),
                   headers={"content-length": str(length), "content-type": "video/mp4"})
    if r.status_code >= 300:
        raise TransferError("upload_failed", f"the upload URL answered HTTP {r.status_code}")
    return r


def upload(path: str, plan) -> None:
    """`plan` is the request's `output.upload` (contract.PutUpload or contract.MultipartUpload)."""
    size = os.path.getsize(path)
    try:
        with httpx.Client(timeout=300.0) as client:
            if plan.type == "put":
                _put(client, plan.url, path, 0, size)
                return
            needed = max(1, -(-size // plan.part_size))
            parts = sorted(plan.parts, key=lambda p: p.part_number)
            if needed > len(parts):
                raise TransferError("output_too_large", f"the video needs {needed} parts; the plan has {len(parts)}")
            done = []
            for index, part in enumerate(parts[:needed]):
                offset = index * plan.part_size
                r = _put(client, part.url, path, offset, min(plan.part_size, size - offset))
                etag = r.headers.get("etag")
                if not etag:
                    raise TransferError("upload_failed", f"part {part.part_number} came back without an ETag")
                done.append({"partNumber": part.part_number, "etag": etag})
            r = client.post(plan.complete_url, json={"parts": done})
            if r.status_code >= 300:
                raise TransferError("upload_failed", f"completing the upload answered HTTP {r.status_code}")
    except httpx.HTTPError as e:
        raise TransferError("upload_failed", f"upload failed: {e}") from e

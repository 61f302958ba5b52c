"""The rate floor of a source download (`contracts/render.json` → `sourceRate`), as the worker applies it
(`studio-core/src/source_rate.rs`, the same rule): once `graceSec` have passed, the bytes of the last
`windowSec` (or of all the time so far, when shorter) must average `minBytesPerSec`. A slow-loris audio
URL is given up soon after the grace instead of holding a GPU container for the whole timeout."""

from __future__ import annotations

from collections import deque


class TooSlow(Exception):
    def __init__(self, bytes_per_sec: float, floor: dict):
        super().__init__(
            f"the audio arrived at {bytes_per_sec / 1024:.1f} KiB/s, under the "
            f"{floor['minBytesPerSec'] / 1024:.0f} KiB/s minimum"
        )
        self.bytes_per_sec = bytes_per_sec


class RateWatch:
    def __init__(self, floor: dict, start: float):
        self.floor, self.start = floor, start
        self.samples: deque[tuple[float, int]] = deque([(start, 0)])

    def observe(self, now: float, total_bytes: int) -> None:
        """Records `total_bytes` by `now` (seconds) and raises `TooSlow` below the floor."""
        self.samples.append((now, total_bytes))
        window = self.floor["windowSec"]
        while len(self.samples) > 2 and self.samples[1][0] <= now - window:
            self.samples.popleft()
        if now - self.start < self.floor["graceSec"] or now <= self.start:
            return
        then, then_bytes = self.samples[0]
        rate = (total_bytes - then_bytes) / max(now - then, 1e-3)
        if rate < self.floor["minBytesPerSec"]:
            raise TooSlow(rate, self.floor)

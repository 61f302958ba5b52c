"""One validated render: every setting `render()` takes, checked once against the shared rule file
(`render_rules.json`) when the spec is made — by the CLI, the service's contract and the benchmark alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..rules import RULES
from .chunks import MAX_PARALLEL
from .formats import FPS_CHOICES, get_format
from .presets import VisualConfig


@dataclass(frozen=True)
class RenderSpec:
    audio: str
    out: str
    format_id: str
    fps: int = 30
    visual: VisualConfig = field(default_factory=VisualConfig)
    seed: int = 0
    device: str | None = None
    scale: float = 1.0
    preview_seconds: float | None = None
    quality: str = "balanced"
    # Chunk processes (fan-out) and parallel encoders; `None`: chosen for the machine (see `chunks`).
    processes: int | None = None
    encoders: int | None = None

    def __post_init__(self) -> None:
        get_format(self.format_id)
        if self.fps not in FPS_CHOICES:
            raise ValueError(f"fps must be one of {FPS_CHOICES}")
        if not 0 < self.scale <= RULES["scale"]["max"]:
            raise ValueError("scale must be in (0, 1]")
        if self.preview_seconds is not None and not 0 < self.preview_seconds <= RULES["previewSeconds"]["max"]:
            raise ValueError(f"previewSeconds must be in (0, {RULES['previewSeconds']['max']}]")
        if self.quality not in RULES["qualities"]:
            raise ValueError(f"quality must be one of {', '.join(RULES['qualities'])}")
        if self.device not in (None, "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"unknown device {self.device!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError("seed must be an integer")
        for name in ("processes", "encoders"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 1 <= value <= MAX_PARALLEL):
                raise ValueError(f"{name} must be from 1 to {MAX_PARALLEL}")
        if not RULES["seed"]["min"] <= self.seed <= RULES["seed"]["max"]:
            raise ValueError("seed is out of range")

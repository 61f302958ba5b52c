"""One render: every setting `render()` takes, as a plain typed holder. It checks nothing itself: the CLI,
the service and the benchmark build it through `service.contract.render_spec`, the one validator of a
render's settings (`contracts/render.json`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import rules
from .presets import VisualConfig


@dataclass(frozen=True)
class RenderSpec:
    audio: str
    out: str
    format_id: str
    fps: int = rules.DEFAULTS["fps"]
    visual: VisualConfig = field(default_factory=VisualConfig)
    seed: int = rules.DEFAULTS["seed"]
    device: str | None = None
    scale: float = rules.DEFAULTS["scale"]
    preview_seconds: float | None = None
    quality: str = rules.DEFAULTS["quality"]
    # Chunk processes (fan-out) and parallel encoders; `None`: chosen for the machine (see `chunks`).
    processes: int | None = None
    encoders: int | None = None

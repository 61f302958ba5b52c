"""The output formats (`contracts/render.json` → `formats`) and what each means for projection and
encoding. A format added to the contract alone renders: its size and projection come from there."""

from __future__ import annotations

from dataclasses import dataclass

from .. import rules

FPS_CHOICES = rules.fps_choices()
# The one projection drawn as two eyes (top and bottom); the kernel has a ray for each projection id.
STEREO_PROJECTION = "equirect-stereo"


@dataclass(frozen=True)
class Format:
    id: str
    width: int
    height: int
    projection: str  # a `projections` id of the contract
    aspect: str
    label: str = ""

    @property
    def is_360(self) -> bool:
        return rules.projection(self.projection)["spherical"]

    @property
    def stereo(self) -> bool:
        return self.projection == STEREO_PROJECTION

    @property
    def prefers_hevc(self) -> bool:
        # As the seed: 4K and up, and every 360 format, encode to HEVC.
        return self.width * self.height > 1920 * 1080 * 1.5 or self.is_360

    def scaled(self, scale: float) -> tuple[int, int]:
        """Output size for a draft scale (validated with the request), kept encodable (even) and, for
        stereo, two equal square-ish eyes."""
        step = 4 if self.stereo else 2
        w = max(step * 8, int(round(self.width * scale / step)) * step)
        h = max(step * 8, int(round(self.height * scale / step)) * step)
        return w, h


FORMATS: dict[str, Format] = {
    f["id"]: Format(f["id"], f["width"], f["height"], f["projection"], f["aspect"], f["label"])
    for f in rules.CONTRACT["formats"]
}


def get_format(format_id: str) -> Format:
    try:
        return FORMATS[format_id]
    except KeyError:
        raise ValueError(f"unknown format {format_id!r}; one of {', '.join(FORMATS)}") from None

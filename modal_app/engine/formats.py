"""The nine output formats of the seed (§6.1) and what each means for projection and encoding."""

from __future__ import annotations

from dataclasses import dataclass

from ..rules import RULES

FPS_CHOICES = tuple(RULES["fps"])


@dataclass(frozen=True)
class Format:
    id: str
    width: int
    height: int
    projection: str  # "perspective" | "equirect" | "equirect-stereo"
    aspect: str

    @property
    def is_360(self) -> bool:
        return self.projection != "perspective"

    @property
    def stereo(self) -> bool:
        return self.projection == "equirect-stereo"

    @property
    def prefers_hevc(self) -> bool:
        # As the seed: 4K and up, and every 360 format, encode to HEVC.
        return self.width * self.height > 1920 * 1080 * 1.5 or self.is_360

    def scaled(self, scale: float) -> tuple[int, int]:
        """Output size for a draft scale, kept encodable (even) and, for stereo, two equal square-ish eyes."""
        if not 0 < scale <= 1:
            raise ValueError("scale must be in (0, 1]")
        step = 4 if self.stereo else 2
        w = max(step * 8, int(round(self.width * scale / step)) * step)
        h = max(step * 8, int(round(self.height * scale / step)) * step)
        return w, h


FORMATS: dict[str, Format] = {
    f["id"]: Format(f["id"], f["width"], f["height"], f["projection"], f["aspect"]) for f in RULES["formats"]
}


def get_format(format_id: str) -> Format:
    try:
        return FORMATS[format_id]
    except KeyError:
        raise ValueError(f"unknown format {format_id!r}; one of {', '.join(FORMATS)}") from None

"""The nine output formats of the seed (§6.1) and what each means for projection and encoding."""

from __future__ import annotations

from dataclasses import dataclass

FPS_CHOICES = (30, 60)


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
    f.id: f
    for f in [
        Format("flat-1080p-landscape", 1920, 1080, "perspective", "16:9"),
        Format("flat-1080p-portrait", 1080, 1920, "perspective", "9:16"),
        Format("flat-1080p-square", 1080, 1080, "perspective", "1:1"),
        Format("flat-4k-landscape", 3840, 2160, "perspective", "16:9"),
        Format("flat-4k-portrait", 2160, 3840, "perspective", "9:16"),
        Format("360-mono-4k", 4096, 2048, "equirect", "2:1"),
        Format("360-mono-6k", 6144, 3072, "equirect", "2:1"),
        Format("360-mono-8k", 8192, 4096, "equirect", "2:1"),
        Format("360-stereo-8k", 8192, 8192, "equirect-stereo", "1:1"),
    ]
}


def get_format(format_id: str) -> Format:
    try:
        return FORMATS[format_id]
    except KeyError:
        raise ValueError(f"unknown format {format_id!r}; one of {', '.join(FORMATS)}") from None

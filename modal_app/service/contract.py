"""The render request as `POST /submit` accepts it (docs/RENDER_CONTRACT.md), validated once here for
both worlds (Modal and the local emulator). Field names are camelCase on the wire."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..engine.formats import FORMATS, FPS_CHOICES
from ..engine.presets import MODES, NEBULA_PRESETS, VisualConfig
from ..rules import RULES, bounds


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=_camel, populate_by_name=True, extra="forbid")


def _one_of(name: str, choices):
    def check(cls, v):
        if v not in choices:
            raise ValueError(f"unknown {name} {v!r}; one of {', '.join(map(str, choices))}")
        return v

    return check


def _http_url(v: str) -> str:
    if not (v.startswith("https://") or v.startswith("http://")):
        raise ValueError("must be an http(s) URL")
    return v


class Audio(Model):
    url: str
    _check = field_validator("url")(_http_url)


class PutUpload(Model):
    type: Literal["put"]
    url: str
    _check = field_validator("url")(_http_url)


class Part(Model):
    part_number: int = Field(ge=1, le=10_000)
    url: str
    _check = field_validator("url")(_http_url)


class MultipartUpload(Model):
    type: Literal["multipart"]
    part_size: int = Field(ge=5 * 1024 * 1024)
    parts: list[Part] = Field(min_length=1, max_length=10_000)
    complete_url: str
    _check = field_validator("complete_url")(_http_url)


class Output(Model):
    key: str = Field(min_length=1, max_length=512)
    upload: Annotated[Union[PutUpload, MultipartUpload], Field(discriminator="type")]


def _range(name: str) -> dict:
    b = bounds(name)
    limits = {"le": b["max"]}
    limits["gt" if "minExclusive" in b else "ge"] = b.get("minExclusive", b.get("min"))
    return limits


def _known_dynamics(cls, v: dict[str, float]):
    low, high = RULES["dynamicsRange"]["min"], RULES["dynamicsRange"]["max"]
    for key, value in v.items():
        if key not in RULES["dynamics"]:
            raise ValueError(f"unknown dynamics setting {key!r}; one of {', '.join(RULES['dynamics'])}")
        if not low <= value <= high:
            raise ValueError(f"{key} must be between {low} and {high}")
    return v


class Visual(Model):
    mode: str = "flame"
    skybox_preset: str = "darkWorld1"
    intensity: float = Field(default=bounds("intensity")["default"], **_range("intensity"))
    skybox_reactivity: float = Field(default=bounds("skyboxReactivity")["default"], **_range("skyboxReactivity"))
    dynamics: dict[str, float] = Field(default_factory=dict)

    _mode = field_validator("mode")(classmethod(_one_of("mode", MODES)))
    _preset = field_validator("skybox_preset")(classmethod(_one_of("skyboxPreset", tuple(NEBULA_PRESETS))))
    _dynamics = field_validator("dynamics")(classmethod(_known_dynamics))

    def config(self) -> VisualConfig:
        return VisualConfig(self.mode, self.skybox_preset, self.intensity, self.skybox_reactivity, True, self.dynamics)


class Options(Model):
    scale: float = Field(default=bounds("scale")["default"], **_range("scale"))
    preview_seconds: float | None = Field(default=None, **_range("previewSeconds"))
    quality: Literal[tuple(RULES["qualities"])] = "balanced"  # type: ignore[valid-type]


class Webhook(Model):
    url: str
    token: str = Field(min_length=1, max_length=512)
    _check = field_validator("url")(_http_url)


class RenderRequest(Model):
    job_id: str = Field(min_length=1, max_length=128)
    audio: Audio
    output: Output
    format: str
    fps: int = 30
    visual: Visual = Field(default_factory=Visual)
    seed: int = Field(default=0, **_range("seed"))
    options: Options = Field(default_factory=Options)
    webhook: Webhook

    _format = field_validator("format")(classmethod(_one_of("format", tuple(FORMATS))))
    _fps = field_validator("fps")(classmethod(_one_of("fps", FPS_CHOICES)))


class InvalidRequest(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def parse_request(body: object) -> RenderRequest:
    """Validates a submit body; the first problem is reported with its dotted field path."""
    try:
        return RenderRequest.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("put", "multipart"))) or "body"
        message = err["msg"].removeprefix("Value error, ")
        raise InvalidRequest(field, message) from None

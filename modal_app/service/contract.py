"""The render request as `POST /submit` accepts it (docs/RENDER_CONTRACT.md), and the one validator of a
render's settings: every id, default and range comes from `contracts/render.json` (`rules.py`). The
service (both worlds), the CLI and the benchmark all build a `RenderSpec` through `render_spec`, so a
render is checked here once and nowhere else. Field names are camelCase on the wire."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import rules
from ..engine.chunks import MAX_PARALLEL
from ..engine.presets import VisualConfig
from ..engine.spec import RenderSpec

DEFAULTS = rules.DEFAULTS


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
    upload: Annotated[PutUpload | MultipartUpload, Field(discriminator="type")]


def _range(name: str) -> dict:
    b = rules.bounds(name)
    limits = {"le": b["max"]}
    limits["gt" if "minExclusive" in b else "ge"] = b.get("minExclusive", b.get("min"))
    return limits


def _known_dynamics(cls, v: dict[str, float]):
    low, high = rules.bounds("dynamicsRange")["min"], rules.bounds("dynamicsRange")["max"]
    for key, value in v.items():
        if key not in rules.dynamics_keys():
            raise ValueError(f"unknown dynamics setting {key!r}; one of {', '.join(rules.dynamics_keys())}")
        if not low <= value <= high:
            raise ValueError(f"{key} must be between {low} and {high}")
    return v


class Visual(Model):
    mode: str = DEFAULTS["mode"]
    skybox_preset: str = DEFAULTS["skyboxPreset"]
    intensity: float = Field(default=DEFAULTS["intensity"], **_range("intensity"))
    skybox_reactivity: float = Field(default=DEFAULTS["skyboxReactivity"], **_range("skyboxReactivity"))
    dynamics: dict[str, float] = Field(default_factory=dict)

    _mode = field_validator("mode")(classmethod(_one_of("mode", rules.ids("modes"))))
    _preset = field_validator("skybox_preset")(classmethod(_one_of("skyboxPreset", rules.ids("skyboxPresets"))))
    _dynamics = field_validator("dynamics")(classmethod(_known_dynamics))

    def config(self) -> VisualConfig:
        return VisualConfig(self.mode, self.skybox_preset, self.intensity, self.skybox_reactivity, True, self.dynamics)


class Options(Model):
    scale: float = Field(default=DEFAULTS["scale"], **_range("scale"))
    preview_seconds: float | None = Field(default=None, **_range("previewSeconds"))
    quality: Literal[rules.ids("qualities")] = DEFAULTS["quality"]  # type: ignore[valid-type]


class Webhook(Model):
    url: str
    token: str = Field(min_length=1, max_length=512)
    _check = field_validator("url")(_http_url)


# A request is three groups of fields; pydantic orders a model's fields from its last base to its first,
# so `RenderRequest(_Delivery, RenderSettings, _Job)` keeps the wire order (and which problem is reported
# first): jobId, audio, output, then the render settings, then webhook and attempt.
class _Job(Model):
    job_id: str = Field(min_length=1, max_length=128)
    audio: Audio
    output: Output


class RenderSettings(Model):
    """What a render is, whoever asks for it (a submit body's settings, the CLI's flags, the benchmark)."""

    format: str
    fps: int = DEFAULTS["fps"]
    visual: Visual = Field(default_factory=Visual)
    seed: int = Field(default=DEFAULTS["seed"], **_range("seed"))
    options: Options = Field(default_factory=Options)

    _format = field_validator("format")(classmethod(_one_of("format", rules.ids("formats"))))
    _fps = field_validator("fps")(classmethod(_one_of("fps", rules.fps_choices())))


class _Delivery(Model):
    webhook: Webhook
    # The worker's attempt number for this job, logged with every line about the call (not otherwise used).
    attempt: int | None = Field(default=None, ge=0)


class RenderRequest(_Delivery, RenderSettings, _Job):
    pass


class InvalidRequest(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _validate(model: type[Model], body: object):
    """`body` checked by `model`; the first problem is reported with its dotted field path."""
    try:
        return model.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("put", "multipart"))) or "body"
        message = err["msg"].removeprefix("Value error, ")
        raise InvalidRequest(field, message) from None


def parse_request(body: object) -> RenderRequest:
    """Validates a submit body."""
    return _validate(RenderRequest, body)


def parse_settings(body: object) -> RenderSettings:
    """Validates render settings alone (`{format, fps?, visual?, seed?, options?}`), as a submit body's."""
    return _validate(RenderSettings, body)


def _machine_options(device: str | None, processes: int | None, encoders: int | None) -> None:
    """Where and how wide a render runs: chosen by the operator or the CLI, never by a request."""
    if device not in (None, "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise InvalidRequest("device", f"unknown device {device!r}")
    for name, value in (("processes", processes), ("encoders", encoders)):
        if value is not None and not (isinstance(value, int) and 1 <= value <= MAX_PARALLEL):
            raise InvalidRequest(name, f"must be from 1 to {MAX_PARALLEL}")


def render_spec(settings: RenderSettings | dict, audio: str, out: str, device: str | None = None,
                processes: int | None = None, encoders: int | None = None) -> RenderSpec:
    """The one way to a `RenderSpec`: the settings (validated here unless they already were, as a parsed
    request's are) and the machine's options."""
    s = settings if isinstance(settings, RenderSettings) else parse_settings(settings)
    _machine_options(device, processes, encoders)
    return RenderSpec(audio, out, s.format, s.fps, s.visual.config(), s.seed, device, s.options.scale,
                      s.options.preview_seconds, s.options.quality, processes, encoders)

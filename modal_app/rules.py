"""What a render is — formats, projections, frame rates, looks, defaults, ranges, call states, stages and
failure codes — read from `contracts/render.json`, the one contract the render service shares with the
edge, the worker (studio-core compiles the same file in) and the page. Every Python module takes these
from here; none keeps an id, default or range of its own.

`RENDER_CONTRACT` names another file (tests use it to add a format). On Modal the image ships the file at
`/root/contracts/render.json`, which is where this module looks (`app.py`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

CONTRACT_RELATIVE = Path("contracts") / "render.json"
DEFAULT_CONTRACT_PATH = Path(__file__).resolve().parents[1] / CONTRACT_RELATIVE
CONTRACT_PATH = Path(os.environ.get("RENDER_CONTRACT") or DEFAULT_CONTRACT_PATH)
CONTRACT: dict = json.loads(CONTRACT_PATH.read_text())
DEFAULTS: dict = CONTRACT["defaults"]


def ids(name: str) -> tuple[str, ...]:
    """The ids of a list of `{id, …}` objects: `modes`, `skyboxPresets`, `qualities`, `formats`,
    `projections`, `callStates`."""
    return tuple(item["id"] for item in CONTRACT[name])


def _one(name: str, value: str, key: str = "id") -> dict:
    for item in CONTRACT[name]:
        if item[key] == value:
            return item
    raise ValueError(f"unknown {name} entry {value!r}; one of {', '.join(i[key] for i in CONTRACT[name])}")


def format_rule(format_id: str) -> dict:
    """A format by id: `{id, label, width, height, projection, aspect}`."""
    return _one("formats", format_id)


def projection(projection_id: str) -> dict:
    """A projection by id: `{id, label, spherical}`."""
    return _one("projections", projection_id)


def fps_choices() -> tuple[int, ...]:
    return tuple(CONTRACT["fps"])


def bounds(name: str) -> dict:
    """The range of a numeric setting: `min` or `minExclusive`, and `max` (inclusive)."""
    return CONTRACT[name]


def dynamics_keys() -> tuple[str, ...]:
    return tuple(CONTRACT["dynamics"])


def call_state(state_id: str) -> str:
    """A call state's id, refused unless the contract lists it."""
    return _one("callStates", state_id)["id"]


def terminal_states() -> frozenset[str]:
    """The call states after which nothing changes (a stored record in one is never overwritten)."""
    return frozenset(s["id"] for s in CONTRACT["callStates"] if s["terminal"])


def stage(stage_id: str) -> str:
    """A `render.progress` stage, refused unless the contract's `serviceStages` lists it."""
    if stage_id not in CONTRACT["serviceStages"]:
        raise ValueError(f"unknown service stage {stage_id!r}; one of {', '.join(CONTRACT['serviceStages'])}")
    return stage_id


def failure_codes() -> tuple[str, ...]:
    return tuple(f["code"] for f in CONTRACT["failureCodes"])


def failure(code: str) -> str:
    """A failure code, refused unless the contract lists it."""
    return _one("failureCodes", code, key="code")["code"]


def source_rate() -> dict:
    """The slowest a source download may be (`sourceRate`: `minBytesPerSec`, `windowSec`, `graceSec`), with
    the environment's overrides — the same names the worker reads."""
    rate = {k: float(v) for k, v in CONTRACT["sourceRate"].items() if not k.startswith("_")}
    for env, key in (("SOURCE_MIN_RATE_BYTES_PER_SEC", "minBytesPerSec"), ("SOURCE_RATE_WINDOW_SEC", "windowSec"),
                     ("SOURCE_RATE_GRACE_SEC", "graceSec")):
        value = os.environ.get(env, "").strip()
        if value:
            try:
                rate[key] = float(value)
            except ValueError:
                raise ValueError(f"{env}={value!r} is not a number") from None
            if rate[key] < 0 or (key == "windowSec" and rate[key] == 0):
                raise ValueError(f"{env}={value!r} is out of range")
    return rate


def ships_with_source(path: Path) -> bool:
    """Which files of this package go to Modal: the Python sources, not tests or caches (the contract is
    shipped beside the package by `app.py`). Modal also asks about directories (suffix-less) to prune
    its walk, so those pass unless excluded."""
    if any(part in ("tests", "__pycache__") or part.startswith(".") for part in path.parts):
        return False
    return path.suffix in ("", ".py")

"""What a render accepts — formats, frame rates, looks, ranges — read from `render_rules.json`, the one
rule set the render service shares with the edge and the worker (studio-core reads the same file)."""

from __future__ import annotations

import json
from pathlib import Path

RULES_PATH = Path(__file__).with_name("render_rules.json")
RULES: dict = json.loads(RULES_PATH.read_text())


def bounds(name: str) -> dict:
    """The range of a numeric setting: `min`/`minExclusive`, `max`, and `default` where it has one."""
    return RULES[name]


def ships_with_source(path: Path) -> bool:
    """Which files of this package go to Modal: Python sources and this rule file, not tests or caches.
    Modal also asks about directories (suffix-less) to prune its walk, so those pass unless excluded."""
    if any(part in ("tests", "__pycache__") or part.startswith(".") for part in path.parts):
        return False
    return path.suffix in ("", ".py", ".json")

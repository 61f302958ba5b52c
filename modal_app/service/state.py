"""Where a render's status lives between the job and the web app: JSON files for the local emulator, a
`modal.Dict` in Modal. Writes replace the whole record; terminal states (`contracts/render.json` →
`callStates`) are never overwritten."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Protocol

from ..rules import terminal_states

TERMINAL = terminal_states()


class StateStore(Protocol):
    def read(self, call_id: str) -> dict | None: ...

    def write(self, call_id: str, record: dict) -> bool: ...


def merge_allowed(current: dict | None) -> bool:
    return not (current and current.get("status") in TERMINAL)


class FileState:
    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, call_id: str) -> str:
        return os.path.join(self.directory, f"{call_id}.json")

    def read(self, call_id: str) -> dict | None:
        try:
            with open(self._path(call_id)) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write(self, call_id: str, record: dict) -> bool:
        current = self.read(call_id)
        if not merge_allowed(current):
            return False
        merged = {**(current or {}), **record}
        fd, tmp = tempfile.mkstemp(dir=self.directory)
        with os.fdopen(fd, "w") as f:
            json.dump(merged, f)
        os.replace(tmp, self._path(call_id))
        return True

"""Fixtures shared by the test modules (plain helpers are in support.py)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """A 3 s WAV of pulses and hats (test_render.py has a shorter MP3 of its own under the same name)."""
    from modal_app.engine.tracks import pulses_and_hats, write_wav

    samples, _, _ = pulses_and_hats(seconds=3.0)
    return write_wav(str(tmp_path_factory.mktemp("chunks") / "t.wav"), samples)

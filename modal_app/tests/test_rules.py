"""The render rule set is one file shared with the edge (studio-core reads render_rules.json too): the
service's formats, looks and ranges come from it, it ships to Modal, and a set of cases is judged the
same way here and in Rust (studio-core/src/render.rs reads the same case file)."""

import json
from pathlib import Path, PurePosixPath

import pytest

from modal_app.engine import dynamics, formats, presets
from modal_app.service import contract
from modal_app.rules import RULES, ships_with_source

CASES = json.loads((Path(__file__).parent / "render_settings_cases.json").read_text())


def test_the_service_takes_its_rules_from_the_shared_file():
    assert [f.id for f in formats.FORMATS.values()] == [f["id"] for f in RULES["formats"]]
    assert formats.FPS_CHOICES == tuple(RULES["fps"])
    assert presets.MODES == tuple(RULES["modes"])
    assert list(presets.NEBULA_PRESETS) == RULES["skyboxPresets"]
    assert list(dynamics.DEFAULTS) == RULES["dynamics"]


def test_the_rule_file_ships_to_modal_and_tests_do_not():
    from modal.mount import _MountDir

    root = Path(contract.__file__).parent.parent
    mount = _MountDir(root, remote_path=PurePosixPath("/root/modal_app"), ignore=lambda p: not ships_with_source(p), recursive=True)
    shipped = {Path(local).relative_to(root).as_posix() for local, _ in mount.get_files_to_upload()}
    assert {"render_rules.json", "rules.py", "service/contract.py", "engine/kernels.py", "engine/tracks.py"} <= shipped
    assert not any(name.startswith("tests/") or "__pycache__" in name for name in shipped), shipped


def submit_body(settings: dict) -> dict:
    """A full submit body around the shared render settings (API names mapped to the contract's)."""
    preview = settings.get("preview", {})
    options = {k: v for k, v in {"quality": settings.get("quality"), "scale": preview.get("scale"),
                                  "previewSeconds": preview.get("seconds")}.items() if v is not None}
    body = {
        "jobId": "job_1",
        "audio": {"url": "http://edge/a"},
        "output": {"key": "renders/job_1/video.mp4", "upload": {"type": "put", "url": "http://edge/v"}},
        "webhook": {"url": "http://edge/hook", "token": "t"},
        "options": options,
    }
    body.update({k: v for k, v in settings.items() if k not in ("quality", "preview")})
    return body


CONTRACT_FIELD = {"quality": "options.quality", "preview.scale": "options.scale",
                  "preview.seconds": "options.previewSeconds"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_cases_are_judged_as_the_edge_judges_them(case):
    body = submit_body(case["settings"])
    if case["field"] is None:
        contract.parse_request(body)
        return
    with pytest.raises(contract.InvalidRequest) as refused:
        contract.parse_request(body)
    expected = CONTRACT_FIELD.get(case["field"], case["field"])
    assert refused.value.field.startswith(expected), (refused.value.field, refused.value.message)

"""The render contract is one file, `contracts/render.json`, shared with the edge and the worker
(studio-core compiles it in): the service's formats, looks, defaults, ranges, call states and failure codes
come from it, it ships to Modal, a format that only it names renders end to end, and a set of cases
(`contracts/render_cases.json`) is judged the same way here and in Rust (studio-core/src/render.rs)."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from modal_app import rules
from modal_app.engine import dynamics, encode, formats, presets
from modal_app.engine.presets import VisualConfig
from modal_app.engine.spec import RenderSpec
from modal_app.rules import CONTRACT, ships_with_source
from modal_app.service import contract, state
from modal_app.service.transfer import TransferError
from modal_app.tests.support import ROOT

CONTRACTS = Path(ROOT) / "contracts"
CASES = json.loads((CONTRACTS / "render_cases.json").read_text())
PACKAGE = Path(ROOT) / "modal_app"


def test_the_service_takes_its_rules_from_the_shared_file():
    assert rules.CONTRACT_PATH == CONTRACTS / "render.json"
    assert [f.id for f in formats.FORMATS.values()] == [f["id"] for f in CONTRACT["formats"]]
    assert [f.label for f in formats.FORMATS.values()] == [f["label"] for f in CONTRACT["formats"]]
    assert formats.FPS_CHOICES == tuple(CONTRACT["fps"])
    assert presets.MODES == tuple(m["id"] for m in CONTRACT["modes"])
    assert list(presets.NEBULA_PRESETS) == [p["id"] for p in CONTRACT["skyboxPresets"]]
    assert list(dynamics.DEFAULTS) == CONTRACT["dynamics"]
    assert state.TERMINAL == {s["id"] for s in CONTRACT["callStates"] if s["terminal"]}
    assert rules.failure_codes() == tuple(f["code"] for f in CONTRACT["failureCodes"])


def test_every_contract_id_has_the_engines_parameters():
    """The contract owns ids, labels and defaults; the engine owns what each id draws with."""
    from modal_app.engine import kernels

    for mode in rules.ids("modes"):
        assert presets.MODE_PRESETS[mode].layers, mode
    for preset in rules.ids("skyboxPresets"):
        assert presets.NEBULA_PRESETS[preset].shader_params(), preset
    for quality in rules.ids("qualities"):
        assert quality in encode.QUALITY_CRF, quality
    for projection in rules.ids("projections"):
        assert projection in kernels.PROJECTIONS, projection
    for f in CONTRACT["formats"]:
        assert f["projection"] in rules.ids("projections"), f
        assert formats.get_format(f["id"]).is_360 == rules.projection(f["projection"])["spherical"], f


def test_every_default_is_the_contracts():
    d = CONTRACT["defaults"]
    visual = VisualConfig()
    assert (visual.mode, visual.skybox_preset, visual.intensity, visual.skybox_reactivity) == (
        d["mode"], d["skyboxPreset"], d["intensity"], d["skyboxReactivity"])
    spec = RenderSpec("in", "out", "flat-1080p-square")
    assert (spec.fps, spec.seed, spec.scale, spec.quality) == (d["fps"], d["seed"], d["scale"], d["quality"])
    parsed = contract.render_spec({"format": "flat-1080p-square"}, "in", "out")
    assert parsed == spec, "a request that names only the format gets the contract's defaults"


def test_names_the_code_uses_are_the_contracts_and_none_is_written_bare():
    """Call states, stages and failure codes are named through `call_state`, `stage` and `failure` (or a
    `TransferError`, which calls `failure`), which refuse a name the contract lacks — never as a bare string
    of a module's own."""
    helpers = {"call_state": set(rules.ids("callStates")), "stage": set(CONTRACT["serviceStages"]),
               "failure": set(rules.failure_codes()), "TransferError": set(rules.failure_codes())}
    wrapped = re.compile(r"\b(call_state|stage|failure|TransferError)\(\"([\w-]+)\"[,)]")
    names = set().union(*helpers.values())
    sources = [p for p in PACKAGE.rglob("*.py") if "tests" not in p.parts]
    seen = set()
    for path in sources:
        text = path.read_text()
        for helper, name in wrapped.findall(text):
            assert name in helpers[helper], f"{path.name}: {helper}({name!r}) is not in the contract"
            seen.add(name)
        bare = {m for m in re.findall(r"\"([\w-]+)\"", wrapped.sub("", text)) if m in names}
        assert not bare, f"{path.name} writes {sorted(bare)} itself; name them through rules.py"
    assert {"render_crashed", "cancelled", "invalid_request", "running", "encoding"} <= seen
    with pytest.raises(ValueError, match="failureCodes"):
        rules.failure("render_exploded")
    with pytest.raises(ValueError, match="callStates"):
        rules.call_state("paused")
    with pytest.raises(ValueError, match="stage"):
        rules.stage("polishing")
    with pytest.raises(ValueError):
        TransferError("upload_lost", "not a contract code")


def test_the_contract_and_the_requirements_ship_to_modal_and_tests_do_not():
    import warnings

    from modal.mount import _MountDir

    root = Path(contract.__file__).parent.parent
    mount = _MountDir(root, remote_path=PurePosixPath("/root/modal_app"), ignore=lambda p: not ships_with_source(p),
                      recursive=True)
    shipped = {Path(local).relative_to(root).as_posix() for local, _ in mount.get_files_to_upload()}
    assert {"rules.py", "logs.py", "service/contract.py", "engine/kernels.py", "engine/tracks.py"} <= shipped
    assert not any(name.startswith("tests/") or "__pycache__" in name for name in shipped), shipped
    assert not any(name.endswith(".txt") for name in shipped), "the requirements are installed, not shipped"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import modal_app.app as deployed
    # The package lands at /root/modal_app, so rules.py there looks for the contract where the image puts it.
    remote_rules = PurePosixPath("/root/modal_app/rules.py")
    assert deployed.REMOTE_CONTRACT == remote_rules.parents[1] / "contracts" / "render.json"
    assert Path(rules.CONTRACT_PATH).is_file()
    assert deployed.RUNTIME_REQUIREMENTS == PACKAGE / "requirements.txt"


def _requirements(name: str) -> list[str]:
    lines = (PACKAGE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_one_pinned_runtime_file_has_every_package_the_service_imports():
    import importlib.metadata

    runtime = _requirements("requirements.txt")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.]*", line) for line in runtime), runtime
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in runtime}
    dev = _requirements("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    assert {line.split("==")[0] for line in dev[1:]} >= {"pytest", "ruff", "modal"}
    assert all("==" in line for line in dev[1:]), dev
    # Modal brings its own client into the container; everything else the sources import must be pinned.
    dists = importlib.metadata.packages_distributions()
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        if "tests" in path.parts or path.name == "app.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"modal_app", "modal"}
    assert third_party >= {"numpy", "warp", "fastapi", "httpx", "pydantic", "standardwebhooks", "uvicorn"}
    for module in third_party:
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        assert names & pinned, f"{module} ({names}) is imported but not pinned in requirements.txt"


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


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_cli_and_bench_path_judges_settings_as_the_service_does(case):
    """`render_spec` (the CLI's and the benchmark's way to a spec) is the same validator."""
    settings = {k: v for k, v in submit_body(case["settings"]).items() if k in contract.RenderSettings.model_fields}
    if case["field"] is None:
        assert contract.render_spec(settings, "in", "out").format_id == case["settings"]["format"]
        return
    with pytest.raises(contract.InvalidRequest) as refused:
        contract.render_spec(settings, "in", "out")
    assert refused.value.field.startswith(CONTRACT_FIELD.get(case["field"], case["field"]))


def test_the_machine_options_are_checked_with_the_settings():
    for kwargs, field in [({"device": "tpu"}, "device"), ({"processes": 0}, "processes"),
                          ({"encoders": 65}, "encoders")]:
        with pytest.raises(contract.InvalidRequest) as refused:
            contract.render_spec({"format": "flat-1080p-square"}, "in", "out", **kwargs)
        assert refused.value.field == field
    with pytest.raises(SystemExit):
        from modal_app.engine.render import main

        main(["--audio", "a.wav", "--out", "o.mp4", "--format", "flat-1080p-square", "--mode", "smoke"])


def test_attempt_is_optional_and_logged_not_judged():
    body = submit_body({"format": "flat-1080p-square"})
    assert contract.parse_request(body).attempt is None
    assert contract.parse_request({**body, "attempt": 3}).attempt == 3
    for bad in (-1, "two", 1.5):
        with pytest.raises(contract.InvalidRequest) as refused:
            contract.parse_request({**body, "attempt": bad})
        assert refused.value.field == "attempt"


# Run with RENDER_CONTRACT naming a copy of the contract that has one more format and other defaults:
# the validator takes the format, the defaults follow, and a render through the whole job path (audio
# download, render, upload, result) comes out at the format's size with its projection reported.
CONTRACT_ONLY_FORMAT = r"""
import json, os, sys, tempfile
from modal_app.engine.presets import VisualConfig
from modal_app.engine.spec import RenderSpec
from modal_app.engine.tracks import pulses_and_hats, write_wav
from modal_app.service import contract
from modal_app.service.runner import run_job
from modal_app.service.state import FileState
from modal_app.tests.receiver import Receiver
from modal_app.tests.support import SECRET, probe

settings = contract.parse_settings({"format": "flat-test-4x5"})
defaults = [settings.fps, settings.seed, settings.visual.mode, settings.visual.skybox_preset, settings.visual.intensity,
            settings.options.quality, settings.options.scale, VisualConfig().mode, RenderSpec("a", "o", "f").quality]
with tempfile.TemporaryDirectory() as d:
    samples, _, _ = pulses_and_hats(seconds=1.0)
    with open(write_wav(os.path.join(d, "a.wav"), samples), "rb") as f:
        edge = Receiver(f.read(), SECRET)
    body = {"jobId": "job_new", "audio": {"url": edge.url + "/audio"}, "format": "flat-test-4x5", "fps": 30,
            "output": {"key": "renders/job_new/video.mp4",
                       "upload": {"type": "put", "url": edge.url + "/upload/single"}},
            "options": {"scale": 1.0, "previewSeconds": 0.2, "quality": "fast"},
            "webhook": {"url": edge.url + "/hooks", "token": "t"}}
    result = run_job(contract.parse_request(body), "call-new", FileState(os.path.join(d, "s")), SECRET, "cpu")
    out = os.path.join(d, "v.mp4")
    with open(out, "wb") as f:
        f.write(edge.single or b"")
    video = next(s for s in probe(out)["streams"] if s["codec_type"] == "video")
    edge.close()
print(json.dumps({"defaults": defaults, "result": result, "probed": [video["width"], video["height"]]}))
"""


def test_a_format_only_the_contract_names_renders_end_to_end(tmp_path):
    changed = json.loads((CONTRACTS / "render.json").read_text())
    changed["formats"].append({"id": "flat-test-4x5", "label": "Test 4:5", "width": 64, "height": 80,
                               "projection": "perspective", "aspect": "4:5"})
    changed["defaults"].update({"fps": 60, "seed": 7, "mode": "mist", "skyboxPreset": "purple", "intensity": 2.5,
                                "quality": "fast", "scale": 0.5})
    path = tmp_path / "render.json"
    path.write_text(json.dumps(changed))
    with pytest.raises(contract.InvalidRequest):
        contract.parse_settings({"format": "flat-test-4x5"})  # not in the shipped contract
    env = {**os.environ, "RENDER_CONTRACT": str(path), "PYTHONPATH": ROOT, "RENDER_PROCESSES": "1"}
    run = subprocess.run([sys.executable, "-c", CONTRACT_ONLY_FORMAT], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["defaults"] == [60, 7, "mist", "purple", 2.5, "fast", 0.5, "mist", "fast"]
    result = seen["result"]
    assert "error" not in result, result
    assert (result["width"], result["height"], result["projection"]) == (64, 80, "perspective")
    assert seen["probed"] == [64, 80]

"""Code flows in the run's process: the artifact unpacked safely, the entry point called with the
run's parameters, task runs as node events, clear failures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dagy.protocol import RunPayload
from dagy.runtime.code_flow import MAX_FILES, run_code_flow
from dagy.runtime.events import EventWriter
from tests.factories import unique
from tests.payloads import run_payload
from tests.sdk.artifacts import etl_artifact, write_zip


def _name(prefix: str) -> str:
    return unique(prefix).replace("-", "_")


def _run(tmp_path: Path, files: dict[str, str], entrypoint: str, **parameters: Any) -> tuple[Any, list[dict]]:
    artifact = write_zip(tmp_path / "run" / "artifact.zip", files)
    stream = io.StringIO()
    payload = run_payload(
        run_id="r-1", artifact_path=str(artifact), entrypoint=entrypoint, parameters=parameters
    )
    result = run_code_flow(payload, EventWriter(stream))
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


def _runtime(workdir: Path, payload: RunPayload) -> list[dict[str, Any]]:
    """`python -m dagy.runtime` as a worker starts it, in the run's directory."""
    done = subprocess.run(
        [sys.executable, "-m", "dagy.runtime"],
        input=payload.model_dump_json(),
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_runtime_runs_a_code_flow_and_reports_each_task_run(tmp_path: Path) -> None:
    artifact = write_zip(tmp_path / "artifact.zip", etl_artifact("shop"))
    payload = run_payload(
        run_id="r-1",
        artifact_path=str(artifact),
        entrypoint="shop.etl:main",
        parameters={"day": "2026-11-28"},
    )
    events = _runtime(tmp_path, payload)
    assert events[-1] == {
        "event": "result",
        "status": "completed",
        "output": {"day": "2026-11-28", "total": 17.0},
        "error": None,
    }
    reported = [(e["node_id"], e["status"], e["tries"], e["output"]) for e in events if e["event"] == "node"]
    rows = [{"sku": "A", "qty": 2, "price": 3.5}, {"sku": "B", "qty": 1, "price": 10.0}]
    finished = [r for r in reported if r[1] != "running"]
    assert finished[0] == ("extract-1", "completed", 1, rows)
    assert sorted(finished[1:3]) == [("price-1", "completed", 1, 7.0), ("price-2", "completed", 1, 10.0)]
    assert finished[3:] == [("load-1", "retrying", 1, None), ("load-1", "completed", 2, {"total": 17.0})]
    assert sorted(r[0] for r in reported if r[1] == "running") == [
        "extract-1",
        "load-1",
        "price-1",
        "price-2",
    ]
    node = next(e for e in events if e["event"] == "node" and e["status"] == "retrying")
    assert node["node_type"] == "task" and "ConnectionError: warehouse busy" in node["error"]["message"]
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert "[INFO] [extract-1] extracting 2026-11-28" in logs and "[INFO] [etl] loaded 17.0" in logs
    retried = [line for line in logs if line.startswith("[WARNING] Task load-1 failed (try 1), retrying")]
    assert len(retried) == 1 and "ConnectionError: warehouse busy" in retried[0]
    assert "[INFO] Starting task: extract-1" in logs
    assert any(line.startswith("[INFO] Task load-1 completed in ") for line in logs)
    assert (tmp_path / "code" / "shop" / "etl.py").is_file()


def test_a_failing_task_fails_the_run_naming_the_task_run(tmp_path: Path) -> None:
    package = _name("shop")
    result, events = _run(tmp_path, etl_artifact(package), f"{package}.etl:main", day="d", fail=True)
    assert result.status == "failed"
    error = result.error
    assert (error["type"], error["message"], error["node_id"]) == (
        "exception",
        "ValueError: refusing 17.0",
        "explode-1",
    )
    assert f'{package}/etl.py", line ' in error["traceback"] and "in explode" in error["traceback"]
    assert "dagy/sdk" not in error["traceback"]
    failed = [e for e in events if e["event"] == "node" and e["status"] == "failed"]
    assert [e["node_id"] for e in failed] == ["explode-1"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"day": "d", "region": "eu"}, "does not take 'region'"),
        ({}, "needs 'day'"),
    ],
)
def test_parameters_must_fit_the_flow_function(tmp_path: Path, parameters: dict, expected: str) -> None:
    package = _name("shop")
    result, events = _run(tmp_path, etl_artifact(package), f"{package}.etl:main", **parameters)
    assert result.status == "failed" and result.error["type"] == "invalid_parameters"
    assert expected in result.error["message"] and events == []


def test_a_plain_function_is_a_flow_and_its_output_must_be_json(tmp_path: Path) -> None:
    module = _name("plain")
    files = {f"{module}.py": "def main(n):\n    return {'n': n}\n\ndef odd():\n    return {1, 2}\n"}
    result, _ = _run(tmp_path, files, f"{module}:main", n=4)
    assert (result.status, result.output) == ("completed", {"n": 4})
    odd = _name("odd")
    result, _ = _run(tmp_path / "again", {f"{odd}.py": files[f"{module}.py"]}, f"{odd}:odd")
    assert result.status == "failed" and result.error["type"] == "invalid_output"
    assert "not JSON-serialisable" in result.error["message"]


@pytest.mark.parametrize(
    ("source", "entrypoint", "expected"),
    [
        ("x = 1\n", "{m}", "not 'module:function'"),
        ("x = 1\n", "missing_{m}:main", "has no module 'missing_"),
        ("x = 1\n", "{m}:main", "has no attribute 'main'"),
        ("x = 1\n", "{m}:x", "is not a function"),
    ],
)
def test_entry_points_that_cannot_be_called_fail_clearly(
    tmp_path: Path, source: str, entrypoint: str, expected: str
) -> None:
    module = _name("a")  # each case imports a module of its own
    result, _ = _run(tmp_path, {f"{module}.py": source}, entrypoint.format(m=module))
    assert result.status == "failed" and result.error["type"] == "invalid_entrypoint"
    assert expected in result.error["message"]


def test_a_module_shadowed_by_an_imported_one_is_refused(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, {"json.py": "def main():\n    return 1\n"}, "json:main")
    assert result.error["type"] == "invalid_entrypoint" and "not to the artifact" in result.error["message"]


def test_a_module_that_raises_on_import_fails_with_its_traceback(tmp_path: Path) -> None:
    module = _name("broken")
    result, _ = _run(tmp_path, {f"{module}.py": "import no_such_library_anywhere\n"}, f"{module}:main")
    assert result.status == "failed" and result.error["type"] == "exception"
    assert "No module named 'no_such_library_anywhere'" in result.error["message"]
    assert (
        f'{module}.py", line 1' in result.error["traceback"] and "importlib" not in result.error["traceback"]
    )


@pytest.mark.parametrize("name", ["../escape.py", "/etc/evil.py", "a/../../escape.py", "C:/evil.py"])
def test_unsafe_paths_in_the_artifact_are_refused(tmp_path: Path, name: str) -> None:
    artifact = tmp_path / "run" / "artifact.zip"
    artifact.parent.mkdir()
    with zipfile.ZipFile(artifact, "w") as archive:
        archive.writestr("ok.py", "def main():\n    return 1\n")
        archive.writestr(zipfile.ZipInfo(name), "print('escaped')\n")
    payload = run_payload(artifact_path=str(artifact), entrypoint="ok:main")
    result = run_code_flow(payload, EventWriter(io.StringIO()))
    assert result.status == "failed" and result.error["type"] == "invalid_artifact"
    assert "unsafe path" in result.error["message"]
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "run" / "code" / "ok.py").exists()


def test_too_many_files_and_broken_zips_are_refused(tmp_path: Path) -> None:
    many = {f"m{i}.py": "" for i in range(MAX_FILES + 1)}
    result, _ = _run(tmp_path, many, "m0:main")
    assert result.error["type"] == "invalid_artifact" and "entries" in result.error["message"]
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    result = run_code_flow(
        run_payload(artifact_path=str(broken), entrypoint="a:b"), EventWriter(io.StringIO())
    )
    assert result.error["type"] == "invalid_artifact" and "not a readable zip" in result.error["message"]

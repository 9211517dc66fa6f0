"""The engine through HTTP on the embedded worker (real run processes): concurrent nodes, branches,
node retries, secrets masked in the stored log, the deployment environment, execution-mode limits
(wall time, memory), cancellation within 5 s and the log cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import NodeRun
from dagy.server.settings import Settings
from dagy.worker.cgroups import memory_cgroups
from tests.factories import Caller, new_org, unique
from tests.flow_factories import (
    app_with_embedded_worker,
    python_node,
    register_flow,
    run_alive,
    spec,
    trigger,
    wait_for_log,
    wait_for_run,
)

LOG_CAP = 64 * 1024
LIMITS = {"small": {"timeout_seconds": 1.5}}  # nano keeps its 256 MB; small gets a short wall time


@pytest.fixture
def engine(settings: Settings) -> Iterator[tuple[FastAPI, TestClient, Caller]]:
    tuned = settings.model_copy(update={"run_log_max_bytes": LOG_CAP, "execution_mode_limits": LIMITS})
    app = app_with_embedded_worker(tuned)
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        yield app, client, new_org(app, client)


def fn(node_id: str, body: str, **data: Any) -> dict[str, Any]:
    code = "def main(inputs, params):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return python_node(node_id, code, **data)


def run_flow(client: TestClient, owner: Caller, flow_spec: dict[str, Any], **body: Any) -> dict[str, Any]:
    run_id = trigger(client, owner, register_flow(client, owner, flow_spec), **body)["run_id"]
    return wait_for_run(client, owner, run_id)


def tasks(client: TestClient, owner: Caller, run_id: str) -> dict[str, dict[str, Any]]:
    items = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    return {item["node_id"]: item for item in items}


def log_lines(client: TestClient, owner: Caller, run_id: str) -> list[str]:
    lines: list[str] = []
    token: str | None = None
    while True:
        query = {"limit": 1000} | ({"next_token": token} if token else {})
        page = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers, params=query).json()
        lines += [e["message"] for e in page["events"]]
        token = page["next_token"]
        if not token or not page["events"]:
            return lines


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_independent_nodes_overlap(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    nap = "import time\ntime.sleep(1)\nreturn 1"
    run = run_flow(client, owner, spec(fn("a", nap), fn("b", nap), fn("c", "return sum(inputs.values())"),
                                       edges=(("a", "c"), ("b", "c"))))  # fmt: skip
    assert (run["status"], run["output"]) == ("completed", 2)
    rows = tasks(client, owner, run["run_id"])
    a, b = rows["a"], rows["b"]
    assert _time(a["started_at"]) < _time(b["completed_at"]) and _time(b["started_at"]) < _time(
        a["completed_at"]
    )
    span = _time(rows["c"]["completed_at"]) - _time(min(a["started_at"], b["started_at"]))
    assert span.total_seconds() < 1.95


def test_the_branch_not_taken_is_skipped(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    flow_spec = spec(
        fn("src", "return params['n']"),
        {"id": "big", "type": "condition", "data": {"expression": "input > 10"}},
        fn("yes", "return 'big'"),
        fn("no", "return 'small'"),
    )
    flow_spec["edges"] = [
        {"source": "src", "target": "big"},
        {"source": "big", "target": "yes", "sourceHandle": "true_out"},
        {"source": "big", "target": "no", "sourceHandle": "false_out"},
    ]
    run = run_flow(client, owner, flow_spec, parameters={"n": 3})
    assert (run["status"], run["output"]) == ("completed", {"no": "small"})  # sinks that ran
    statuses = {node: row["status"] for node, row in tasks(client, owner, run["run_id"]).items()}
    assert statuses == {"src": "completed", "big": "completed", "yes": "skipped", "no": "completed"}


def test_nul_characters_in_a_runs_output_and_log_are_stored_as_replacement_characters(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    """PostgreSQL cannot store NUL in text or JSON: the run still completes (it used to stay
    `running` until its lease expired), with the same value on both databases."""
    _, client, owner = engine
    run = run_flow(client, owner, spec(fn("nul", "print('x\\x00y')\nreturn {'k\\x00': ['a\\x00b']}")))
    assert (run["status"], run["output"]) == ("completed", {"k\ufffd": ["a\ufffdb"]})
    assert "x\ufffdy" in log_lines(client, owner, run["run_id"])


def test_an_address_the_ssrf_guard_refuses_is_not_retried_and_names_the_setting(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    _, client, owner = engine
    fetch = {
        "id": "fetch",
        "type": "http_fetch",
        "data": {"url": "http://127.0.0.1:9/", "retries": 3, "retry_delay_seconds": 2},
    }
    run = run_flow(client, owner, spec(fetch))
    assert (run["status"], run["error"]["type"]) == ("failed", "blocked_url")
    assert "DAGY_ALLOW_PRIVATE_NETWORK=true" in run["error"]["message"]
    task = tasks(client, owner, run["run_id"])["fetch"]
    assert (task["status"], task["tries"]) == ("failed", 1)  # not the 4 its retries allow


def test_node_retries_are_counted(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    app, client, owner = engine
    body = (  # the tries are marked in the run's scratch folder (its working directory)
        "import pathlib\np = pathlib.Path('tries')\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "if len(p.read_text()) < 3:\n    raise RuntimeError('not yet')\nreturn len(p.read_text())"
    )
    run = run_flow(client, owner, spec(fn("flaky", body, retries=4, retry_delay_seconds=0.05)))
    assert (run["status"], run["output"]) == ("completed", 3)
    with app.state.db.transaction(write=False) as session:
        row = session.execute(select(NodeRun).where(NodeRun.run_id == run["run_id"])).scalar_one()
    assert (row.status, row.tries) == ("completed", 3)
    assert tasks(client, owner, run["run_id"])["flaky"]["tries"] == 3


def test_a_node_output_too_large_to_report_inline_is_stored(
    engine: tuple[FastAPI, TestClient, Caller], settings: Settings
) -> None:
    _, client, owner = engine
    flow_spec = spec(fn("big", "return 'x' * 2_000_000"), fn("size", "return len(inputs['big'])"),
                     edges=(("big", "size"),))  # fmt: skip
    run = run_flow(client, owner, flow_spec)
    assert (run["status"], run["output"]) == ("completed", 2_000_000)
    rows = tasks(client, owner, run["run_id"])
    assert {n: r["status"] for n, r in rows.items()} == {"big": "completed", "size": "completed"}
    stored = rows["big"]["output"]["$dagy_output"]
    assert stored == {
        "key": f"dagy/runs/{owner.org_id}/{run['run_id']}/outputs/1/big.json",
        "format": "json",
        "rows": None,
        "bytes": 2_000_002,
    }
    assert (settings.home / "objects" / stored["key"]).read_text() == '"' + "x" * 2_000_000 + '"'
    lines = log_lines(client, owner, run["run_id"])
    assert [line for line in lines if not line.startswith("[INFO] ")] == [], lines


def test_secret_values_are_masked_in_the_stored_log(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    name, value = unique("api"), "tok-" + unique("v")
    created = client.post("/v1/secrets", headers=owner.headers, json={"secret_name": name, "value": value})
    assert created.status_code == 201, created.text
    leak = "print('the token is', params['t'])\nraise ValueError('bad ' + params['t'])"
    run = run_flow(client, owner, spec(fn("leak", leak, token={"secret": name})), parameters={"t": value})
    assert run["status"] == "failed"
    assert run["error"]["message"] == "ValueError: bad ***" and value not in run["error"]["traceback"]
    lines = log_lines(client, owner, run["run_id"])
    assert "the token is ***" in lines and value not in "\n".join(lines)
    assert any(
        line.startswith("[ERROR] Task leak failed") and "ValueError: bad ***" in line for line in lines
    )


def test_the_deployment_environment_reaches_nodes(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    env = unique("env").lower()
    assert client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
    variables = {"variables": {"REGION": "eu-west-1"}}
    assert (
        client.put(f"/v1/environments/{env}/variables", headers=owner.headers, json=variables).status_code
        == 200
    )
    flow = register_flow(client, owner, spec(fn("where", "import os\nreturn os.environ.get('REGION')")))
    deployment = unique("deploy")
    body = {"name": deployment, "flow_name": flow, "environment": env, "default_executor": "local"}
    assert client.post("/v1/deployments", headers=owner.headers, json=body).status_code == 201
    run_id = client.post("/v1/runs", headers=owner.headers, json={"deployment": deployment}).json()["run_id"]
    run = wait_for_run(client, owner, run_id)
    assert (run["status"], run["output"]) == ("completed", "eu-west-1")


@pytest.mark.slow
def test_a_run_past_its_wall_time_fails_with_timeout(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    flow_spec = spec(
        fn("quick", "return 1"), fn("slow", "import time\ntime.sleep(30)"), edges=(("quick", "slow"),)
    )
    started = time.monotonic()
    run = run_flow(client, owner, flow_spec, execution_mode="small")
    assert time.monotonic() - started < 10
    assert run["status"] == "failed"
    assert {k: run["error"][k] for k in ("type", "node_id", "traceback")} == {
        "type": "timeout",
        "node_id": "slow",
        "traceback": None,
    }


@pytest.mark.slow
def test_a_run_over_its_memory_fails_with_memory(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = engine
    hog = "import time\nblob = b'x' * (400 * 2**20)\ntime.sleep(30)\nreturn len(blob)"
    run = run_flow(client, owner, spec(fn("hog", hog)), execution_mode="nano")
    assert run["status"] == "failed"
    assert (run["error"]["type"], run["error"]["node_id"]) == ("memory", "hog")
    assert "256 MB" in run["error"]["message"]


def test_a_run_gets_a_memory_cgroup_of_its_own_where_the_host_allows(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    """The run's process (and what it forks) joins a cgroup limited to its execution mode's memory
    before its code runs (dagy/worker/cgroups.py); elsewhere the sampler alone enforces it."""
    if memory_cgroups() is None:
        pytest.skip("this host lets the worker make no memory cgroups")
    _, client, owner = engine
    # Read by a child of the run's process: what the run forks is inside too.
    body = "import subprocess\nreturn subprocess.check_output(['cat', '/proc/self/cgroup']).decode()"
    run = run_flow(client, owner, spec(fn("where", body)), execution_mode="nano")
    assert run["status"] == "completed", run["error"]
    folder = memory_cgroups().parent  # type: ignore[union-attr]
    memory_line = next(line for line in run["output"].splitlines() if folder.name in line)
    assert memory_line.endswith(f"/{folder.name}/{run['run_id']}-1")
    assert (folder / f"{run['run_id']}-1").exists() is False  # removed after the run


@pytest.mark.slow
def test_cancel_kills_the_run_and_its_children_within_5s(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    """The run's process dies at SIGTERM; a child it started that ignores SIGTERM dies with it (an
    isolated run: its PID namespace ends) or at the SIGKILL after the 2 s grace (unisolated)."""
    _, client, owner = engine
    stubborn = (
        "import subprocess, sys, time\n"
        "child = 'import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        'print(f"pid={os.getpid()} uid={os.getuid()}", flush=True); time.sleep(60)\'\n'
        "subprocess.Popen([sys.executable, '-c', child])\ntime.sleep(60)"
    )
    run_id = trigger(client, owner, register_flow(client, owner, spec(fn("stubborn", stubborn))))["run_id"]
    messages = wait_for_log(client, owner, run_id, "pid=")
    pid, uid = _pid_and_uid(messages)
    cancelled_at = time.monotonic()
    assert client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers).status_code == 200
    while run_alive(pid, uid) and time.monotonic() - cancelled_at < 10:
        time.sleep(0.05)
    took = time.monotonic() - cancelled_at
    assert not run_alive(pid, uid) and took < 5, f"the run's child lived {took:.1f}s after the cancel"


def _pid_and_uid(messages: list[str]) -> tuple[int, int]:
    line = next(m for m in messages if "pid=" in m)
    pid, uid = (int(part.split("=")[1]) for part in line[line.index("pid=") :].split()[:2])
    return pid, uid


@pytest.mark.slow
def test_cancel_reaches_a_shell_command_in_a_session_of_its_own(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    """`shell_command` starts its command in a new session (so its timeout can kill the command's
    whole group): a cancel still ends it."""
    _, client, owner = engine
    shell = {
        "id": "sh",
        "type": "shell_command",
        "data": {"command": "echo pid=$$ uid=$(id -u); exec sleep 60"},
    }
    run_id = trigger(client, owner, register_flow(client, owner, spec(shell)))["run_id"]
    messages = wait_for_log(client, owner, run_id, "pid=")
    pid, uid = _pid_and_uid(messages)
    assert run_alive(pid, uid)
    cancelled_at = time.monotonic()
    assert client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers).status_code == 200
    while run_alive(pid, uid) and time.monotonic() - cancelled_at < 10:
        time.sleep(0.05)
    assert not run_alive(pid, uid), "the shell command outlived its cancelled run"


@pytest.mark.slow
def test_a_run_printing_100_mb_completes_with_a_truncated_log(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    _, client, owner = engine
    chatty = "line = 'x' * 99\nfor _ in range(1_000_000):\n    print(line)\nreturn 'done'"
    run = run_flow(client, owner, spec(fn("chatty", chatty)))
    assert (run["status"], run["output"]) == ("completed", "done")
    lines = log_lines(client, owner, run["run_id"])
    assert (
        lines[0].startswith("[INFO] Attempt 1 started on worker ")
        and lines[1] == "[INFO] Starting task: chatty"
    )
    assert lines[-2] == f"[WARNING] The log was cut after {LOG_CAP} bytes; later lines were dropped"
    assert lines[-1].startswith("[INFO] Attempt 1 completed in ")
    assert set(lines[2:-2]) == {"x" * 99} and sum(len(line) + 1 for line in lines[1:-2]) <= LOG_CAP


def test_events_a_run_forges_fail_it_clearly(engine: tuple[FastAPI, TestClient, Caller]) -> None:
    """A run's process that writes a result or a node event outside the protocol (straight to its
    stdout) fails with `invalid_result`; a forged node event is logged, not recorded."""
    _, client, owner = engine
    forged = (
        "import os\n"
        'os.write(1, b\'{"event": "node", "node_id": "x", "status": "exploded"}\\n\')\n'
        'os.write(1, b\'{"event": "result", "status": "bogus", "error": "no"}\\n\')\n'
        "os._exit(0)"
    )
    run = run_flow(client, owner, spec(fn("forger", forged)))
    assert run["status"] == "failed" and run["error"]["type"] == "invalid_result"
    assert "'bogus'" in run["error"]["message"]
    assert "x" not in tasks(client, owner, run["run_id"])
    assert any("not a node run" in line for line in log_lines(client, owner, run["run_id"]))


def test_the_log_tells_a_three_node_run_with_a_retried_failure(
    engine: tuple[FastAPI, TestClient, Caller],
) -> None:
    """Code that prints nothing still leaves the attempt's start on its worker, each task's start
    and end, the failed try with its reason and delay, and the attempt's end."""
    _, client, owner = engine
    flaky = (
        "import os, tempfile\nmark = os.path.join(tempfile.gettempdir(), 'tried')\n"
        "if not os.path.exists(mark):\n    open(mark, 'w').close()\n    raise ValueError('flaky')\nreturn 2"
    )
    flow_spec = spec(
        fn("extract", "return 1"),
        fn("transform", flaky, retries=2, retry_delay_seconds=0.2),
        fn("load", "return sum(inputs.values())"),
        edges=(("extract", "transform"), ("transform", "load")),
    )
    run = run_flow(client, owner, flow_spec)
    assert (run["status"], run["output"]) == ("completed", 2)
    lines = log_lines(client, owner, run["run_id"])
    shapes = [line.split(" in ")[0] if " completed in " in line else line for line in lines]
    assert shapes[0].startswith("[INFO] Attempt 1 started on worker ")
    assert shapes[1:] == [
        "[INFO] Starting task: extract",
        "[INFO] Task extract completed",
        "[INFO] Starting task: transform",
        "[WARNING] Task transform failed (try 1), retrying in 0.2 s: ValueError: flaky",
        "[INFO] Task transform completed",
        "[INFO] Starting task: load",
        "[INFO] Task load completed",
        "[INFO] Attempt 1 completed",
    ]
    assert all(line.endswith(" s") for line in lines if " completed in " in line)
    assert tasks(client, owner, run["run_id"])["transform"]["tries"] == 2

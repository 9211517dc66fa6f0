"""Run isolation (dagy/runtime/sandbox.py, dagy/worker/isolation.py), tried as a hostile tenant
would: runs whose code goes for the server's and the worker's files, keys, environment and
processes, other runs' scratch folders and the host's resources. Each attempt fails inside the run;
the worker keeps serving and the next run completes. On the embedded worker and on a separate
`dagy worker`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.runtime.sandbox import BLOCKED_SYSCALLS
from dagy.server.settings import Settings
from dagy.worker.isolation import FULL, IsolationUnavailable, establish
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
from tests.worker.live import Workers, api_for, finished, register

pytestmark = pytest.mark.skipif(
    establish("best", hidden=()).level != "strict", reason="this host cannot isolate runs fully"
)

CANARY = f"canary-{unique('secret')}"
# Planted in the worker's environment: none of them may reach a run.
CANARY_VARIABLES = {
    "DAGY_CANARY": CANARY,
    "AWS_SECRET_ACCESS_KEY": CANARY,
    "GITHUB_TOKEN": CANARY,
    "OPENAI_API_KEY": CANARY,
    "HTTPS_PROXY": f"http://{CANARY}@proxy.invalid:3128",
}
ALLOWED_VARIABLES = {
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LANGUAGE",
    "TZ",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
}

HOSTILE = """
import ctypes, os, signal

def main(inputs, params):
    report = {"read": [], "listed": {}, "proc": {}, "writes": {}}
    for home in params["homes"]:
        try:
            report["listed"][home] = sorted(os.listdir(home))
        except OSError as exc:
            report["listed"][home] = type(exc).__name__
        for folder, _dirs, files in os.walk(home):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        report["read"].append([path, handle.read().decode(errors="replace")])
                except OSError:
                    pass
    for path in params["files"]:
        try:
            with open(path, "rb") as handle:
                report["read"].append([path, handle.read().decode(errors="replace")])
        except OSError as exc:
            report["proc"][path] = type(exc).__name__
    for path in ["/proc/1/environ", f"/proc/{params['worker_pid']}/environ", "/proc/self/environ"]:
        try:
            with open(path) as handle:
                report["proc"][path] = handle.read()
        except OSError as exc:
            report["proc"][path] = type(exc).__name__
    report["pids"] = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    report["environ"] = dict(os.environ)
    try:
        os.kill(params["worker_pid"], signal.SIGKILL)
        report["kill"] = "sent"
    except OSError as exc:
        report["kill"] = type(exc).__name__
    for path in ["/usr/dagy-was-here", "/etc/dagy-was-here", "/dagy-was-here", params["homes"][0] + "/x"]:
        try:
            with open(path, "w") as handle:
                handle.write("x")
            report["writes"][path] = "written"
        except OSError as exc:
            report["writes"][path] = type(exc).__name__
    libc = ctypes.CDLL(None, use_errno=True)
    calls = {"ptrace": lambda: libc.ptrace(16, params["worker_pid"], 0, 0),
             "unshare": lambda: libc.unshare(0x10000000),
             "mount": lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
             "keyctl": lambda: libc.syscall(250, 0, 0, 0, 0, 0)}
    report["calls"] = {}
    for name, call in calls.items():
        result = call()
        report["calls"][name] = os.strerror(ctypes.get_errno()) if result == -1 else f"returned {result}"
    report["ids"] = [os.getuid(), os.geteuid(), os.getgid()]
    with open("/proc/self/status") as handle:
        status = dict(line.split(":", 1) for line in handle.read().splitlines() if ":" in line)
    keys = ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp")
    report["status"] = {key: status[key].strip() for key in keys}
    with open("scratch.txt", "w") as handle:
        handle.write("mine")
    report["scratch"] = os.getcwd()
    return report
"""
FORK_BOMB = """
import os, subprocess

def main(inputs, params):
    print(f"pid={os.getpid()} uid={os.getuid()}", flush=True)
    children = [subprocess.Popen(["sleep", "60"]) for _ in range(500)]
    return len(children)
"""
KEEPER = """
import os, time

def main(inputs, params):
    with open("secret.txt", "w") as handle:
        handle.write("the keeper's data")
    print(f"scratch={os.getcwd()}", flush=True)
    time.sleep(params["sleep"])
    return "kept"
"""
PEEKER = """
def main(inputs, params):
    try:
        with open(params["path"]) as handle:
            return {"read": handle.read()}
    except OSError as exc:
        return {"error": type(exc).__name__}
"""
HOG = "def main(inputs, params):\n    blob = b'x' * (400 * 2**20)\n    return len(blob)\n"
FINE = "def main(inputs, params):\n    return params['a'] + 1\n"


def secret_values(settings: Settings) -> list[str]:
    """What must never be read back: the server's keys and token (generated into DAGY_HOME)."""
    values = [(settings.home / name).read_text().strip() for name in ("secret.key", "worker.token")]
    assert all(values)
    return values


def sensitive_files(settings: Settings) -> list[str]:
    database = settings.database_url.split("///", 1)[-1] if settings.is_sqlite else None
    files = [str(settings.home / name) for name in ("secret.key", "worker.token")]
    if database:
        files += [database, database + "-wal"]
    return files


def assert_contained(report: dict[str, Any], *, own_objects: str | None, worker_pid: int) -> None:
    """What a hostile run may have done: read nothing of the server's or the worker's (but its own
    org's objects), see nothing of the worker's environment, signal, trace or write nothing."""
    read = [path for path, _content in report["read"]]
    assert all(own_objects and path.startswith(own_objects) for path in read), read
    assert "DAGY_" not in report["proc"]["/proc/1/environ"]  # pid 1 is the run's own process
    assert report["proc"][f"/proc/{worker_pid}/environ"] in ("FileNotFoundError", "PermissionError")
    assert set(report["environ"]) <= ALLOWED_VARIABLES | {
        k for k in report["environ"] if k.startswith("LC_")
    }, report["environ"]
    assert max(report["pids"]) < 10, report["pids"]  # only the run's own PID namespace
    assert report["kill"] in ("ProcessLookupError", "PermissionError")
    assert set(report["writes"].values()) <= {"PermissionError", "OSError", "FileNotFoundError"}, report[
        "writes"
    ]
    assert report["calls"] == {
        "ptrace": "Operation not permitted",
        "unshare": "Operation not permitted",
        "mount": "Operation not permitted",
        "keyctl": "Operation not permitted",
    }
    uid, euid, _gid = report["ids"]
    assert uid == euid != 0
    status = report["status"]
    assert (status["CapEff"], status["CapPrm"], status["CapBnd"]) == ("0" * 16,) * 3
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2")


@pytest.fixture
def embedded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FastAPI, TestClient, Caller]]:
    for name, value in CANARY_VARIABLES.items():
        monkeypatch.setenv(name, value)
    app = app_with_embedded_worker(settings.model_copy(update={"isolation": "strict"}))
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        yield app, client, new_org(app, client)


def run_code(client: TestClient, owner: Caller, code: str, **parameters: Any) -> dict[str, Any]:
    flow = register_flow(client, owner, spec(python_node("n", code)))
    return wait_for_run(
        client, owner, trigger(client, owner, flow, parameters=parameters)["run_id"], timeout=60
    )


def test_a_hostile_run_on_the_embedded_worker_reaches_nothing_of_the_server(
    embedded: tuple[FastAPI, TestClient, Caller], settings: Settings, tmp_path: Path
) -> None:
    _, client, owner = embedded
    homes = [str(settings.home), str(tmp_path), str(Path(sensitive_files(settings)[-1]).parent)]
    run = run_code(
        client, owner, HOSTILE, homes=homes, files=sensitive_files(settings), worker_pid=os.getpid()
    )
    assert run["status"] == "completed", run["error"]
    own_objects = str(settings.home / "objects" / "dagy")
    assert_contained(run["output"], own_objects=own_objects, worker_pid=os.getpid())
    text = json.dumps(run)
    assert CANARY not in text and not any(value in text for value in secret_values(settings))
    assert not Path(run["output"]["scratch"]).exists()  # the scratch folder went with the attempt
    # The worker and the server are unharmed: the next run completes.
    following = run_code(client, owner, FINE, a=1)
    assert (following["status"], following["output"]) == ("completed", 2)
    health = client.get("/v1/health/detailed", headers=owner.headers).json()
    isolation = next(c for c in health["components"] if c["name"] == "run_isolation")["isolation"]
    assert (isolation["level"], isolation["missing"]) == ("strict", [])


def test_a_run_cannot_read_a_concurrent_runs_scratch(embedded: tuple[FastAPI, TestClient, Caller]) -> None:
    _, client, owner = embedded
    keeper = trigger(
        client, owner, register_flow(client, owner, spec(python_node("k", KEEPER))), parameters={"sleep": 30}
    )
    messages = wait_for_log(client, owner, keeper["run_id"], "scratch=")
    scratch = next(m for m in messages if m.startswith("scratch="))[len("scratch=") :]
    assert Path(scratch, "secret.txt").exists()  # on the host, while the keeper runs
    peek = run_code(client, owner, PEEKER, path=f"{scratch}/secret.txt")
    assert peek["output"] == {"error": "FileNotFoundError"}
    client.post(f"/v1/runs/{keeper['run_id']}/cancel", headers=owner.headers)


def test_a_fork_bomb_fails_its_run_naming_the_limit_and_leaves_nothing_behind(
    embedded: tuple[FastAPI, TestClient, Caller],
) -> None:
    _, client, owner = embedded
    run_id = trigger(client, owner, register_flow(client, owner, spec(python_node("bomb", FORK_BOMB))))[
        "run_id"
    ]
    messages = wait_for_log(client, owner, run_id, "pid=")
    pid, uid = (int(part.split("=")[1]) for part in next(m for m in messages if m.startswith("pid=")).split())
    run = wait_for_run(client, owner, run_id, timeout=60)
    assert run["status"] == "failed"
    assert run["error"]["type"] == "process_limit", run["error"]
    assert "limit of 256 processes" in run["error"]["message"]
    ended = time.monotonic()
    while run_alive(pid, uid) and time.monotonic() - ended < 5:
        time.sleep(0.1)
    assert not run_alive(pid, uid), "a process of the fork bomb survived its run"
    assert run_code(client, owner, FINE, a=41)["output"] == 42


def test_a_hostile_run_on_a_separate_worker_reaches_nothing_of_the_worker(  # noqa: PLR0917 - fixtures
    app: FastAPI, client: TestClient, workers: Workers, pool: str, settings: Settings, tmp_path: Path
) -> None:
    owner = new_org(app, client)
    api = api_for(workers.url, owner)
    worker_home = tmp_path / "worker-home"
    worker_home.mkdir()
    (worker_home / "worker.token").write_text(CANARY)
    worker = workers.start(
        "w-isolated",
        pool,
        env={**CANARY_VARIABLES, "DAGY_HOME": str(worker_home), "DAGY_ISOLATION": "strict"},
    )
    homes = [str(worker_home), str(settings.home), str(tmp_path)]
    parameters = {"homes": homes, "files": [str(worker_home / "worker.token")], "worker_pid": worker.pid}

    def run_on_worker(code: str, **params: Any) -> dict[str, Any]:
        flow = register(api, spec(python_node("n", code)), pool)
        run_id = api.post("/runs", json={"flow_name": flow, "parameters": params}).json()["run_id"]
        return finished(api, run_id)

    run = run_on_worker(HOSTILE, **parameters)
    assert run["status"] == "completed", run["error"]
    assert_contained(run["output"], own_objects=None, worker_pid=worker.pid)
    assert CANARY not in json.dumps(run) and not any(
        value in json.dumps(run) for value in secret_values(settings)
    )
    hog = run_on_worker(HOG)
    assert (hog["status"], hog["error"]["type"]) == ("failed", "memory")
    assert worker.poll() is None  # the worker is unharmed and serves the next run
    assert run_on_worker(FINE, a=2)["output"] == 3
    assert "run isolation strict" in (tmp_path / "w-isolated.log").read_text()


def test_strict_isolation_refuses_when_the_boundary_cannot_be_entered(tmp_path: Path) -> None:
    """A host (here: an interpreter) where the probe cannot enter the boundary: strict refuses to
    start, best degrades to what works, and both say why."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no sandbox here' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(IsolationUnavailable, match="no sandbox here"):
        establish("strict", hidden=(), python=str(broken))
    best = establish("best", hidden=(), python=str(broken))
    assert (best.level, best.features, best.missing) == ("partial", (), FULL)
    assert "no sandbox here" in best.reason
    assert establish("off", hidden=()).describe()["level"] == "off"


def test_the_seccomp_filter_names_only_calls_a_run_never_needs() -> None:
    assert {"ptrace", "mount", "unshare", "setns", "init_module", "keyctl", "bpf"} <= set(BLOCKED_SYSCALLS)
    assert not {"clone", "fork", "execve", "socket", "connect", "openat"} & set(BLOCKED_SYSCALLS)

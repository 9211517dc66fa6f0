"""The template process: run processes forked from one warm interpreter, each a process of its own
(pid, session, directory, nothing inherited, no state of an earlier run), and runs that still run
when the template dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dagy.protocol import RunPayload
from dagy.runtime import parse_event
from dagy.worker import WorkerConfig
from dagy.worker.processes import ForkedProcess, Launcher, RunProcess
from tests.payloads import run_payload

PROBE = """
import os
import dagy

def main(inputs, params):
    before = getattr(dagy, "left_by_an_earlier_run", None)
    dagy.left_by_an_earlier_run = params["n"]
    return {
        "before": before,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
        "cwd": os.getcwd(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "token": os.environ.get("DAGY_WORKER_TOKEN"),
        "region": os.environ.get("REGION"),
    }
"""
SLEEPER = "import time\n\ndef main(inputs, params):\n    time.sleep(60)\n"


def payload(code: str, **parameters: Any) -> RunPayload:
    node = {"id": "probe", "type": "python_function", "data": {"code": code}}
    return run_payload({"nodes": [node], "edges": []}, parameters, run_id="run_t")


async def send(started: RunProcess, body: RunPayload) -> None:
    stdin = started.process.stdin
    assert stdin is not None
    stdin.write(body.model_dump_json().encode())
    await stdin.drain()
    stdin.close()


async def run(started: RunProcess, body: RunPayload) -> tuple[dict[str, Any], int]:
    """Hand the run its payload, read its events to the end: (the result event, the exit code)."""
    await send(started, body)
    assert started.process.stdout is not None and started.process.stderr is not None
    out, err = await asyncio.gather(started.process.stdout.read(), started.process.stderr.read())
    returncode = await started.process.wait()
    events = [parse_event(line) for line in out.decode().splitlines()]
    results = [e for e in events if e is not None and e["event"] == "result"]
    assert results, (out, err)
    return results[-1], returncode


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_runs_forked_from_one_template_share_nothing(monkeypatch: Any, event_loop: str) -> None:
    """On asyncio's loop (`dagy worker`) and uvloop's (the server's embedded worker)."""
    runner = asyncio.run if event_loop == "asyncio" else pytest.importorskip("uvloop").run
    monkeypatch.setenv("DAGY_WORKER_TOKEN", "worker-secret")
    monkeypatch.setenv("REGION", "eu")  # unisolated runs keep the worker's environment but its token

    async def scenario() -> list[tuple[dict[str, Any], int, RunProcess]]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t"))
        launcher.prepare()
        outcomes = []
        try:
            for n in (1, 2):
                started = await launcher.take()
                result, returncode = await run(started, payload(PROBE, n=n))
                outcomes.append((result, returncode, started))
                await started.discard()
        finally:
            await launcher.close()
        return outcomes

    (first, code1, run1), (second, code2, run2) = runner(scenario())
    assert code1 == code2 == 0
    assert isinstance(run1.process, ForkedProcess) and isinstance(run2.process, ForkedProcess)
    one, two = first["output"], second["output"]
    assert one["ppid"] == two["ppid"]  # the same template forked both
    assert one["pid"] != two["pid"] and {one["pid"], two["pid"]} == {run1.process.pid, run2.process.pid}
    for probe, started in ((one, run1), (two, run2)):
        assert probe["sid"] == probe["pgid"] == probe["pid"]  # a session and process group of its own
        assert probe["cwd"] == started.workdir and not Path(started.workdir).exists()  # removed after
        assert probe["fds"][:3] == [0, 1, 2] and len(probe["fds"]) == 4  # + the listing's own descriptor
        assert probe["token"] is None and probe["region"] == "eu"
    assert one["cwd"] != two["cwd"]
    assert one["before"] is None and two["before"] is None  # the first run's global did not reach the second


def test_a_dead_template_fails_only_its_running_runs_and_the_next_run_runs() -> None:
    async def scenario() -> tuple[int, int, dict[str, Any], int]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t"))
        launcher.prepare()
        try:
            sleeping = await launcher.take()
            await send(sleeping, payload(SLEEPER))
            template = await launcher._live_template()
            assert template is not None
            old_template = template.process.pid
            os.kill(old_template, signal.SIGKILL)
            killed = await asyncio.wait_for(sleeping.process.wait(), 10)  # died with its template
            await sleeping.discard()
            following = await launcher.take()
            result, returncode = await run(following, payload(PROBE, n=3))
            await following.discard()
            return killed, old_template, result, returncode
        finally:
            await launcher.close()

    killed, old_template, result, returncode = asyncio.run(scenario())
    assert killed == -signal.SIGKILL
    assert result["status"] == "completed" and returncode == 0
    assert result["output"]["ppid"] != old_template  # a new template forked it


def test_without_a_template_each_run_starts_python() -> None:
    async def scenario() -> tuple[RunProcess, dict[str, Any], int]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t", template_process=False))
        launcher.prepare()
        try:
            started = await launcher.take()
            result, returncode = await run(started, payload(PROBE, n=1))
            await started.discard()
            return started, result, returncode
        finally:
            await launcher.close()

    started, result, returncode = asyncio.run(scenario())
    assert not isinstance(started.process, ForkedProcess)
    assert result["output"]["ppid"] == os.getpid() and returncode == 0


def test_a_template_that_cannot_start_falls_back_to_python(tmp_path: Path) -> None:
    """A template that exits before it is ready (here: an interpreter without the template) leaves
    the worker starting a process per run."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\ncase "$*" in *--template*) exit 3;; esac\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)

    async def scenario() -> tuple[RunProcess, dict[str, Any]]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t", python=str(python)))
        launcher.prepare()
        try:
            started = await launcher.take()
            result, _ = await run(started, payload(PROBE, n=1))
            await started.discard()
            return started, result
        finally:
            await launcher.close()

    started, result = asyncio.run(scenario())
    assert not isinstance(started.process, ForkedProcess) and result["status"] == "completed"


def test_a_run_process_discarded_the_moment_it_is_forked_is_killed() -> None:
    """The template answers a child's pid before the child has made its own process group: a
    discard in that instant (a run cancelled or a worker stopping at once) still kills it instead
    of waiting for it forever."""

    async def scenario() -> None:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t"))
        launcher.prepare()
        try:
            for _ in range(100):
                started = await launcher.take()
                await asyncio.wait_for(started.discard(), 10)
        finally:
            await launcher.close()

    asyncio.run(scenario())


def test_a_template_whose_worker_went_away_unread_exits_quietly() -> None:
    """The worker closes its end with the template's answers unread (it was killed, or stopped
    mid-request): the template's next read fails with ECONNRESET, and it ends without a traceback."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    template = subprocess.Popen(
        [sys.executable, "-m", "dagy.runtime", "--template", "--control-fd", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
        stderr=subprocess.PIPE,
    )
    theirs.close()
    assert "ready" in json.loads(ours.recv(4096))
    pipes = [os.pipe() for _ in range(3)]
    request = json.dumps({"id": 1, "cwd": "/tmp", "env": {}}).encode()
    socket.send_fds(ours, [request], [pipes[0][0], pipes[1][1], pipes[2][1]])
    time.sleep(0.5)  # the template answers the pid; the child waits for its payload
    ours.close()  # unread answers in the queue: the template's next read is reset
    _, stderr = template.communicate(timeout=10)
    for read_end, write_end in pipes:
        os.close(read_end)
        os.close(write_end)
    assert template.returncode == 0 and b"Traceback" not in stderr, stderr.decode()


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_a_closed_launcher_s_template_exits_at_once(event_loop: str) -> None:
    """A worker that stops closes the template's control socket and the template exits by itself
    at once, on uvloop (the server's embedded worker, where closing a socket that a read waits on
    does not reach the peer) as on asyncio's loop: `dagy server` stops without waiting for it."""
    runner = asyncio.run if event_loop == "asyncio" else pytest.importorskip("uvloop").run

    async def scenario() -> tuple[float, int | None]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t"))
        launcher.prepare()
        started = await launcher.take()
        await run(started, payload(PROBE, n=1))
        await started.discard()
        template = await launcher._live_template()
        assert template is not None
        asked = time.monotonic()
        await launcher.close()
        return time.monotonic() - asked, template.process.returncode

    took, returncode = runner(scenario())
    assert returncode == 0, "the template was killed instead of exiting"
    assert took < 2, f"the template took {took:.1f} s to exit"

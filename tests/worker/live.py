"""Real processes for worker tests: a `dagy server --no-worker` on loopback and `dagy worker`
subprocesses against it (fixtures in conftest.py), and helpers to talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.ports import free_port

DAGY = str(Path(sys.executable).parent / "dagy")


class Workers:
    """`dagy worker` subprocesses against the live server, stopped at the end of the test."""

    def __init__(self, url: str, settings: Settings, tmp_path: Path) -> None:
        assert settings.worker_token is not None
        self.url, self.token, self.tmp_path = url, settings.worker_token.get_secret_value(), tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        worker_id: str,
        executor: str,
        concurrency: int = 4,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """`options`: more of `dagy worker`'s options (`--dask-address ...`)."""
        # The embedded vector store in the test's folder, not the default ~/.dagy/vectors.
        vectors = str(self.tmp_path / "vectors")
        env = os.environ | {"DAGY_WORKER_TOKEN": self.token, "DAGY_VECTOR_DIR": vectors} | (env or {})
        command = [
            DAGY,
            "worker",
            "--url",
            self.url,
            "--executor",
            executor,
            "--concurrency",
            str(concurrency),
            "--worker-id",
            worker_id,
            "--drain-seconds",
            "0",
            *options,
        ]
        with open(self.tmp_path / f"{worker_id}.log", "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def serving(
    settings: Settings, tmp_path: Path, *options: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dagy server --no-worker [options]` (API + reaper) on a free loopback port, on the tests'
    database, with `extra_env` on top: its URL and process, stopped at the end."""
    port = free_port()
    env = os.environ | {
        "DAGY_HOME": str(settings.home),
        "DAGY_DATABASE_URL": settings.database_url,
        "DAGY_HOST": "127.0.0.1",
        "DAGY_PORT": str(port),
        "DAGY_AUTH_MODE": "email",
        "DAGY_RATE_LIMIT_PER_MINUTE": "1000000",
        "DAGY_AUTH_CACHE_SECONDS": "0",
        "DAGY_LOG_LEVEL": "warning",
        "DAGY_QUEUE__LEASE_SECONDS": "3",
        "DAGY_QUEUE__HEARTBEAT_SECONDS": "0.5",
        "DAGY_QUEUE__REAPER_SECONDS": "0.5",
        "DAGY_QUEUE__CLAIM_WAIT_SECONDS": str(settings.queue.claim_wait_seconds),
        "DAGY_WORKER_POOLS": ",".join(settings.worker_pools),
        **(extra_env or {}),
    }
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [DAGY, "server", "--no-worker", *options], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/v1/openapi.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
        time.sleep(0.1)
    try:
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api_for(url: str, caller: Caller) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/v1", headers=caller.headers, timeout=10)


def register(api: httpx.Client, flow_spec: dict[str, Any], executor: str) -> str:
    name = unique("flow")
    response = api.post(
        "/flows", json={"flow_name": name, "flow_spec": flow_spec, "default_executor": executor}
    )
    assert response.status_code == 201, response.text
    return name


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def finished(api: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """The run once it is completed or failed (its body from `GET /runs/{run_id}`)."""
    return wait(  # type: ignore[no-any-return]
        lambda: (r := api.get(f"/runs/{run_id}").json())["status"] in ("completed", "failed") and r,
        timeout,
        "the run to finish",
    )

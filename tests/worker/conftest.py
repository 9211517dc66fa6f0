"""Fixtures of the worker tests that start real processes (see live.py): each test has its own
worker pool, so its workers claim only the runs it queues."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from dagy.server.settings import Settings
from tests.factories import unique
from tests.worker.live import DAGY, Workers, free_port


@pytest.fixture
def pool() -> str:
    """The test's own worker pool: its workers claim only the runs this test queues."""
    return unique("pool")


@pytest.fixture
def settings(settings: Settings, pool: str) -> Settings:
    return settings.model_copy(update={"worker_pools": [pool]})


@pytest.fixture
def live_server(settings: Settings, app: FastAPI, tmp_path: Path) -> Iterator[str]:
    """`dagy server --no-worker` (API + reaper) on a free loopback port, on the tests' database."""
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
        "DAGY_QUEUE__CLAIM_WAIT_SECONDS": "2",
        "DAGY_WORKER_POOLS": ",".join(settings.worker_pools),
    }
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [DAGY, "server", "--no-worker"], env=env, stdout=log, stderr=subprocess.STDOUT
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
    yield url
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def workers(live_server: str, settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(live_server, settings, tmp_path)
    yield pool
    pool.stop_all()

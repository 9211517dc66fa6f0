"""Fixtures of the worker tests that start real processes (see live.py): each test has its own
worker pool, so its workers claim only the runs it queues."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from dagy.server.db.migrate import upgrade
from dagy.server.settings import Settings
from tests.factories import unique
from tests.worker.live import Workers, serving


@pytest.fixture
def pool() -> str:
    """The test's own worker pool: its workers claim only the runs this test queues."""
    return unique("pool")


@pytest.fixture
def settings(settings: Settings, pool: str, tmp_path: Path) -> Settings:
    update: dict[str, object] = {"worker_pools": [pool]}
    if settings.is_sqlite:
        # These tests run `dagy server` and `dagy worker` processes beside the test's own app. SQLite
        # is one process's database (README): each test gets a file of its own, so what another
        # test's processes left open on the session's file never meets this test's.
        url = f"sqlite:///{tmp_path / 'dagy.db'}"
        upgrade(url)
        update["database_url"] = url
    return settings.model_copy(update=update)


@pytest.fixture
def live_server(settings: Settings, app: FastAPI, tmp_path: Path) -> Iterator[str]:
    """`dagy server --no-worker` (API + reaper) on a free loopback port, on the tests' database."""
    with serving(settings, tmp_path) as (url, _process):
        yield url


@pytest.fixture
def workers(live_server: str, settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(live_server, settings, tmp_path)
    yield pool
    pool.stop_all()

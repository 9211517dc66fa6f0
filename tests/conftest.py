"""The test harness: every API test runs against SQLite and, when `DAGY_TEST_POSTGRES_URL` names a
PostgreSQL server, against a throw-away database created on it for this session.

Under pytest-xdist (`-n`, scripts/test.sh) each worker process is a session of its own, with its own
SQLite files (its own temporary folder) and its own PostgreSQL databases, named after the run and
the worker (`dagy_test_<run>_<worker>_<random>`); each is dropped when it is done with, and the
controlling process drops any of the run's databases left behind (a worker that crashed) at the end.

Tests go through HTTP with the ASGI app (`client`); each test makes its own data with the
factories in `tests/factories.py`, so tests never depend on each other.

A test module changes the settings its app is made with by a marker rather than by overriding
`settings`: `pytestmark = pytest.mark.settings(allow_private_network=True)` sets fields, and a
positional name is a fixture whose value is such fields, for values made per test or per module
(`pytest.mark.settings("own_pool_settings")`, see `tests/server/conftest.py`).
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")

from fastapi import FastAPI  # noqa: E402 - after the warning filter
from fastapi.testclient import TestClient  # noqa: E402

from dagy.server.app import create_app  # noqa: E402
from dagy.server.db.migrate import upgrade  # noqa: E402
from dagy.server.settings import Settings  # noqa: E402
from tests.flow_factories import app_with_embedded_worker  # noqa: E402

SUPERADMIN = "root@dagy.test"
POSTGRES_URL = os.environ.get("DAGY_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


# The run's name in its PostgreSQL databases' names: made by the controlling process (the only one
# without xdist) and handed to every xdist worker (`pytest_configure_node`).
RUN_KEY = "dagy_test_run"
_run = secrets.token_hex(4)


def _database_prefix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"dagy_test_{_run}_{worker}_"


def _create_postgres_database() -> tuple[str, str]:
    server = make_url(POSTGRES_URL)
    name = f"{_database_prefix()}{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_databases(*names: str) -> None:
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _drop_postgres_database(name: str) -> None:
    _drop_postgres_databases(name)


def _drop_the_runs_postgres_databases() -> None:
    """Every database of this run still on the server, whichever process made it."""
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        pattern = f"dagy\\_test\\_{_run}\\_%"
        names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": pattern})
        left = [name for (name,) in names]
    admin.dispose()
    if left:
        _drop_postgres_databases(*left)


@contextmanager
def migrated_database(backend: str, tmp_path_factory: pytest.TempPathFactory, folder: str) -> Iterator[str]:
    """A migrated database of its own on `backend`: a SQLite file in a new temporary `folder`, or a
    database created on the PostgreSQL server and dropped at the end."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(folder) / 'dagy.db'}"
        upgrade(url)
        yield url
        return
    url, name = _create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        _drop_postgres_database(name)


def pytest_configure(config: pytest.Config) -> None:
    global _run  # noqa: PLW0603 - an xdist worker takes the controller's
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        _run = workerinput[RUN_KEY]
    config.addinivalue_line(
        "markers",
        "settings(*fixtures, **fields): the test's app is made with these settings fields; each positional "
        "name is a fixture whose value is a dict of fields",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `postgres_only` test's SQLite instance is not run: deselected where PostgreSQL is reached,
    skipped with the reason where it is not."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        if on_sqlite and item.get_closest_marker("postgres_only"):
            if POSTGRES_URL:
                dropped.append(item)
                continue
            item.add_marker(pytest.mark.skip(reason="runs only against PostgreSQL (DAGY_TEST_POSTGRES_URL)"))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, in the controlling process, before it starts a worker: the worker's databases are
    named after this run."""
    node.workerinput[RUN_KEY] = _run


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """The controlling process, once every worker has stopped (xdist's own `pytest_sessionfinish`
    stops them): drop what a worker that crashed or was stopped left on the PostgreSQL server."""
    try:
        return (yield)
    finally:
        if POSTGRES_URL and not hasattr(session.config, "workerinput"):
            _drop_the_runs_postgres_databases()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per backend for the whole session."""
    with migrated_database(request.param, tmp_path_factory, "db") as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The harness's settings, with the fields the test's `settings` markers set (the test's own
    marker wins over its module's)."""
    harness = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        superadmin_emails=SUPERADMIN,
        auth_mode="email",
        web_dir=None,  # `/` is the short page even where web/ has been built (tests/server/test_webapp.py)
        rate_limit_per_minute=100_000,
        auth_cache_seconds=0,
        queue={"lease_seconds": 3, "heartbeat_seconds": 0.5, "reaper_seconds": 0.5, "claim_wait_seconds": 2},
    )
    update: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        for fixture in marker.args:
            update |= request.getfixturevalue(fixture)
        update |= marker.kwargs
    return harness.model_copy(update=update) if update else harness


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, migrate=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("198.51.100.7", 50000)) as test_client:
        yield test_client


@pytest.fixture
def running(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app as `dagy server` runs it, with the embedded worker and the reaper."""
    app = app_with_embedded_worker(settings)
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        yield app, client

"""`/health`, `/health/detailed` and the probes `/health/live` and `/health/ready`: shapes, real
failures (no mocks), and the shared probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from dagy import __version__
from dagy.server.app import create_app
from dagy.server.db import migrate
from dagy.server.settings import Settings
from tests.factories import new_org, unique

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused


def _components(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["components"]}


def _unreachable_database(settings: Settings) -> str:
    """A real failure: a SQLite file in a folder that does not exist, or a PostgreSQL database
    that was never created."""
    if settings.is_sqlite:
        return f"sqlite:///{settings.home / 'missing' / 'folder' / 'dagy.db'}"
    return (
        make_url(settings.database_url)
        .set(database=unique("dagy_missing").replace("-", "_"))
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def broken_app(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(
        settings.model_copy(update={"database_url": _unreachable_database(settings)}), migrate=False
    )
    with TestClient(app, client=("198.51.100.7", 50000)) as client:
        yield app, client


def test_health_is_public_and_healthy(client: TestClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert [c["name"] for c in body["components"]] == ["api", "database", "cache"]
    assert all(c["status"] == "healthy" for c in body["components"])
    assert _components(body)["cache"]["backend"] == "in-process"
    assert "latency_ms" not in _components(body)["database"]
    stamp = datetime.fromisoformat(body["timestamp"])
    assert body["timestamp"].endswith("Z")
    assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=30)


def test_health_is_503_when_the_database_is_unreachable(broken_app: tuple[FastAPI, TestClient]) -> None:
    _app, client = broken_app
    response = client.get("/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    components = _components(body)
    assert components["database"]["status"] == "unhealthy"
    assert components["database"]["error"]
    assert components["api"]["status"] == "healthy"
    assert components["cache"]["status"] == "healthy"


def test_detailed_is_503_when_the_database_is_unreachable(broken_app: tuple[FastAPI, TestClient]) -> None:
    """The installation's worker token authenticates without the database, so this can be asked."""
    app, client = broken_app
    token = app.state.settings.worker_token.get_secret_value()
    response = client.get("/v1/health/detailed", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert _components(body)["database"]["status"] == "unhealthy"
    assert _components(body)["object_store"]["status"] == "healthy"


def test_detailed_checks_every_component_live(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    response = client.get("/v1/health/detailed", headers=owner.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    components = _components(body)
    assert list(components) == ["api", "database", "cache", "object_store"]
    for component in components.values():
        assert component["status"] == "healthy"
        assert isinstance(component["latency_ms"], int | float)
        assert component["latency_ms"] >= 0
    assert components["object_store"]["backend"] == "local"
    assert (app.state.settings.home / "objects").is_dir()
    assert list((app.state.settings.home / "objects").iterdir()) == []  # the probe file is gone


def test_detailed_is_503_when_the_object_store_is_not_writable(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    (app.state.settings.home / "objects").write_text("a file where the folder should be")
    response = client.get("/v1/health/detailed", headers=owner.headers)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert _components(body)["object_store"]["status"] == "unhealthy"
    assert _components(body)["database"]["status"] == "healthy"
    assert client.get("/v1/health").status_code == 200  # the public check does not touch storage


def test_detailed_needs_authentication(client: TestClient) -> None:
    response = client.get("/v1/health/detailed")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert client.get("/v1/health/detailed", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_redis_cache_is_pinged(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"}), migrate=False)
    with TestClient(app) as client:
        body = client.get("/v1/health").json()
    assert _components(body)["cache"] == {"name": "cache", "status": "healthy", "backend": "redis"}


def test_unreachable_redis_degrades_health(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"redis_url": CLOSED_REDIS}), migrate=False)
    with TestClient(app) as client:
        response = client.get("/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert _components(body)["cache"]["status"] == "unhealthy"
    assert _components(body)["database"]["status"] == "healthy"


def test_concurrent_callers_share_one_database_probe_per_second(app: FastAPI) -> None:
    probes: list[float] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() == "SELECT 1":
            probes.append(time.monotonic())

    event.listen(app.state.db.engine, "before_cursor_execute", count)

    async def burst(n: int) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dagy") as http:
            responses = await asyncio.gather(*(http.get("/v1/health") for _ in range(n)))
        return [r.status_code for r in responses]

    try:
        assert asyncio.run(burst(50)) == [200] * 50
        assert len(probes) == 1
        assert asyncio.run(burst(20)) == [200] * 20
        assert len(probes) == 1
        time.sleep(1.1)
        assert asyncio.run(burst(20)) == [200] * 20
        assert len(probes) == 2
    finally:
        event.remove(app.state.db.engine, "before_cursor_execute", count)


# --- the orchestrators' probes: /health/live and /health/ready ---------------------------------


def test_live_answers_without_touching_the_database(broken_app: tuple[FastAPI, TestClient]) -> None:
    _, client = broken_app
    response = client.get("/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive", "version": __version__}


def test_ready_when_the_database_answers_at_the_migrations_head(client: TestClient) -> None:
    response = client.get("/v1/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] == "healthy"
    assert body["migrations"] == "at_head"
    assert body["revision"] == body["head"] == sorted(migrate.heads())


def test_not_ready_when_the_database_does_not_answer(broken_app: tuple[FastAPI, TestClient]) -> None:
    _, client = broken_app
    response = client.get("/v1/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["migrations"]) == ("not_ready", "unhealthy", "unknown")
    assert body["error"]
    assert body["revision"] == []


@pytest.fixture
def own_database(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, TestClient]]:
    """A SQLite database of the test's own, migrated to head, and an app over it (its
    revision is changed by the test)."""
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    migrate.upgrade(url)
    app = create_app(settings.model_copy(update={"database_url": url}), migrate=False)
    with TestClient(app) as client:
        yield url, client


def _set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_not_ready_while_the_schema_is_behind_the_code(own_database: tuple[str, TestClient]) -> None:
    url, client = own_database
    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    older = scripts.get_revision(next(iter(migrate.heads()))).down_revision
    assert isinstance(older, str)
    _set_revision(url, older)
    response = client.get("/v1/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["migrations"], body["revision"]) == ("not_ready", "behind", [older])


def test_ready_when_a_newer_release_migrated_first(own_database: tuple[str, TestClient]) -> None:
    """A rolling upgrade: the new release's migration job ran, this replica (older code) still serves."""
    url, client = own_database
    _set_revision(url, "9999_a_newer_release")
    response = client.get("/v1/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["migrations"], body["revision"]) == (
        "ready",
        "ahead",
        ["9999_a_newer_release"],
    )

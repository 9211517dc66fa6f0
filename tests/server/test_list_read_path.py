"""The list read path (db/reads.py, api/responses.py): its pages are exactly what the response models
render, its connections cannot write, and a read survives a busy SQLite file and a PostgreSQL
connection that died in the pool."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, text
from sqlalchemy.exc import DBAPIError

from dagy.server.db.models import Flow
from dagy.server.db.reads import APPLICATION_NAME, ReadDatabase
from dagy.server.domains.deployments.schemas import DeploymentList
from dagy.server.domains.flows.schemas import FlowList
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

CODE = "def main(inputs, params):\n    return params\n"


def _get(client: TestClient, caller: Caller, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1{path}", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def test_a_flow_page_is_what_its_model_renders(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    plain = register_flow(client, owner, spec(python_node("a", CODE)))
    tagged = register_flow(
        client,
        owner,
        spec(python_node("a", CODE)),
        flow_version="2.0-rc.1",
        namespace="data/ingestion",
        tags={"team": "data-eng", "note": "ünïcode \"quoted\""},
        status="draft",
    )
    page = _get(client, owner, "/flows", limit=1)
    assert FlowList.model_validate(page).model_dump(mode="json") == page  # a fixed point of the model
    assert page["next_token"] and [i["flow_name"] for i in page["items"]] == [tagged]
    (item,) = page["items"]
    assert (item["flow_version"], item["status"]) == ("2.0-rc.1", "draft")
    assert item["namespace"] == "data/ingestion"
    assert item["tags"] == {"team": "data-eng", "note": "ünïcode \"quoted\""}
    assert item["created_at"].endswith("Z") and item["updated_at"].endswith("Z")
    rest = _get(client, owner, "/flows", limit=1, next_token=page["next_token"])
    assert rest["next_token"] is None and rest["items"][0]["flow_name"] == plain
    assert (rest["items"][0]["namespace"], rest["items"][0]["tags"]) == (None, {})


def test_a_deployment_page_item_is_the_deployment_as_read_alone(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    env = unique("env")
    created = client.post("/v1/environments", headers=owner.headers, json={"env_name": env})
    assert created.status_code == 201, created.text
    flow = register_flow(client, owner, spec(python_node("a", CODE)))
    names = []
    for body in (
        {"environment": env, "tags": {"tier": "critical"}, "schedule": "0 9 * * *", "max_retries": 2},
        {"dep_package_slugs": [], "execution_mode": "nano"},
    ):
        response = client.post(
            "/v1/deployments", headers=owner.headers, json={"name": unique("dep"), "flow_name": flow, **body}
        )
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    page = _get(client, owner, "/deployments")
    assert DeploymentList.model_validate(page).model_dump(mode="json") == page
    assert sorted(names) == [i["name"] for i in page["items"]]
    for item in page["items"]:  # the same fields and values as the single-deployment route renders
        assert item == _get(client, owner, f"/deployments/{item['name']}")
    in_env = _get(client, owner, "/deployments", environment=env)
    assert [i["environment"] for i in in_env["items"]] == [env]
    nowhere = _get(client, owner, "/deployments", environment=unique("nowhere"))
    assert nowhere == {"items": [], "next_token": None}


def test_the_read_connection_cannot_write(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name = register_flow(client, owner, spec(python_node("a", CODE)))
    reads = ReadDatabase(app.state.db.engine.url)

    def delete_flow(connection: Connection) -> None:
        connection.execute(delete(Flow).where(Flow.org_id == owner.org_id))

    try:
        with pytest.raises(DBAPIError):
            anyio.run(lambda: reads.run(delete_flow))
    finally:
        reads.dispose()
    assert [i["flow_name"] for i in _get(client, owner, "/flows")["items"]] == [name]


def _count(connection: Connection) -> tuple[int, int]:
    return connection.execute(text("SELECT count(*) FROM t")).scalar_one(), threading.get_ident()


def test_a_busy_sqlite_file_moves_the_read_to_a_thread_that_waits(tmp_path: Path) -> None:
    """Inline reads never wait on the event loop: a locked file (here a rollback-journal database
    while a writer holds it) fails the inline attempt at once, and a worker thread waits instead."""
    path = tmp_path / "busy.db"
    with sqlite3.connect(path) as setup:
        setup.executescript("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
    setup.close()
    reads = ReadDatabase(f"sqlite:///{path}")

    async def read() -> tuple[int, int, int]:
        count, thread = await reads.run(_count)
        return count, thread, threading.get_ident()

    try:
        count, thread, loop_thread = anyio.run(read)
        assert count == 2 and thread == loop_thread  # inline on the event loop
        writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (3)")
        threading.Timer(0.5, writer.execute, ("COMMIT",)).start()
        started = time.monotonic()
        count, thread, loop_thread = anyio.run(read)
        assert count == 3 and thread != loop_thread  # waited in a worker thread for the commit
        assert time.monotonic() - started >= 0.4
        writer.close()
        count, thread, loop_thread = anyio.run(read)
        assert count == 3 and thread == loop_thread  # inline again once the file is free
    finally:
        reads.dispose()


def test_a_postgres_connection_that_died_in_the_pool_is_replaced(client: TestClient, app: FastAPI) -> None:
    if app.state.db.is_sqlite:
        pytest.skip("PostgreSQL's pooled read connections")
    owner = new_org(app, client)
    name = register_flow(client, owner, spec(python_node("a", CODE)))
    assert [i["flow_name"] for i in _get(client, owner, "/flows")["items"]] == [name]
    with app.state.db.engine.connect() as connection:  # as a server restart would
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"
            ),
            {"name": APPLICATION_NAME},
        ).scalar_one()
    assert killed >= 1
    time.sleep(0.2)
    assert [i["flow_name"] for i in _get(client, owner, "/flows")["items"]] == [name]


def test_postgres_reads_run_on_the_event_loop_without_holding_it(app: FastAPI) -> None:
    """No thread hop: the read's function runs on the loop's thread, and while PostgreSQL works on
    one read the loop serves another."""
    if app.state.db.is_sqlite:
        pytest.skip("PostgreSQL's async read connections")
    reads = ReadDatabase(app.state.db.engine.url)

    def read(connection: Connection, *, seconds: float) -> tuple[int, float]:
        connection.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
        return threading.get_ident(), time.monotonic()

    async def slow_and_quick() -> tuple[int, list[tuple[int, float]]]:
        done: list[tuple[int, float]] = []

        async def one(seconds: float) -> None:
            done.append(await reads.run(read, seconds=seconds))

        async with anyio.create_task_group() as group:
            group.start_soon(one, 0.5)
            group.start_soon(one, 0.0)
        return threading.get_ident(), done

    try:
        started = time.monotonic()
        loop_thread, done = anyio.run(slow_and_quick)
        assert [thread for thread, _ in done] == [loop_thread, loop_thread]
        assert done[0][1] - started < 0.4  # the quick read finished while the slow one waited
        assert time.monotonic() - started < 0.9
    finally:
        reads.dispose()


def test_the_openapi_document_still_names_the_page_models(client: TestClient) -> None:
    paths = client.get("/v1/openapi.json").json()["paths"]
    for path, model in (("/v1/flows", "FlowList"), ("/v1/deployments", "DeploymentList")):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content == {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}

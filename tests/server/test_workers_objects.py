"""The object routes of the worker protocol (docs/workers.md, "Objects"), through HTTP: the run's
object token and the worker's credential read and write the run's org's objects; another org's
key gets 404, another org's keys 403, a stale attempt 409, an oversize body 413."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller, new_org
from tests.flow_factories import (
    api_key,
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
)

OK = "def main(inputs, params):\n    return 1\n"
WORKER_SCOPES = ("flows.read", "runs.trigger", "secrets.read")
OBJECT_LIMIT = 3 * 1024 * 1024  # over the 2 MB request limit: object uploads have their own

pytestmark = pytest.mark.settings("own_pool_settings", max_object_bytes=OBJECT_LIMIT)


@pytest.fixture
def claimed(client: TestClient, settings: Settings, owner: Caller, pool: str) -> dict[str, Any]:
    """A run of `owner` claimed by worker `w1` with the installation token."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    trigger(client, owner, flow)
    [run] = claim_runs(client, worker_headers(settings), pool)
    return run


def url(run: dict[str, Any], key: str = "", *, worker_id: str = "w1", attempt: int | None = None) -> str:
    where = f"/v1/workers/runs/{run['run_id']}/objects" + (f"/{key}" if key else "")
    return f"{where}?worker_id={worker_id}&attempt={attempt or run['attempt']}"


def run_token(run: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {run['objects_token']}"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"] and "details" in body
    return body


def test_the_run_token_writes_lists_and_reads_the_orgs_objects(
    client: TestClient, claimed: dict[str, Any], owner: Caller
) -> None:
    assert claimed["objects_token"].startswith("dagy_run.")
    mine = f"dagy/runs/{owner.org_id}/{claimed['run_id']}/outputs/1/n.json"
    for key, full in (("in/a.csv", f"dagy/data/{owner.org_id}/in/a.csv"), (mine, mine)):
        written = client.put(url(claimed, key), headers=run_token(claimed), content=b"id\n1\n")
        assert written.status_code == 200, written.text
        assert written.json() == {"key": full, "bytes": 5}
        read = client.get(url(claimed, key), headers=run_token(claimed))
        assert (read.status_code, read.content) == (200, b"id\n1\n")
    listed = client.get(url(claimed) + "&prefix=in/", headers=run_token(claimed))
    assert listed.json() == {"keys": [f"dagy/data/{owner.org_id}/in/a.csv"]}
    assert_error(client.get(url(claimed, "in/none.csv"), headers=run_token(claimed)), 404, "object_not_found")


def test_the_workers_own_credential_serves_too(
    client: TestClient, settings: Settings, claimed: dict[str, Any]
) -> None:
    written = client.put(url(claimed, "x.json"), headers=worker_headers(settings), content=b"[]")
    assert written.status_code == 200, written.text
    assert client.get(url(claimed, "x.json"), headers=worker_headers(settings)).content == b"[]"


def test_keys_outside_the_runs_reach_are_forbidden(
    client: TestClient, app: FastAPI, claimed: dict[str, Any], owner: Caller
) -> None:
    other = new_org(app, client).org_id
    for key in (
        f"dagy/data/{other}/x.json",
        f"dagy/runs/{owner.org_id}/run_someone_else/x.json",
        f"dagy/flows/{owner.org_id}/f/a.zip",
        "a/%2E%2E/%2E%2E/x.json",  # `..` segments (escaped, or the client would resolve them)
    ):
        assert_error(
            client.put(url(claimed, key), headers=run_token(claimed), content=b"1"), 403, "forbidden_key"
        )
    assert_error(client.get(url(claimed, f"dagy/data/{other}/x")), 401, "unauthorized")
    assert_error(
        client.get(url(claimed, f"dagy/data/{other}/x"), headers=run_token(claimed)), 403, "forbidden_key"
    )


def test_another_orgs_key_does_not_see_the_run(
    client: TestClient, app: FastAPI, claimed: dict[str, Any]
) -> None:
    stranger = api_key(client, new_org(app, client), *WORKER_SCOPES)
    assert_error(client.put(url(claimed, "x.json"), headers=stranger, content=b"1"), 404, "not_found")
    assert_error(client.get(url(claimed, "x.json"), headers=stranger), 404, "not_found")


def test_the_owning_orgs_key_is_a_worker_for_it(
    client: TestClient, owner: Caller, claimed: dict[str, Any]
) -> None:
    key = api_key(client, owner, *WORKER_SCOPES)
    assert client.put(url(claimed, "k.json"), headers=key, content=b"1").status_code == 200


def test_a_worker_without_the_lease_gets_409(
    client: TestClient, settings: Settings, claimed: dict[str, Any]
) -> None:
    stale = url(claimed, "x.json", attempt=claimed["attempt"] + 1)
    assert_error(client.put(stale, headers=worker_headers(settings), content=b"1"), 409, "lease_lost")
    other = url(claimed, "x.json", worker_id="w2")
    assert_error(client.get(other, headers=worker_headers(settings)), 409, "lease_lost")
    # The run's token is bound to its worker and attempt: it does not open another's.
    assert_error(client.get(other, headers=run_token(claimed)), 401, "unauthorized")


def test_an_oversize_object_is_refused_with_413(client: TestClient, claimed: dict[str, Any]) -> None:
    large = b"x" * (2 * 1024 * 1024 + 10)  # over the request limit, within the object limit
    assert client.put(url(claimed, "big.bin"), headers=run_token(claimed), content=large).status_code == 200
    body = assert_error(
        client.put(url(claimed, "huge.bin"), headers=run_token(claimed), content=b"x" * (OBJECT_LIMIT + 1)),
        413,
        "object_too_large",
    )
    assert body["details"] == {"body": f"at most {OBJECT_LIMIT} bytes (DAGY_MAX_OBJECT_BYTES)"}
    assert client.get(url(claimed, "huge.bin"), headers=run_token(claimed)).status_code == 404

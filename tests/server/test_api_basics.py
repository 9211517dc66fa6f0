"""Cross-cutting behaviour of every route: error bodies, body limits, OpenAPI, request ids."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import new_org


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/v1/auth/login" in paths and "/v1/orgs/{org_id}/members" in paths
    assert client.get("/v1/docs").status_code == 200


def test_unknown_route_and_method_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = client.delete("/v1/auth/login")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == {"error", "message", "details"}


def test_declared_oversized_body_is_413(client: TestClient) -> None:
    body = b'{"email": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    response = client.post("/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "body" in response.json()["details"]


def test_streamed_oversized_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b"a" * 100_000

    response = client.post("/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_every_response_has_a_request_id(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    first = client.get("/v1/me", headers=owner.headers).headers["X-Request-Id"]
    second = client.get("/v1/me", headers=owner.headers).headers["X-Request-Id"]
    assert first and second and first != second


def test_wrong_types_name_the_field(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/orgs", json={"org_name": ["not", "a", "string"]}, headers=owner.headers)
    assert response.status_code == 400
    assert "org_name" in response.json()["details"]
    response = client.post("/v1/orgs", json=["a list"], headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"]


def test_unhandled_error_is_500_with_request_id_and_stored_trace(app: FastAPI, client: TestClient) -> None:
    """A real fault (the database loses a table under the running app) reaches the client as a bare
    500 with its request id; the trace is kept in the object store (`exceptions/`), not in the
    response."""
    owner = new_org(app, client)
    with app.state.db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE membership RENAME TO membership_away")
    try:
        with TestClient(app, raise_server_exceptions=False) as plain:
            response = plain.get("/v1/orgs", headers=owner.headers)
    finally:
        with app.state.db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE membership_away RENAME TO membership")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert "Traceback" not in response.text
    request_id = body["details"]["request_id"]
    assert response.headers["X-Request-Id"] == request_id
    folder = app.state.settings.home / "objects" / "exceptions"
    traces = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    assert [t["request_id"] for t in traces] == [request_id]
    assert "membership" in traces[0]["traceback"]  # the failing statement, for the operator

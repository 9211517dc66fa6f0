"""Traces of unhandled server errors and the `/admin/exceptions` endpoints: a 500 answers a request
id only; its trace, tagged with the request id, route, org and user and stripped of the bearer
token and secret settings, is listed, read, downloaded and deleted by super admins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.api.security import CurrentPrincipal
from dagy.server.settings import Settings
from tests.conftest import SUPERADMIN
from tests.factories import Caller, login, new_org


@pytest.fixture
def failing_client(app: FastAPI, settings: Settings) -> Iterator[TestClient]:
    """The app with one more route, whose handler fails with the caller's token and the server's
    secret key in its message, answered as a client sees it (no exception re-raised in the test)."""
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value()

    @app.get("/v1/test-failure/{token}")
    async def fail(token: str, principal: CurrentPrincipal) -> None:
        raise RuntimeError(f"broken with Bearer {token} and key {secret} and dagy_sk_live_abcdef123456")

    with TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 50000)) as client:
        yield client


def test_an_unhandled_error_is_traced_without_secrets(failing_client: TestClient, app: FastAPI) -> None:
    client = failing_client
    owner: Caller = new_org(app, client)
    answer = client.get(f"/v1/test-failure/{owner.token}", headers=owner.headers)
    assert answer.status_code == 500
    body = answer.json()
    assert body["error"] == "internal_error" and "Traceback" not in answer.text
    request_id = body["details"]["request_id"]
    admin = {"Authorization": f"Bearer {login(client, SUPERADMIN)}"}
    listed = client.get("/v1/admin/exceptions", headers=admin)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["size_bytes"] > 0 and item["created_at"]
    content = client.get("/v1/admin/exceptions/content", params={"key": item["key"]}, headers=admin).json()
    assert content["request_id"] == request_id and content["route"] == "/v1/test-failure/{token}"
    assert content["org_id"] == owner.org_id and content["user_email"] == owner.email
    assert content["exception_type"] == "RuntimeError" and "Traceback" in content["traceback"]
    settings: Settings = app.state.settings
    assert settings.secret_key is not None
    text = str(content)
    for secret in (owner.token, settings.secret_key.get_secret_value(), "dagy_sk_live_abcdef123456"):
        assert secret not in text
    assert "[REDACTED]" in content["message"] and "authorization" not in text.lower()
    download = client.get("/v1/admin/exceptions/download", params={"key": item["key"]}, headers=admin).json()
    assert download["download_url"].endswith(f"/v1/admin/exceptions/content?key={item['key']}")
    assert client.get(download["download_url"], headers=admin).json() == content
    deleted = client.request(
        "DELETE", "/v1/admin/exceptions", headers=admin, json={"keys": [item["key"]] * 2}
    )
    assert deleted.json() == {"deleted": 1}
    assert client.get("/v1/admin/exceptions", headers=admin).json()["items"] == []
    gone = client.get("/v1/admin/exceptions/content", params={"key": item["key"]}, headers=admin)
    assert gone.status_code == 404
    assert (
        client.get("/v1/admin/exceptions/download", params={"key": item["key"]}, headers=admin).status_code
        == 404
    )


def test_trace_keys_are_checked(client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {login(client, SUPERADMIN)}"}
    for key in ("../dagy.db", "trace_x", ""):
        response = client.get("/v1/admin/exceptions/content", params={"key": key}, headers=admin)
        assert response.status_code == 400 and "key" in response.json()["details"], key
    bad = client.request("DELETE", "/v1/admin/exceptions", headers=admin, json={"keys": ["../../etc/passwd"]})
    assert bad.status_code == 400
    assert (
        client.request("DELETE", "/v1/admin/exceptions", headers=admin, json={"keys": []}).status_code == 400
    )
    assert client.get("/v1/admin/exceptions", params={"limit": 0}, headers=admin).status_code == 400

"""`dagy.client.Client`'s generated methods (src/dagy/client/operations.py): the committed module is
what `scripts/generate_client.py` makes of the app's OpenAPI schema today, and the typed methods
speak to the real app (in-process through the test client's transport), raise `ApiError` with the
server's error body, and retry 429 and 503 as the server asks, against a real HTTP server.

After changing a route or a schema: `python scripts/generate_client.py`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.client import ApiError, AsyncClient, Client
from dagy.client.operations import AsyncOperations, Operations
from tests.factories import new_org
from tests.flow_factories import python_node, spec

if TYPE_CHECKING:
    from dagy.client.operations import FlowList, RunRead

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generate_client.py"
RETURN_PARAMS = "def main(inputs, params):\n    return params\n"


def _generator() -> ModuleType:
    loaded = importlib.util.spec_from_file_location("generate_client", SCRIPT)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module  # its dataclasses look their module up
    loaded.loader.exec_module(module)
    return module


def test_the_committed_client_is_generated_from_the_current_schema() -> None:
    generator = _generator()
    assert generator.TARGET.read_text() == generator.render(generator.openapi_schema()), (
        "src/dagy/client/operations.py is not current: run python scripts/generate_client.py"
    )


def test_sync_and_async_operations_are_the_same_methods() -> None:
    names = {name for name in vars(Operations) if not name.startswith("_")}
    assert names == {name for name in vars(AsyncOperations) if not name.startswith("_")}
    assert {"list_flows", "get_flow_version", "trigger_run", "cancel_run", "list_objects"} <= names
    assert not any("claim" in name or "heartbeat" in name for name in names)  # WorkerApi's
    assert "put_object" not in names  # a raw body: not JSON
    assert "request" not in vars(Operations)  # the client's own, not a stub
    assert asyncio.iscoroutinefunction(AsyncOperations.list_flows)


class _ThroughTestClient(httpx.BaseTransport):
    """The app as a sync httpx transport: each request is sent again by the test client (its event
    loop, the app's lifespan started; it speaks its own copy of httpx), the answer read in full."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method, str(request.url), content=request.read(), headers=request.headers.multi_items()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def _api(client: TestClient, token: str | None = None) -> Client:
    """A `Client` speaking to the app in-process."""
    return Client("http://testserver", token, transport=_ThroughTestClient(client), max_retries=0)


def test_login_register_list_trigger_and_get(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    with _api(client) as anonymous:
        token = anonymous.login({"email": owner.email})["access_token"]
    with _api(client, token) as api:
        me = api.me()
        assert (me["user_email"], me["org_id"]) == (owner.email, owner.org_id)
        flow_name = f"typed-{owner.org_id[-8:]}"
        created = api.register_flow_version(
            {"flow_name": flow_name, "flow_spec": spec(python_node("only", RETURN_PARAMS))}
        )
        assert (created["flow_name"], created["flow_version"]) == (flow_name, "1")

        flows: FlowList = api.list_flows(limit=10)
        assert [item["flow_name"] for item in flows["items"]] == [flow_name]
        assert flows.get("next_token") is None
        assert api.get_flow_version(flow_name, "1")["flow_version"] == "1"

        run_id = api.trigger_run({"flow_name": flow_name, "parameters": {"n": 1}}, idempotency_key="k-1")[
            "run_id"
        ]
        again = api.trigger_run({"flow_name": flow_name, "parameters": {"n": 1}}, idempotency_key="k-1")
        assert again["run_id"] == run_id  # the header reached the server
        run: RunRead = api.get_run(run_id)
        assert (run["run_id"], run["status"], run["parameters"]) == (run_id, "queued", {"n": 1})
        assert api.cancel_run(run_id)["run_id"] == run_id
        assert run_id in [r["run_id"] for r in api.list_runs(flow_name=flow_name)["items"]]


def test_an_api_key_as_the_credential(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    with _api(client, owner.token) as api:
        key = api.create_api_key({"name": "typed-client", "scopes": ["flows.read"]})["key"]
    with _api(client, key) as keyed:
        assert keyed.list_flows()["items"] == []
        with pytest.raises(ApiError) as denied:
            keyed.register_flow_version(
                {"flow_name": "nope", "flow_spec": spec(python_node("a", RETURN_PARAMS))}
            )
        assert (denied.value.status_code, denied.value.code) == (403, "forbidden")


def test_a_404_raises_api_error_with_code_and_details(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    with _api(client, owner.token) as api:
        with pytest.raises(ApiError) as missing:
            api.get_run("run_doesnotexist")
        assert missing.value.status_code == 404
        assert missing.value.code == "not_found"
        assert "run" in missing.value.message.lower()
        with pytest.raises(ApiError) as invalid:
            api.list_flows(limit=0)
        assert (invalid.value.status_code, invalid.value.code) == (400, "invalid_input")
        assert "limit" in invalid.value.details
        assert not invalid.value.retryable


def test_the_async_client_through_the_asgi_transport(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)

    async def scenario() -> tuple[list[str], str]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://testserver", owner.token, transport=transport) as api:
            listed = await api.list_flows()
            with pytest.raises(ApiError) as missing:
                await api.get_flow_version("absent", "1")
            return [f["flow_name"] for f in listed["items"]], missing.value.code

    assert asyncio.run(scenario()) == ([], "not_found")


# --- retries, against a real HTTP server on loopback ---------------------------------------------


class _Flaky(BaseHTTPRequestHandler):
    """Answers the first `failures` requests with `status` and `Retry-After`, then 200 JSON."""

    failures: ClassVar[int] = 1
    status: ClassVar[int] = 503
    retry_after: ClassVar[str] = "0"
    seen: ClassVar[list[float]] = []

    def do_GET(self) -> None:
        self.seen.append(time.monotonic())
        if len(self.seen) <= self.failures:
            body = json.dumps({"error": "service_unavailable", "message": "busy", "details": {}}).encode()
            self.send_response(self.status)
            self.send_header("Retry-After", self.retry_after)
        else:
            body = json.dumps({"status": "ok", "attempts": len(self.seen)}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Flaky", (_Flaky,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_503_is_retried_after_its_retry_after(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    with Client(url) as api:
        assert api.health() == {"status": "ok", "attempts": 2}
    assert len(handler.seen) == 2


def test_a_429_waits_as_long_as_retry_after_says(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.status, handler.retry_after = 429, "1"
    with Client(url) as api:
        api.health()
    first, second = handler.seen
    assert second - first >= 0.95  # the server's second, not the client's own backoff (0.5 s)


def test_retries_give_up_after_max_retries(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.failures = 5
    with Client(url, max_retries=2) as api, pytest.raises(ApiError) as unavailable:
        api.health()
    assert (unavailable.value.status_code, unavailable.value.code) == (503, "service_unavailable")
    assert unavailable.value.retryable
    assert len(handler.seen) == 3


def test_the_async_client_retries_too(flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky

    async def health() -> Any:
        async with AsyncClient(url) as api:
            return await api.health()

    assert asyncio.run(health()) == {"status": "ok", "attempts": 2}
    assert len(handler.seen) == 2

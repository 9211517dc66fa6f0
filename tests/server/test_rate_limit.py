"""Per-caller rate limits: headers on every response, 429 with Retry-After, in-process and Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.settings import Settings
from tests.factories import add_member, new_org

LIMIT = 5
REDIS_URL = "redis://127.0.0.1:6379/0"


def _fresh_window() -> None:
    """Counters reset each minute; start a test's burst well inside one window."""
    left = 60 - time.time() % 60
    if left < 5:
        time.sleep(left + 0.1)


def _limited_app(settings: Settings, **overrides: object) -> FastAPI:
    return create_app(
        settings.model_copy(update={"rate_limit_per_minute": LIMIT, **overrides}), migrate=False
    )


def _caller() -> dict[str, str]:
    """A caller of its own: the limit is keyed by the bearer token, valid or not."""
    return {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    with TestClient(_limited_app(settings), client=("198.51.100.7", 50000)) as client:
        yield client


def _assert_headers(headers: Mapping[str, str], limit: int) -> None:
    assert headers["x-ratelimit-limit"] == str(limit)
    remaining = int(headers["x-ratelimit-remaining"])
    assert 0 <= remaining < limit
    reset = int(headers["x-ratelimit-reset"])
    assert time.time() - 1 <= reset <= time.time() + 61
    assert reset % 60 == 0


def test_headers_on_every_kind_of_response(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    limit = app.state.settings.rate_limit_per_minute
    for response in (
        client.get("/v1/me", headers=owner.headers),  # 200, authenticated
        client.get("/v1/health"),  # public
        client.post("/v1/auth/login", json={"email": "nobody@example.com"}),  # public, 401
        client.get("/v1/me"),  # 401
        client.get("/v1/api-keys", headers=viewer.headers),  # 403
        client.delete("/v1/api-keys/key_missing", headers=owner.headers),  # 404
        client.post("/v1/api-keys", json={"name": "k"}, headers=owner.headers),  # 400
        client.get("/v1/no-such-route"),  # 404 from the router
    ):
        assert response.status_code in (200, 400, 401, 403, 404), response.text
        _assert_headers(response.headers, limit)


def test_remaining_counts_down_per_caller(limited: TestClient) -> None:
    _fresh_window()
    caller = _caller()
    remaining = [
        int(limited.get("/v1/me", headers=caller).headers["x-ratelimit-remaining"]) for _ in range(3)
    ]
    assert remaining == [4, 3, 2]


def test_the_sixth_request_is_429_and_other_callers_are_still_served(limited: TestClient) -> None:
    _fresh_window()
    caller, other = _caller(), _caller()
    for _ in range(LIMIT):
        assert limited.get("/v1/health", headers=caller).status_code == 200
    rejected = limited.get("/v1/health", headers=caller)
    assert rejected.status_code == 429
    body = rejected.json()
    assert body["error"] == "rate_limited"
    assert body["message"]
    retry_after = int(rejected.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert body["details"] == {"retry_after_seconds": retry_after}
    assert rejected.headers["x-ratelimit-remaining"] == "0"
    _assert_headers(rejected.headers, LIMIT)
    assert limited.post("/v1/auth/login", json={"email": "a@example.com"}, headers=caller).status_code == 429

    served = limited.get("/v1/health", headers=other)
    assert served.status_code == 200
    assert served.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


def test_anonymous_callers_are_limited_by_address(settings: Settings) -> None:
    _fresh_window()
    app = _limited_app(settings)
    with (
        TestClient(app, client=("203.0.113.10", 1000)) as first,
        TestClient(app, client=("203.0.113.11", 1000)) as second,
    ):
        statuses = [first.get("/v1/health").status_code for _ in range(LIMIT + 1)]
        assert statuses == [200] * LIMIT + [429]
        assert second.get("/v1/health").status_code == 200


def test_made_up_tokens_do_not_escape_the_address_ceiling(settings: Settings) -> None:
    """A new invented token per request is a new caller, but the address ceiling still holds."""
    _fresh_window()
    app = _limited_app(settings, rate_limit_per_minute=1000, rate_limit_per_address_per_minute=LIMIT)
    with (
        TestClient(app, client=("203.0.113.20", 1000)) as attacker,
        TestClient(app, client=("203.0.113.21", 1000)) as neighbour,
    ):
        statuses = [attacker.get("/v1/me", headers=_caller()).status_code for _ in range(LIMIT + 1)]
        assert statuses == [401] * LIMIT + [429]
        rejected = attacker.get("/v1/me", headers=_caller())
        assert rejected.status_code == 429
        assert rejected.headers["x-ratelimit-limit"] == str(LIMIT)
        assert neighbour.get("/v1/me", headers=_caller()).status_code == 401


def test_redis_shares_the_limit_between_app_instances(settings: Settings) -> None:
    _fresh_window()
    caller, other = _caller(), _caller()
    with ExitStack() as stack:
        clients = [
            stack.enter_context(TestClient(_limited_app(settings, redis_url=REDIS_URL))) for _ in range(2)
        ]
        statuses = [clients[i % 2].get("/v1/health", headers=caller).status_code for i in range(LIMIT)]
        assert statuses == [200] * LIMIT
        for client in clients:
            rejected = client.get("/v1/health", headers=caller)
            assert rejected.status_code == 429
            assert rejected.json()["error"] == "rate_limited"
            assert 1 <= int(rejected.headers["retry-after"]) <= 60
        served = clients[1].get("/v1/health", headers=other)
        assert served.status_code == 200
        assert served.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


def test_an_unreachable_redis_fails_open_and_limits_in_process(settings: Settings) -> None:
    _fresh_window()
    caller = _caller()
    app = _limited_app(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(app) as client:
        statuses = [client.get("/v1/me", headers=caller).status_code for _ in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]

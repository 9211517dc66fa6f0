"""AI Studio turns whose planner is an LLM provider (`DAGY_AI_PROVIDER=openai`) on a loopback peer
speaking the OpenAI wire format: the paths the embedded planner never takes, because it never
waits and never fails. A retry while the first try is still being answered is a 409; a provider
that fails is a 503 (or a stream's `error` event) that charges nothing and forgets the turn, so the
retry plans anew."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from tests.ai_studio_factories import balance, grant_credits, new_session, send, session_path
from tests.factories import new_org
from tests.server.ai_studio_planner.llm_peers import Peer, Reply, running_peer

pytestmark = pytest.mark.settings("provider_settings")

QUESTION = "Which of my flows failed this week?"
OVERLOADED: Reply = (400, {"error": {"message": "model overloaded", "type": "invalid_request_error"}})


@pytest.fixture
def peer() -> Iterator[Peer]:
    with running_peer() as peer:
        yield peer


@pytest.fixture
def provider_settings(peer: Peer) -> dict[str, Any]:
    return {
        "ai_provider": "openai",
        "ai_base_url": f"{peer.url}/v1",
        "ai_model": "studio-test",
        "ai_timeout_seconds": 30,
    }


def test_a_retry_while_the_turn_is_answered_is_409_and_a_failed_planner_charges_nothing(
    app: FastAPI, client: TestClient, peer: Peer
) -> None:
    owner = new_org(app, client)
    grant_credits(client, owner, 10.0)
    session = new_session(client, owner)
    arrived, release = threading.Event(), threading.Event()

    def held(_body: dict[str, Any]) -> Reply:
        arrived.set()
        release.wait(30)
        return OVERLOADED

    peer.fallback = held
    first: list[tuple[int, dict[str, Any]]] = []
    ask = threading.Thread(
        target=lambda: first.append(send(client, owner, session, QUESTION, turn_id="held"))
    )
    ask.start()
    try:
        assert arrived.wait(30), "the planner never called the provider"
        status, body = send(client, owner, session, QUESTION, turn_id="held")
        assert status == 409 and body["details"] == {"turn_id": "in progress"}
        streamed = client.post(
            f"{session_path(session)}/messages/stream",
            headers=owner.headers,
            json={"message": QUESTION, "turn_id": "held"},
        )
        assert streamed.status_code == 409 and streamed.headers["retry-after"] == "2"
        (pending,) = client.get(session_path(session), headers=owner.headers).json()["turns"]
        assert (pending["turn_id"], pending["status"], pending["response"]) == ("held", "pending", None)
    finally:
        release.set()
        ask.join(30)
    ((status, body),) = first
    assert status == 503 and body["error"] == "service_unavailable"
    assert "model overloaded" in body["details"]["planner"]
    assert balance(client, owner) == 10.0
    assert client.get(session_path(session), headers=owner.headers).json()["turns"] == []  # forgotten

    peer.fallback = lambda _body: "None of your flows failed this week."
    status, body = send(client, owner, session, QUESTION, turn_id="held")  # the retry plans anew
    assert status == 200 and body["response"] == "None of your flows failed this week."
    assert body["workflow_status"] == "advisory" and balance(client, owner) == 6.0


def test_a_streamed_turn_whose_provider_fails_ends_with_an_error_event(
    app: FastAPI, client: TestClient, peer: Peer
) -> None:
    owner = new_org(app, client)
    grant_credits(client, owner, 10.0)
    session = new_session(client, owner)
    peer.fallback = lambda _body: OVERLOADED
    with connect_sse(
        client,
        "POST",
        f"{session_path(session)}/messages/stream",
        headers=owner.headers,
        json={"message": QUESTION},
    ) as source:
        assert source.response.status_code == 200
        events = list(source.iter_sse())
    assert events[0].event == "status" and [e.event for e in events].count("error") == 1
    assert events[-1].event == "error" and "done" not in [e.event for e in events]
    error = json.loads(events[-1].data)
    assert error["error"] == "service_unavailable" and set(error) == {"error", "message", "details"}
    assert balance(client, owner) == 10.0
    assert client.get(session_path(session), headers=owner.headers).json()["turns"] == []

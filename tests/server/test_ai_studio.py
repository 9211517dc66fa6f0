"""AI Studio's sessions through HTTP: tiers and the org's balance, create, list (the caller's own,
paged, archived ones left out), read, rename, change tier, save the canvas, bind to a flow and
resolve it, archive, delete; every query scoped to the caller's org and user; changes audited."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.ai_studio_factories import balance, grant_credits, new_session, session_path
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

CANVAS = {
    "nodes": [
        {"id": "read", "type": "s3_ingest", "position": {"x": 0, "y": 0}, "data": {"bucket": "in"}},
        {"id": "write", "type": "s3_write", "position": [280, 0], "data": {"bucket": "out"}},
    ],
    "edges": [{"id": "e1", "source": "read", "target": "write"}],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}


def _flow(client: TestClient, caller: Caller) -> str:
    return register_flow(
        client, caller, spec(python_node("step", "def main(inputs, params):\n    return 1\n"))
    )


def test_tiers_list_prices_limits_and_the_orgs_credits(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    body = client.get("/v1/ai-studio/tiers", headers=owner.headers).json()
    assert [tier["tier_id"] for tier in body["tiers"]] == ["fast", "standard", "max"]
    assert body["default_tier"] == "standard" and body["credits_balance"] == 0.0
    prices = [tier["credits_per_turn"] for tier in body["tiers"]]
    assert prices == sorted(prices) and all(price > 0 for price in prices)
    for tier in body["tiers"]:
        assert set(tier) == {"tier_id", "name", "description", "credits_per_turn", "limits"}
        assert tier["limits"]["max_attachment_bytes"] == 25 * 1024 * 1024
        assert tier["limits"]["turns_per_session"] > 0 and tier["limits"]["attachments_per_session"] > 0
    grant_credits(client, owner, 42.5)
    assert balance(client, owner) == 42.5


def test_create_read_rename_retier_save_canvas_archive_delete(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = new_session(client, owner, title="Orders cleanup", tier="fast")
    assert created["session_id"].startswith("ais_")
    assert created | {"session_id": None, "created_at": None, "updated_at": None} == {
        "session_id": None,
        "title": "Orders cleanup",
        "tier": "fast",
        "status": "active",
        "flow_name": None,
        "turn_count": 0,
        "credits_used": 0.0,
        "created_at": None,
        "updated_at": None,
        "archived_at": None,
        "canvas_state": None,
        "turns": [],
        "attachments": [],
        "artifacts": {"pipeline_yaml": None, "pipeline_python": None, "validation": None},
    }
    path = session_path(created)
    assert client.get(path, headers=owner.headers).json() == created
    assert new_session(client, owner)["tier"] == "standard"  # the default tier and title
    assert new_session(client, owner)["title"] == "New session"

    renamed = client.patch(f"{path}/title", headers=owner.headers, json={"title": "Orders v2"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Orders v2"
    assert renamed.json()["updated_at"] >= created["updated_at"]
    retiered = client.patch(f"{path}/tier", headers=owner.headers, json={"tier": "max"})
    assert retiered.status_code == 200 and retiered.json()["tier"] == "max"

    saved = client.patch(f"{path}/canvas", headers=owner.headers, json={"canvas_state": CANVAS})
    assert saved.status_code == 200, saved.text
    assert saved.json()["session_id"] == created["session_id"] and saved.json()["canvas_state"] == CANVAS
    read = client.get(path, headers=owner.headers).json()
    assert (read["title"], read["tier"], read["canvas_state"]) == ("Orders v2", "max", CANVAS)

    archived = client.post(f"{path}/archive", headers=owner.headers)
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert archived.json()["archived_at"] is not None
    again = client.post(f"{path}/archive", headers=owner.headers)  # archiving twice changes nothing
    assert again.status_code == 200 and again.json()["archived_at"] == archived.json()["archived_at"]
    refused = client.post(f"{path}/messages", headers=owner.headers, json={"message": "Build it."})
    assert refused.status_code == 409 and refused.json()["details"] == {"session_id": "archived"}

    assert client.delete(path, headers=owner.headers).status_code == 204
    gone = client.get(path, headers=owner.headers)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    assert client.delete(path, headers=owner.headers).status_code == 404


def test_bodies_are_checked_naming_the_field(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    path = session_path(new_session(client, owner))

    def refused(method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.request(method, url, headers=owner.headers, json=body)
        assert response.status_code == 400, (url, body, response.text)
        assert response.json()["error"] == "invalid_input"
        details: dict[str, Any] = response.json()["details"]
        return details

    assert "tier" in refused("POST", "/v1/ai-studio/sessions", {"tier": "turbo"})
    assert "title" in refused("POST", "/v1/ai-studio/sessions", {"title": "x" * 129})
    assert "owner" in refused("POST", "/v1/ai-studio/sessions", {"owner": "me"})  # unknown fields
    assert "flow_name" in refused("POST", "/v1/ai-studio/sessions", {"flow_name": "../etc"})
    assert "tier" in refused("PATCH", f"{path}/tier", {"tier": "turbo"})
    assert "title" in refused("PATCH", f"{path}/title", {"title": ""})
    assert "canvas_state" in refused("PATCH", f"{path}/canvas", {})
    assert "flow_name" in refused("POST", f"{path}/bind-flow", {})
    problems = refused(
        "PATCH",
        f"{path}/canvas",
        {"canvas_state": {"nodes": [{"id": "a", "type": "s3_ingest", "position": "left", "data": {}}]}},
    )
    assert problems == {
        "canvas_state.nodes[0].position": 'required: [x, y] or {"x": x, "y": y}, finite numbers',
        "canvas_state.edges": "required: a list of edges",
    }
    assert client.get(path, headers=owner.headers).json()["canvas_state"] is None


def test_the_list_holds_the_callers_own_sessions_newest_first_in_pages(
    app: FastAPI, client: TestClient
) -> None:
    owner = new_org(app, client)
    colleague = add_member(app, client, owner, "developer")
    mine = [new_session(client, owner, title=f"mine {i}") for i in range(3)]
    theirs = new_session(client, colleague, title="theirs")

    first = client.get("/v1/ai-studio/sessions", headers=owner.headers, params={"limit": 2}).json()
    assert [s["title"] for s in first["items"]] == ["mine 2", "mine 1"] and first["next_token"]
    rest = client.get(
        "/v1/ai-studio/sessions",
        headers=owner.headers,
        params={"limit": 2, "next_token": first["next_token"]},
    ).json()
    assert [s["title"] for s in rest["items"]] == ["mine 0"] and rest["next_token"] is None
    summary = first["items"][0]
    assert set(summary) == {
        "session_id", "title", "tier", "status", "flow_name", "turn_count", "credits_used",
        "created_at", "updated_at", "archived_at",
    }  # fmt: skip
    assert summary == {k: v for k, v in mine[2].items() if k in summary}
    listed = client.get("/v1/ai-studio/sessions", headers=colleague.headers).json()["items"]
    assert [s["session_id"] for s in listed] == [theirs["session_id"]]

    client.post(f"{session_path(mine[1])}/archive", headers=owner.headers)
    active = client.get("/v1/ai-studio/sessions", headers=owner.headers).json()["items"]
    assert [s["title"] for s in active] == ["mine 2", "mine 0"]
    every = client.get("/v1/ai-studio/sessions", headers=owner.headers, params={"include_archived": True})
    assert [s["status"] for s in every.json()["items"]] == ["active", "archived", "active"]
    bad = client.get("/v1/ai-studio/sessions", headers=owner.headers, params={"limit": 101})
    assert bad.status_code == 400 and "limit" in bad.json()["details"]


def test_a_session_is_its_creators_alone_and_another_orgs_is_not_found(
    app: FastAPI, client: TestClient
) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    stranger = new_org(app, client)
    session = new_session(client, owner, title="private")
    path = session_path(session)
    probes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", path, None),
        ("DELETE", path, None),
        ("POST", f"{path}/archive", None),
        ("PATCH", f"{path}/title", {"title": "mine now"}),
        ("PATCH", f"{path}/tier", {"tier": "fast"}),
        ("PATCH", f"{path}/canvas", {"canvas_state": CANVAS}),
        ("POST", f"{path}/bind-flow", {"flow_name": "anything"}),
        ("POST", f"{path}/messages", {"message": "Build a workflow."}),
        ("POST", f"{path}/messages/stream", {"message": "Build a workflow."}),
        (
            "POST",
            f"{path}/attachments/initiate",
            {"filename": "a.txt", "content_type": "text/plain", "size": 3},
        ),
        ("POST", f"{path}/attachments/complete", {"attachment_id": "aiatt_x", "etag": "x"}),
        ("DELETE", f"{path}/attachments/aiatt_x", None),
    ]
    for caller in (admin, stranger):  # an org admin is refused like another org: 404, never 403
        for method, url, body in probes:
            response = client.request(method, url, headers=caller.headers, json=body)
            assert response.status_code == 404, (caller.role, method, url, response.status_code)
            assert response.json()["details"] == {"session_id": "no such session"}
    assert client.get(path, headers=owner.headers).json()["title"] == "private"  # nothing changed
    missing = client.get("/v1/ai-studio/sessions/ais_missing", headers=owner.headers)
    assert missing.status_code == 404


def test_who_may_call(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    developer = add_member(app, client, owner, "developer")
    assert client.get("/v1/ai-studio/tiers").status_code == 401
    assert client.get("/v1/ai-studio/sessions").status_code == 401
    for url in ("/v1/ai-studio/tiers", "/v1/ai-studio/sessions"):  # flows.write, as the reference says
        refused = client.get(url, headers=viewer.headers)
        assert refused.status_code == 403 and refused.json()["details"] == {
            "required_permission": "flows.write"
        }
    assert client.post("/v1/ai-studio/sessions", headers=developer.headers, json={}).status_code == 201


def test_bind_a_flow_and_resolve_the_session_of_a_flow(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    flow_name, other_flow = _flow(client, owner), _flow(client, owner)
    first = new_session(client, owner, flow_name=flow_name)
    assert first["flow_name"] == flow_name
    by_flow = client.get(f"/v1/ai-studio/sessions/by-flow/{flow_name}", headers=owner.headers)
    assert by_flow.status_code == 200 and by_flow.json() == first

    second = new_session(client, owner)
    bound = client.post(
        f"{session_path(second)}/bind-flow", headers=owner.headers, json={"flow_name": flow_name}
    )
    assert bound.status_code == 200 and bound.json()["flow_name"] == flow_name
    resolved = client.get(f"/v1/ai-studio/sessions/by-flow/{flow_name}", headers=owner.headers).json()
    assert resolved["session_id"] == second["session_id"]  # the one bound last
    rebound = client.post(
        f"{session_path(second)}/bind-flow", headers=owner.headers, json={"flow_name": other_flow}
    )
    assert rebound.json()["flow_name"] == other_flow
    resolved = client.get(f"/v1/ai-studio/sessions/by-flow/{flow_name}", headers=owner.headers).json()
    assert resolved["session_id"] == first["session_id"]

    missing = client.post(
        f"{session_path(second)}/bind-flow", headers=owner.headers, json={"flow_name": "nope"}
    )
    assert missing.status_code == 404 and missing.json()["details"] == {"flow_name": "no such flow"}
    created = client.post("/v1/ai-studio/sessions", headers=owner.headers, json={"flow_name": "nope"})
    assert created.status_code == 404 and created.json()["details"] == {"flow_name": "no such flow"}
    unbound = client.get(f"/v1/ai-studio/sessions/by-flow/{unique('flow')}", headers=owner.headers)
    assert unbound.status_code == 404 and unbound.json()["details"] == {"flow_name": "no bound session"}
    colleague = add_member(app, client, owner, "developer")  # another user's binding is not theirs
    assert (
        client.get(f"/v1/ai-studio/sessions/by-flow/{flow_name}", headers=colleague.headers).status_code
        == 404
    )
    stranger = new_org(app, client)  # another org's flow of the same name does not exist for them
    foreign = client.post("/v1/ai-studio/sessions", headers=stranger.headers, json={"flow_name": flow_name})
    assert foreign.status_code == 404


def test_create_bind_archive_and_delete_are_audited(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    flow_name = _flow(client, owner)
    session = new_session(client, owner, title="audited")
    path = session_path(session)
    client.post(f"{path}/bind-flow", headers=owner.headers, json={"flow_name": flow_name})
    client.post(f"{path}/archive", headers=owner.headers)
    client.delete(path, headers=owner.headers)
    trail = client.get(
        f"/v1/audit-logs/resource/ai_studio_session/{session['session_id']}", headers=owner.headers
    ).json()["items"]
    assert [(row["action"], row["changes"].get("operation")) for row in trail] == [
        ("delete", None),
        ("update", "archive"),
        ("update", "bind_flow"),
        ("create", None),
    ]
    assert trail[2]["changes"]["flow_name"] == [None, flow_name]
    assert trail[1]["changes"]["status"] == ["active", "archived"]
    assert trail[3]["changes"]["title"] == [None, "audited"]
    assert {row["actor_email"] for row in trail} == {owner.email}

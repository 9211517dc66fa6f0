"""DAG drafts through HTTP: the builder's canvases, checked for shape only, tenant-scoped, audited;
a draft's canvas registers unchanged as a flow and runs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import trigger, wait_for_run

FIRST = "def main(inputs, params):\n    return params['x'] * 10\n"
SECOND = "def main(inputs, params):\n    return inputs['node_1'] + 1\n"


def _canvas() -> dict[str, Any]:
    """A canvas as the builder saves it: positions, edge ids, a viewport the engine never reads."""
    return {
        "nodes": [
            {"id": "node_1", "type": "python_function", "position": [0, 0], "data": {"code": FIRST}},
            {
                "id": "node_2",
                "type": "python_function",
                "position": {"x": 200.5, "y": -40},
                "data": {"code": SECOND},
                "width": 180,
            },
        ],
        "edges": [{"id": "edge_1", "source": "node_1", "target": "node_2"}],
        "viewport": {"x": 0, "y": 0, "zoom": 1.25},
    }


def _create(client: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    payload = {"name": unique("draft"), "canvas_json": _canvas()} | body
    response = client.post("/v1/dag-drafts", headers=caller.headers, json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_create_read_update_delete(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    created = _create(
        client,
        owner,
        name="Data Processing Pipeline v2",
        description="Process customer data",
        flow_name="data-processing-v2",
        executor="kubernetes",
    )
    assert created["draft_id"].startswith("draft_")
    assert created | {"draft_id": None, "created_at": None, "updated_at": None} == {
        "draft_id": None,
        "name": "Data Processing Pipeline v2",
        "description": "Process customer data",
        "flow_name": "data-processing-v2",
        "executor": "kubernetes",
        "created_at": None,
        "updated_at": None,
    }
    path = f"/v1/dag-drafts/{created['draft_id']}"
    read = client.get(path, headers=owner.headers).json()
    assert read == created | {"canvas_json": _canvas()}

    updated = client.put(path, headers=owner.headers, json={"name": "v3", "description": None})
    assert updated.status_code == 200, updated.text
    assert set(updated.json()) == {"draft_id", "name", "updated_at"} and updated.json()["name"] == "v3"
    assert updated.json()["updated_at"] >= created["updated_at"]
    read = client.get(path, headers=owner.headers).json()
    assert (read["name"], read["description"], read["flow_name"], read["executor"]) == (
        "v3",
        None,
        "data-processing-v2",
        "kubernetes",
    )
    canvas = {"nodes": [], "edges": []}
    assert client.put(path, headers=owner.headers, json={"canvas_json": canvas}).status_code == 200
    assert client.get(path, headers=owner.headers).json()["canvas_json"] == canvas

    deleted = client.delete(path, headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    for method in ("GET", "DELETE"):
        assert client.request(method, path, headers=owner.headers).status_code == 404
    assert client.put(path, headers=owner.headers, json={"name": "x"}).status_code == 404


MISSING = object()


def _one_node(**fields: Any) -> dict[str, Any]:
    """A canvas of one node whose fields are overridden (`MISSING` leaves one out)."""
    node = {"id": "a", "type": "t", "position": [0, 0], "data": {}} | fields
    return {"nodes": [{k: v for k, v in node.items() if v is not MISSING}], "edges": []}


@pytest.mark.parametrize(
    ("canvas", "field"),
    [
        ({"edges": []}, "canvas_json.nodes"),
        ({"nodes": []}, "canvas_json.edges"),
        ({"nodes": {}, "edges": []}, "canvas_json.nodes"),
        ({"nodes": ["x"], "edges": []}, "canvas_json.nodes[0]"),
        (_one_node(id=MISSING), "canvas_json.nodes[0].id"),
        (_one_node(id=""), "canvas_json.nodes[0].id"),
        (_one_node(type=MISSING), "canvas_json.nodes[0].type"),
        (_one_node(position=MISSING), "canvas_json.nodes[0].position"),
        (_one_node(position=[0]), "canvas_json.nodes[0].position"),
        (_one_node(position=[0, 1, 2]), "canvas_json.nodes[0].position"),
        (_one_node(position=["0", 1]), "canvas_json.nodes[0].position"),
        (_one_node(position=[True, 1]), "canvas_json.nodes[0].position"),
        (_one_node(position={"x": 1}), "canvas_json.nodes[0].position"),
        (_one_node(data=MISSING), "canvas_json.nodes[0].data"),
        (_one_node(data=[]), "canvas_json.nodes[0].data"),
        ({"nodes": [], "edges": [{"source": "a", "target": "b"}]}, "canvas_json.edges[0].id"),
        ({"nodes": [], "edges": [{"id": "e", "target": "b"}]}, "canvas_json.edges[0].source"),
        ({"nodes": [], "edges": [{"id": "e", "source": "a", "target": 3}]}, "canvas_json.edges[0].target"),
        ({"nodes": [], "edges": [{"id": "e", "source": "a", "target": "b"}] * 2}, "canvas_json.edges[1].id"),
    ],
)
def test_a_malformed_canvas_is_400_naming_the_element(
    client: TestClient, app: FastAPI, canvas: dict[str, Any], field: str
) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/dag-drafts", headers=owner.headers, json={"name": "d", "canvas_json": canvas})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input" and field in response.json()["details"]
    draft = _create(client, owner)
    put = client.put(
        f"/v1/dag-drafts/{draft['draft_id']}", headers=owner.headers, json={"canvas_json": canvas}
    )
    assert put.status_code == 400 and field in put.json()["details"]


def test_every_bad_element_is_named_at_once(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    good = {"id": "a", "type": "t", "position": [0, 0], "data": {}}
    canvas = {
        "nodes": [good, good | {"position": None}, good | {"id": "b", "data": 1}],
        "edges": [{"id": "e", "source": "a"}],
    }
    response = client.post("/v1/dag-drafts", headers=owner.headers, json={"name": "d", "canvas_json": canvas})
    assert response.status_code == 400
    assert response.json()["details"] == {
        "canvas_json.nodes[1].position": 'required: [x, y] or {"x": x, "y": y}, finite numbers',
        "canvas_json.nodes[1].id": "duplicate id 'a'",
        "canvas_json.nodes[2].data": "required: an object",
        "canvas_json.edges[0].target": "required: a string of 1-128 characters",
    }


def test_a_draft_is_not_checked_against_the_registry(client: TestClient, app: FastAPI) -> None:
    """Half-drawn: an unknown node type, empty config, an edge to a node not placed yet."""
    owner = new_org(app, client)
    canvas = {
        "nodes": [{"id": "a", "type": "not-yet-chosen", "position": [1, 2], "data": {}}],
        "edges": [{"id": "e", "source": "a", "target": "later"}],
    }
    assert _create(client, owner, canvas_json=canvas)["draft_id"]


def test_size_and_field_limits(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    big = {"nodes": [], "edges": [], "notes": "x" * (1024 * 1024)}
    response = client.post("/v1/dag-drafts", headers=owner.headers, json={"name": "d", "canvas_json": big})
    assert response.status_code == 400 and "canvas_json" in response.json()["details"]
    for body in (
        {"canvas_json": _canvas()},  # no name
        {"name": "d"},  # no canvas
        {"name": "", "canvas_json": _canvas()},
        {"name": "d", "canvas_json": _canvas(), "executor": "Not An Executor"},
        {"name": "d", "canvas_json": _canvas(), "flow_name": "bad name"},
        {"name": "d", "canvas_json": _canvas(), "surprise": 1},
        {"name": "d", "canvas_json": [1, 2]},
    ):
        assert client.post("/v1/dag-drafts", headers=owner.headers, json=body).status_code == 400, body
    draft = _create(client, owner)
    for body in ({"name": None}, {"canvas_json": None}, {"surprise": 1}):
        put = client.put(f"/v1/dag-drafts/{draft['draft_id']}", headers=owner.headers, json=body)
        assert put.status_code == 400, body


def test_list_pages_newest_first_without_canvases(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    assert client.get("/v1/dag-drafts", headers=owner.headers).json() == {"items": [], "next_token": None}
    ids = [_create(client, owner, description=str(i))["draft_id"] for i in range(25)]
    first = client.get("/v1/dag-drafts", headers=owner.headers).json()
    assert len(first["items"]) == 20 and first["next_token"]
    assert set(first["items"][0]) == {
        "draft_id",
        "name",
        "description",
        "flow_name",
        "created_at",
        "updated_at",
    }
    seen: list[str] = []
    token = None
    while True:
        params = {"limit": 6} | ({"next_token": token} if token else {})
        page = client.get("/v1/dag-drafts", headers=owner.headers, params=params).json()
        seen += [d["draft_id"] for d in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == list(reversed(ids))
    assert client.get("/v1/dag-drafts", headers=owner.headers, params={"limit": 101}).status_code == 400


def test_drafts_belong_to_their_org(client: TestClient, app: FastAPI) -> None:
    owner, stranger = new_org(app, client), new_org(app, client)
    draft = _create(client, owner)
    path = f"/v1/dag-drafts/{draft['draft_id']}"
    assert client.get(path, headers=stranger.headers).status_code == 404
    assert client.put(path, headers=stranger.headers, json={"name": "mine now"}).status_code == 404
    assert client.delete(path, headers=stranger.headers).status_code == 404
    assert client.get("/v1/dag-drafts", headers=stranger.headers).json()["items"] == []
    assert client.get(path, headers=owner.headers).json()["name"] == draft["name"]


def test_a_viewer_reads_drafts_but_does_not_write(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    draft = _create(client, owner)
    path = f"/v1/dag-drafts/{draft['draft_id']}"
    assert client.get(path, headers=viewer.headers).status_code == 200
    assert client.get("/v1/dag-drafts", headers=viewer.headers).status_code == 200
    body = {"name": "d", "canvas_json": _canvas()}
    assert client.post("/v1/dag-drafts", headers=viewer.headers, json=body).status_code == 403
    assert client.put(path, headers=viewer.headers, json={"name": "x"}).status_code == 403
    assert client.delete(path, headers=viewer.headers).status_code == 403
    assert client.get("/v1/dag-drafts").status_code == 401


def test_changes_are_audited(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    draft = _create(client, owner, name="before")
    path = f"/v1/dag-drafts/{draft['draft_id']}"
    client.put(path, headers=owner.headers, json={"name": "after", "canvas_json": {"nodes": [], "edges": []}})
    client.delete(path, headers=owner.headers)
    trail = client.get(f"/v1/audit-logs/resource/dag_draft/{draft['draft_id']}", headers=owner.headers).json()
    assert [i["action"] for i in trail["items"]] == ["delete", "update", "create"]
    assert trail["items"][1]["changes"] == {"name": ["before", "after"], "canvas_json": "canvas changed"}


def test_a_drafts_canvas_registers_unchanged_as_a_flow_and_runs(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    draft = _create(client, owner, flow_name=unique("from-draft"))
    canvas = client.get(f"/v1/dag-drafts/{draft['draft_id']}", headers=owner.headers).json()["canvas_json"]
    registered = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": draft["flow_name"], "flow_spec": canvas}
    )
    assert registered.status_code == 201, registered.text
    latest = client.get(f"/v1/flows/{draft['flow_name']}/latest", headers=owner.headers).json()
    assert latest["flow_spec"] == _canvas()  # positions and edge ids kept for the builder
    run = wait_for_run(
        client, owner, trigger(client, owner, draft["flow_name"], parameters={"x": 4})["run_id"]
    )
    assert (run["status"], run["output"]) == ("completed", 41)

    half_drawn = {
        "nodes": [{"id": "a", "type": "not-yet-chosen", "position": [0, 0], "data": {}}],
        "edges": [],
    }
    unchecked = _create(client, owner, canvas_json=half_drawn)
    canvas = client.get(f"/v1/dag-drafts/{unchecked['draft_id']}", headers=owner.headers).json()[
        "canvas_json"
    ]
    refused = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": canvas}
    )
    assert refused.status_code == 400 and "flow_spec.nodes[0].type" in refused.json()["details"]

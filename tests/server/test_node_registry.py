"""`/nodes/registry...` and `/nodes/validate-connection`: the built-in catalogue, an org's custom node
types (versions, audit, isolation between orgs), search, categories and connection checks."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import AuditLog, CustomNode, CustomNodeVersion
from tests.factories import Caller, add_member, new_org, unique

CATEGORY_COUNTS = {
    "ingestion": 5,
    "transform": 5,
    "llm": 4,
    "vectordb": 3,
    "notification": 4,
    "custom": 3,
    "control_flow": 4,
}


def enricher(node_type: str | None = None, **changes: Any) -> dict[str, Any]:
    """The reference's example of a custom node."""
    return {
        "node_type": node_type or unique("enricher").replace("-", "_"),
        "label": "Data Enricher",
        "description": "Enriches records with external data",
        "category": "transform",
        "icon": "Sparkles",
        "color": "violet",
        "tags": ["crm", "lookup"],
        "connectors": [
            {
                "id": "data_in",
                "name": "Input",
                "direction": "inbound",
                "data_types": ["json", "dataframe"],
                "cardinality": "zero_or_many",
                "required": True,
            },
            {
                "id": "enriched_out",
                "name": "Enriched",
                "direction": "outbound",
                "data_types": ["json"],
                "cardinality": "zero_or_many",
            },
        ],
        "config_schema": [
            {"name": "api_url", "label": "API URL", "type": "string", "required": True},
            {"name": "api_key_ref", "label": "API Key", "type": "string", "required": True},
        ],
        "import_path": "my_org.nodes.enricher:DataEnricherNode",
        **changes,
    }


def register(client: TestClient, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/nodes/registry", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_registry_lists_28_builtins_then_the_orgs_custom_nodes(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    body = client.get("/v1/nodes/registry", headers=owner.headers).json()
    assert (body["total"], body["builtin_count"], body["custom_count"]) == (28, 28, 0)
    assert body["items"][0]["node_type"] == "s3_ingest" and body["items"][0]["official"] is True
    mine = register(client, owner, enricher())
    body = client.get("/v1/nodes/registry", headers=owner.headers).json()
    assert (body["total"], body["builtin_count"], body["custom_count"]) == (29, 28, 1)
    assert body["items"][-1]["node_type"] == mine["node_type"] and body["items"][-1]["official"] is False
    without = client.get(
        "/v1/nodes/registry", headers=owner.headers, params={"include_custom": "false"}
    ).json()
    assert (without["total"], without["custom_count"]) == (28, 0)
    own = client.get("/v1/nodes/registry", headers=owner.headers, params={"org_id": owner.org_id}).json()
    assert own["custom_count"] == 1
    other = new_org(app, client)
    foreign = client.get("/v1/nodes/registry", headers=owner.headers, params={"org_id": other.org_id})
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    assert client.get("/v1/nodes/registry", headers=other.headers).json()["custom_count"] == 0


def test_builtin_and_custom_lists_are_separate(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())
    builtin = client.get("/v1/nodes/registry/builtin", headers=owner.headers).json()
    assert (builtin["total"], builtin["builtin_count"], builtin["custom_count"]) == (28, 28, 0)
    assert all(item["official"] for item in builtin["items"])
    custom = client.get("/v1/nodes/registry/custom", headers=owner.headers).json()
    assert [i["node_type"] for i in custom["items"]] == [mine["node_type"]]
    assert (custom["total"], custom["builtin_count"], custom["custom_count"]) == (1, 0, 1)
    stranger = new_org(app, client)
    assert client.get("/v1/nodes/registry/custom", headers=stranger.headers).json()["items"] == []


def test_categories_have_their_counts(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    body = client.get("/v1/nodes/registry/categories", headers=owner.headers).json()
    assert {c["id"]: c["count"] for c in body["categories"]} == CATEGORY_COUNTS
    assert [c["label"] for c in body["categories"]] == [
        "Ingestion",
        "Transform",
        "LLM",
        "Vector DB",
        "Notifications",
        "Custom Code",
        "Control Flow",
    ]
    register(client, owner, enricher())
    counted = client.get("/v1/nodes/registry/categories", headers=owner.headers).json()["categories"]
    assert {c["id"]: c["count"] for c in counted}["transform"] == 6
    builtin_only = client.get(
        "/v1/nodes/registry/categories", headers=owner.headers, params={"include_custom": "false"}
    ).json()["categories"]
    assert {c["id"]: c["count"] for c in builtin_only} == CATEGORY_COUNTS


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("slack", {"slack_notify"}),
        ("SLACK", {"slack_notify"}),
        ("pagerduty", {"pagerduty_alert"}),  # type
        ("Schema Validator", {"schema_validator"}),  # label, two words
        ("jmespath", {"json_transform"}),  # description and tags
        ("vector delete", {"vector_delete"}),
        ("gdpr", {"vector_delete"}),  # a tag only
        ("no such thing anywhere", set()),
    ],
)
def test_search_matches_type_label_description_and_tags(
    client: TestClient, app: FastAPI, q: str, expected: set[str]
) -> None:
    owner = new_org(app, client)
    body = client.get("/v1/nodes/registry/search", headers=owner.headers, params={"q": q}).json()
    assert {item["node_type"] for item in body["items"]} == expected
    assert body["total"] == len(expected)


def test_search_finds_custom_nodes_and_needs_a_query(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher(tags=["Zebra-Lookup"]))
    found = client.get("/v1/nodes/registry/search", headers=owner.headers, params={"q": "zebra"}).json()
    assert [i["node_type"] for i in found["items"]] == [mine["node_type"]] and found["custom_count"] == 1
    hidden = client.get(
        "/v1/nodes/registry/search", headers=owner.headers, params={"q": "zebra", "include_custom": "false"}
    ).json()
    assert hidden["items"] == []
    missing = client.get("/v1/nodes/registry/search", headers=owner.headers)
    assert missing.status_code == 400 and "q" in missing.json()["details"]
    empty = client.get("/v1/nodes/registry/search", headers=owner.headers, params={"q": ""})
    assert empty.status_code == 400


def test_one_node_type_by_name(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    s3 = client.get("/v1/nodes/registry/s3_ingest", headers=owner.headers)
    assert s3.status_code == 200
    body = s3.json()
    assert (body["label"], body["category"], body["official"], body["executable"]) == (
        "S3 Ingest",
        "ingestion",
        True,
        True,
    )
    assert body["version"] is None and body["connectors"][1]["id"] == "data_out"
    assert (
        client.get("/v1/nodes/registry/python_function", headers=owner.headers).json()["executable"] is True
    )
    mine = register(client, owner, enricher())
    custom = client.get(f"/v1/nodes/registry/{mine['node_type']}", headers=owner.headers).json()
    assert (custom["official"], custom["version"], custom["executable"]) == (False, 1, False)
    missing = client.get("/v1/nodes/registry/teleporter", headers=owner.headers)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    stranger = new_org(app, client)
    assert client.get(f"/v1/nodes/registry/{mine['node_type']}", headers=stranger.headers).status_code == 404


def test_registering_a_custom_node(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    body = enricher(official=True)
    created = register(client, owner, body)
    expected = {k: v for k, v in body.items() if k not in ("connectors", "config_schema", "official")}
    assert {k: created[k] for k in expected} == expected
    assert created["official"] is False and created["version"] == 1
    assert created["connectors"][1] == {
        "id": "enriched_out",
        "name": "Enriched",
        "direction": "outbound",
        "data_types": ["json"],
        "cardinality": "zero_or_many",
        "required": False,
    }
    assert created["config_schema"][0] == {
        "name": "api_url",
        "label": "API URL",
        "type": "string",
        "required": True,
        "default": None,
        "description": "",
        "secret": False,
        "options": [],
    }
    rows = _audit(app, owner, created["node_type"])
    assert [(r.action, r.actor_email) for r in rows] == [("create", owner.email)]


def test_connector_words_of_either_vocabulary_are_accepted(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    body = enricher()
    body["connectors"][0] |= {"direction": "input", "cardinality": "one"}
    body["connectors"][1] |= {"direction": "output", "cardinality": "many"}
    created = register(client, owner, body)
    assert [(c["direction"], c["cardinality"]) for c in created["connectors"]] == [
        ("inbound", "zero_or_one"),
        ("outbound", "zero_or_many"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"node_type": "Has-Capitals"}, "node_type"),
        ({"node_type": "x"}, "node_type"),
        ({"node_type": "search"}, "node_type"),
        ({"category": "sorcery"}, "category"),
        ({"label": ""}, "label"),
        ({"colour": "red"}, "colour"),
        ({"import_path": "not a path"}, "import_path"),
        (
            {"connectors": [{"id": "a", "name": "A", "direction": "sideways", "data_types": ["json"]}]},
            "connectors.0.direction",
        ),
        (
            {"connectors": [{"id": "a", "name": "A", "direction": "inbound", "data_types": []}]},
            "connectors.0.data_types",
        ),
        (
            {
                "connectors": [
                    {"id": "a", "name": "A", "direction": "inbound", "data_types": ["json"]},
                    {"id": "a", "name": "B", "direction": "outbound", "data_types": ["json"]},
                ]
            },
            "connectors[1].id",
        ),
        ({"config_schema": [{"name": "m", "label": "M", "type": "enum"}]}, "config_schema[0].options"),
        ({"config_schema": [{"name": "m", "label": "M", "type": "colour"}]}, "config_schema.0.type"),
        (
            {"config_schema": [{"name": "n", "label": "N", "type": "integer", "default": "ten"}]},
            "config_schema[0].default",
        ),
    ],
)
def test_malformed_definitions_are_400_naming_the_field(
    client: TestClient, app: FastAPI, change: dict[str, Any], field: str
) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/nodes/registry", headers=owner.headers, json=enricher(**change))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input" and field in response.json()["details"]


def test_names_collide_with_builtins_and_existing_custom_nodes(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    builtin = client.post("/v1/nodes/registry", headers=owner.headers, json=enricher("s3_ingest"))
    assert builtin.status_code == 409 and "node_type" in builtin.json()["details"]
    mine = register(client, owner, enricher())
    again = client.post("/v1/nodes/registry", headers=owner.headers, json=enricher(mine["node_type"]))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    other = new_org(app, client)
    register(client, other, enricher(mine["node_type"]))  # names are per org


def test_updating_a_custom_node_keeps_the_previous_version(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())
    path = f"/v1/nodes/registry/{mine['node_type']}"
    updated = client.put(path, headers=owner.headers, json={"label": "Better Enricher", "tags": ["v2"]})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["label"], body["tags"], body["version"]) == ("Better Enricher", ["v2"], 2)
    assert body["connectors"] == mine["connectors"] and body["description"] == mine["description"]
    unchanged = client.put(path, headers=owner.headers, json={"label": "Better Enricher"})
    assert unchanged.json()["version"] == 2
    with app.state.db.transaction(write=False) as session:
        node = session.execute(select(CustomNode).where(CustomNode.org_id == owner.org_id)).scalar_one()
        snapshots = session.execute(
            select(CustomNodeVersion).where(CustomNodeVersion.custom_node_id == node.id)
        ).scalars()
        assert [(s.version, s.definition["label"]) for s in snapshots] == [(1, "Data Enricher")]
    audit = _audit(app, owner, mine["node_type"])
    assert [r.action for r in audit] == ["create", "update"]
    assert audit[1].changes["label"] == ["Data Enricher", "Better Enricher"]
    assert audit[1].changes["version"] == [1, 2]


def test_update_errors(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())
    path = f"/v1/nodes/registry/{mine['node_type']}"
    builtin = client.put("/v1/nodes/registry/s3_ingest", headers=owner.headers, json={"label": "Mine now"})
    assert builtin.status_code == 403 and builtin.json()["error"] == "forbidden"
    missing = client.put("/v1/nodes/registry/nothing_here", headers=owner.headers, json={"label": "X"})
    assert missing.status_code == 404
    rename = client.put(path, headers=owner.headers, json={"node_type": "another_name"})
    assert rename.status_code == 400 and "node_type" in rename.json()["details"]
    broken = client.put(
        path, headers=owner.headers, json={"config_schema": [{"name": "m", "label": "M", "type": "enum"}]}
    )
    assert broken.status_code == 400 and "config_schema[0].options" in broken.json()["details"]
    assert client.get(path, headers=owner.headers).json()["version"] == 1
    stranger = new_org(app, client)
    assert client.put(path, headers=stranger.headers, json={"label": "Theirs"}).status_code == 404


def test_deleting_custom_nodes_only(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())
    path = f"/v1/nodes/registry/{mine['node_type']}"
    stranger = new_org(app, client)
    assert client.delete(path, headers=stranger.headers).status_code == 404
    builtin = client.delete("/v1/nodes/registry/webhook_post", headers=owner.headers)
    assert builtin.status_code == 403 and builtin.json()["error"] == "forbidden"
    deleted = client.delete(path, headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get(path, headers=owner.headers).status_code == 404
    assert client.delete(path, headers=owner.headers).status_code == 404
    assert [r.action for r in _audit(app, owner, mine["node_type"])] == ["create", "delete"]
    register(client, owner, enricher(mine["node_type"]))  # the name is free again


def test_reads_need_flows_read_and_changes_flows_write(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    developer = add_member(app, client, owner, "developer")
    assert client.get("/v1/nodes/registry").status_code == 401
    assert client.get("/v1/nodes/registry", headers=viewer.headers).status_code == 200
    denied = client.post("/v1/nodes/registry", headers=viewer.headers, json=enricher())
    assert denied.status_code == 403 and denied.json()["details"] == {"required_permission": "flows.write"}
    mine = register(client, developer, enricher())
    path = f"/v1/nodes/registry/{mine['node_type']}"
    assert client.put(path, headers=viewer.headers, json={"label": "No"}).status_code == 403
    assert client.delete(path, headers=viewer.headers).status_code == 403
    check = {"source_node_type": "s3_ingest", "target_node_type": "schema_validator"}
    assert client.post("/v1/nodes/validate-connection", headers=viewer.headers, json=check).status_code == 200


def test_fixed_paths_win_over_node_types(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    for fixed in ("builtin", "custom", "categories"):
        response = client.get(f"/v1/nodes/registry/{fixed}", headers=owner.headers)
        assert response.status_code == 200 and "node_type" not in response.json(), fixed


def check(client: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/nodes/validate-connection", headers=caller.headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_validate_connection_answers_the_reference_example(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    verdict = check(
        client,
        owner,
        source_node_type="s3_ingest",
        source_connector_id="data_out",
        target_node_type="schema_validator",
        target_connector_id="data_in",
        existing_source_connections=0,
        existing_target_connections=0,
    )
    assert (verdict["valid"], verdict["errors"], verdict["reason"]) == (True, [], None)
    assert verdict["source_connector"]["data_types"] == ["dataframe", "json", "string"]
    assert verdict["target_connector"]["data_types"] == ["json", "dataframe", "any"]
    short = check(client, owner, source_type="s3_ingest", target_type="schema_validator")
    assert short["valid"] is True and short["source_connector"]["id"] == "data_out"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"source_node_type": "s3_ingest", "target_node_type": "vector_upsert"}, "accepts vector"),
        ({"source_node_type": "warp_drive", "target_node_type": "delay"}, "unknown source node type"),
        ({"source_node_type": "delay", "target_node_type": "warp_drive"}, "unknown target node type"),
        (
            {"source_node_type": "s3_ingest", "source_connector_id": "nope", "target_node_type": "delay"},
            "has no connector 'nope'",
        ),
        (
            {
                "source_node_type": "s3_ingest",
                "source_connector_id": "trigger_in",
                "target_node_type": "delay",
            },
            "is an inbound connector",
        ),
        (
            {"source_node_type": "http_fetch", "target_node_type": "delay", "existing_target_connections": 1},
            "takes at most one edge",
        ),
        (
            {
                "source_node_type": "embed_text",
                "target_node_type": "vector_search",
                "target_connector_id": "query_in",
                "existing_target_connections": 1,
            },
            "takes at most one edge",
        ),
    ],
)
def test_validate_connection_refusals_say_why(
    client: TestClient, app: FastAPI, body: dict[str, Any], reason: str
) -> None:
    owner = new_org(app, client)
    verdict = check(client, owner, **body)
    assert verdict["valid"] is False and reason in verdict["reason"], verdict
    assert verdict["reason"] == verdict["errors"][0]


def test_validate_connection_knows_the_orgs_custom_nodes(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())
    fits = check(client, owner, source_node_type="http_fetch", target_node_type=mine["node_type"])
    assert fits["valid"] is True and fits["target_connector"]["id"] == "data_in"
    refused = check(client, owner, source_node_type=mine["node_type"], target_node_type="vector_upsert")
    assert refused["valid"] is False and "accepts vector" in refused["reason"]
    stranger = new_org(app, client)
    unknown = check(client, stranger, source_node_type="http_fetch", target_node_type=mine["node_type"])
    assert unknown["valid"] is False and "unknown target node type" in unknown["reason"]
    bad = client.post("/v1/nodes/validate-connection", headers=owner.headers, json={"source_node_type": "x"})
    assert bad.status_code == 400 and "target_node_type" in bad.json()["details"]


def _audit(app: FastAPI, caller: Caller, node_type: str) -> list[AuditLog]:
    with app.state.db.transaction(write=False) as session:
        stmt = (
            select(AuditLog)
            .where(
                AuditLog.org_id == caller.org_id,
                AuditLog.resource_type == "custom_node",
                AuditLog.resource_name == node_type,
            )
            .order_by(AuditLog.timestamp, AuditLog.id)
        )
        return list(session.execute(stmt).scalars())

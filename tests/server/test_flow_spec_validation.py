"""Flow specs are checked against the node registry when registered (`POST /flows`): ids, edges,
cycles, node types (built-in and the org's custom ones), node data against each type's config
schema, connections against connectors, and size. Every problem is reported at once."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.domains.flows.spec import MAX_PROBLEMS, flow_spec_problems
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node
from tests.server.test_node_registry import enricher, register

CODE = "def main(inputs, params):\n    return 1\n"


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": data}


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "target": target, **extra}


def s3(node_id: str = "src", **data: Any) -> dict[str, Any]:
    return node(node_id, "s3_ingest", bucket="raw", **data)


def post(client: TestClient, caller: Caller, spec: dict[str, Any]) -> Any:
    return client.post(
        "/v1/flows", headers=caller.headers, json={"flow_name": unique("f"), "flow_spec": spec}
    )


def problems(client: TestClient, caller: Caller, spec: dict[str, Any]) -> dict[str, str]:
    response = post(client, caller, spec)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"
    details: dict[str, str] = response.json()["details"]
    return details


def test_a_builder_spec_with_its_extra_fields_registers(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    spec = {
        "nodes": [
            s3() | {"position": {"x": 0, "y": 0}, "width": 180},
            node("check", "schema_validator", schema={"type": "object"}, label="Validate")
            | {"position": [1, 2]},
            node("dedupe", "deduplicator", key_fields=["id"]),
            node(
                "bad_rows", "slack_notify", webhook_url={"secret": "slack-hook"}, message="invalid: {input}"
            ),
            node("hook", "webhook_post", url="https://example.com/hook", signing_secret="literal-is-fine"),
        ],
        "edges": [
            edge("src", "check", id="e1", label="raw", sourceHandle=None, targetHandle=None),
            edge("check", "dedupe", sourceHandle="data_out", targetHandle="data_in", animated=True),
            edge("check", "bad_rows", sourceHandle="invalid_out"),
            edge("dedupe", "hook"),
        ],
    }
    response = post(client, owner, spec)
    assert response.status_code == 201, response.text


def test_unknown_node_types_are_named_with_a_suggestion(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    found = problems(
        client, owner, {"nodes": [node("a", "s3_ingset", bucket="b"), node("b", "warp_drive"), {"id": "c"}]}
    )
    assert found == {
        "flow_spec.nodes[0].type": "unknown node type 's3_ingset'; did you mean 's3_ingest'?",
        "flow_spec.nodes[1].type": "unknown node type 'warp_drive'; see GET /v1/nodes/registry",
        "flow_spec.nodes[2].type": "required: a node type from the registry",
    }


def test_cycles_name_their_nodes(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    nodes = [python_node(i, CODE) for i in ("start", "a", "b", "c", "end")]
    edges = [edge("start", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "end")]
    assert problems(client, owner, {"nodes": nodes, "edges": edges}) == {
        "flow_spec.edges": "the graph has a cycle through a, b, c"
    }
    loops = [edge("start", "start"), edge("b", "c"), edge("c", "b")]
    assert problems(client, owner, {"nodes": nodes, "edges": loops}) == {
        "flow_spec.edges": "the graph has cycles through start; b, c"
    }


def test_dangling_edges_and_duplicate_ids(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    spec = {
        "nodes": [python_node("a", CODE), python_node("a", CODE), python_node("b", CODE)],
        "edges": [edge("a", "ghost"), edge("nowhere", "b"), edge("a", "b"), edge("a", "b"), "not an edge"],
    }
    assert problems(client, owner, spec) == {
        "flow_spec.nodes[1].id": "duplicate node id 'a'",
        "flow_spec.edges[0].target": "no node with id 'ghost'",
        "flow_spec.edges[1].source": "no node with id 'nowhere'",
        "flow_spec.edges[3]": "duplicate edge from 'a' to 'b'",
        "flow_spec.edges[4]": "must be an object with source and target",
    }


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({}, "bucket", "required"),
        ({"bucket": ""}, "bucket", "required: must not be empty"),
        ({"bucket": 7}, "bucket", "must be a string"),
        ({"bucket": "b", "max_objects": "ten"}, "max_objects", "must be an integer"),
        ({"bucket": "b", "max_objects": True}, "max_objects", "must be an integer"),
        ({"bucket": "b", "format": "xml"}, "format", "must be one of: json, jsonl, csv, parquet, text"),
        (
            {"bucket": "b", "aws_secret_access_key": 12},
            "aws_secret_access_key",
            'must be a string or {"secret": "<secret name>"}',
        ),
        (
            {"bucket": "b", "aws_secret_access_key": {"secret": "../x"}},
            "aws_secret_access_key",
            'must be a string or {"secret": "<secret name>"}',
        ),
    ],
)
def test_node_data_is_checked_against_its_config_schema(
    client: TestClient, app: FastAPI, data: dict[str, Any], field: str, problem: str
) -> None:
    owner = new_org(app, client)
    assert problems(client, owner, {"nodes": [node("n", "s3_ingest", **data)]}) == {
        f"flow_spec.nodes[0].data.{field}": problem
    }


def test_secret_references_and_literals_are_both_accepted(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    spec = {"nodes": [s3(aws_access_key_id={"secret": "aws-key"}, aws_secret_access_key="literal")]}
    assert post(client, owner, spec).status_code == 201


def test_connections_are_checked_against_connectors(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    spec = {
        "nodes": [
            s3(),
            node("store", "vector_upsert", collection="docs"),
            node("check", "schema_validator", schema={}),
            node("wait", "delay", seconds=1),
        ],
        "edges": [
            edge("src", "store"),
            edge("src", "check", sourceHandle="trigger_in"),
            edge("src", "wait", targetHandle="data_out"),
            edge("src", "check", sourceHandle="nope"),
        ],
    }
    assert problems(client, owner, spec) == {
        "flow_spec.edges[0]": (
            "src (s3_ingest) cannot feed store (vector_upsert): "
            "'data_out' produces dataframe, json, string; 'vectors_in' accepts vector"
        ),
        "flow_spec.edges[1].sourceHandle": (
            "node 'src' (s3_ingest) has no output 'trigger_in'; its outputs: data_out"
        ),
        "flow_spec.edges[2].targetHandle": "node 'wait' (delay) has no input 'data_out'; its inputs: data_in",
        "flow_spec.edges[3].sourceHandle": (
            "node 'src' (s3_ingest) has no output 'nope'; its outputs: data_out"
        ),
    }


def test_cardinality_one_takes_one_edge_and_required_inputs_need_one(
    client: TestClient, app: FastAPI
) -> None:
    owner = new_org(app, client)
    spec = {
        "nodes": [
            python_node("a", CODE),
            python_node("b", CODE),
            node("wait", "delay", seconds=5),
            node("search", "vector_search", collection="docs"),
            node("branch", "condition", expression="input > 0"),
        ],
        "edges": [edge("a", "wait"), edge("b", "wait"), edge("a", "search")],
    }
    assert problems(client, owner, spec) == {
        "flow_spec.nodes[2].connectors.data_in": "takes at most one edge; 2 are connected",
        "flow_spec.nodes[4].connectors.data_in": "required input 'Data' is not connected",
    }


def test_every_problem_is_reported_together(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    spec = {
        "nodes": [
            s3(format="xml"),
            s3(),
            node("mystery", "teleporter"),
            node("embed", "embed_text", model=3),
            node("store", "vector_upsert"),
            node("loop_a", "python_function", code=CODE),
            node("loop_b", "python_function"),
        ],
        "edges": [
            edge("src", "store"),
            edge("embed", "ghost"),
            edge("loop_a", "loop_b"),
            edge("loop_b", "loop_a"),
        ],
    }
    assert problems(client, owner, spec) == {
        "flow_spec.nodes[0].data.format": "must be one of: json, jsonl, csv, parquet, text",
        "flow_spec.nodes[1].id": "duplicate node id 'src'",
        "flow_spec.nodes[2].type": "unknown node type 'teleporter'; see GET /v1/nodes/registry",
        "flow_spec.nodes[3].data.model": "must be a string",
        "flow_spec.nodes[4].data.collection": "required",
        "flow_spec.nodes[6].data.code": "required: the function's Python source",
        "flow_spec.edges[0]": (
            "src (s3_ingest) cannot feed store (vector_upsert): "
            "'data_out' produces dataframe, json, string; 'vectors_in' accepts vector"
        ),
        "flow_spec.edges[1].target": "no node with id 'ghost'",
        "flow_spec.nodes[3].connectors.data_in": "required input 'Data' is not connected",
        "flow_spec.edges": "the graph has a cycle through loop_a, loop_b",
    }


def test_a_custom_node_is_usable_until_it_is_deleted(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    mine = register(client, owner, enricher())["node_type"]
    spec = {
        "nodes": [
            node("fetch", "http_fetch", url="https://api.example.com/rows"),
            node("enrich", mine, api_url="https://crm.example.com", api_key_ref="crm"),
        ],
        "edges": [edge("fetch", "enrich")],
    }
    assert post(client, owner, spec).status_code == 201
    lacking = {**spec, "nodes": [spec["nodes"][0], node("enrich", mine, api_url="https://crm.example.com")]}
    assert problems(client, owner, lacking) == {"flow_spec.nodes[1].data.api_key_ref": "required"}
    unfed = {**spec, "edges": []}
    assert problems(client, owner, unfed) == {
        "flow_spec.nodes[1].connectors.data_in": "required input 'Input' is not connected"
    }
    stranger = new_org(app, client)
    assert "flow_spec.nodes[1].type" in problems(client, stranger, spec)
    assert client.delete(f"/v1/nodes/registry/{mine}", headers=owner.headers).status_code == 204
    assert problems(client, owner, spec) == {
        "flow_spec.nodes[1].type": f"unknown node type {mine!r}; see GET /v1/nodes/registry"
    }


def _huge(size: int) -> dict[str, Any]:
    return {"nodes": [python_node("a", CODE, notes="x" * size)]}


def test_a_5_mb_spec_is_413(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    response = post(client, owner, _huge(5 * 1024 * 1024))
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    over_spec_limit = post(client, owner, _huge(1024 * 1024 + 10))  # under the request limit
    assert over_spec_limit.status_code == 413
    assert over_spec_limit.json() == {
        "error": "payload_too_large",
        "message": "The flow spec is too large.",
        "details": {"flow_spec": "at most 1048576 bytes of canonical JSON"},
    }


def test_the_limit_is_a_setting(settings: Settings) -> None:
    roomy = settings.model_copy(update={"max_request_bytes": 8 * 1024 * 1024, "max_flow_spec_bytes": 2000})
    app = create_app(roomy, migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        assert post(client, owner, _huge(100)).status_code == 201
        for size in (3000, 5 * 1024 * 1024):
            response = post(client, owner, _huge(size))
            assert response.status_code == 413
            assert response.json()["details"] == {"flow_spec": "at most 2000 bytes of canonical JSON"}


def test_problems_are_capped_so_the_answer_stays_small() -> None:
    spec = {"nodes": [node(f"n{i}", "s3_ingest") for i in range(MAX_PROBLEMS + 20)]}
    found = flow_spec_problems(spec)
    assert len(found) == MAX_PROBLEMS + 1
    assert found["flow_spec"] == "20 more problems not shown"


def test_a_long_chain_checks_without_recursion_trouble() -> None:
    ids = [f"n{i}" for i in range(500)]
    spec = {
        "nodes": [python_node(i, CODE) for i in ids],
        "edges": [edge(a, b) for a, b in itertools.pairwise(ids)] + [edge(ids[-1], ids[0])],
    }
    assert flow_spec_problems(spec) == {"flow_spec.edges": f"the graph has a cycle through {', '.join(ids)}"}

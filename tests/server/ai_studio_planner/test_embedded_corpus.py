"""The embedded planner on the request corpus (corpus.yaml): every request builds a valid workflow
with the node types, edges and settings the corpus states, through the validator of POST /flows."""

from __future__ import annotations

from typing import Any

import pytest

from dagy.server.domains.ai_studio.planner.base import ALLOWED_NODE_TYPES
from dagy.server.domains.ai_studio.planner.canvas import node_position, overlap
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner
from dagy.server.domains.flows.spec import flow_spec_problems
from tests.server.ai_studio_planner.conftest import (
    CORPUS,
    Recorder,
    attachments_of,
    canvas_edges,
    expected_edges,
    subset_problems,
    turn,
)


def test_the_corpus_holds_at_least_30_requests() -> None:
    assert len(CORPUS) >= 30
    assert len({entry["id"] for entry in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_each_request_builds_the_stated_valid_workflow(entry: dict[str, Any]) -> None:
    recorder = Recorder()
    result = EmbeddedPlanner().plan(turn(entry["request"], attachments=attachments_of(entry)), recorder)

    assert result.intent == "build"
    assert result.validation is not None
    assert result.validation.valid, result.validation.errors
    assert result.workflow_status == "generated", result.response
    canvas = result.canvas_state
    assert canvas is not None
    assert [node["type"] for node in canvas["nodes"]] == entry["nodes"], result.response
    assert canvas_edges(canvas) == expected_edges(entry)
    problems = [
        problem
        for index, data in (entry.get("data") or {}).items()
        for problem in subset_problems(data, canvas["nodes"][index]["data"], f"nodes[{index}].data")
    ]
    assert not problems, problems
    assert {node["type"] for node in canvas["nodes"]} <= set(ALLOWED_NODE_TYPES)
    # The same validator as POST /flows, on the canvas as the builder would register it.
    assert flow_spec_problems(canvas) == {}
    assert result.pipeline_yaml and result.pipeline_python


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_each_canvas_is_laid_out_left_to_right_without_overlaps(entry: dict[str, Any]) -> None:
    result = EmbeddedPlanner().plan(turn(entry["request"], attachments=attachments_of(entry)), Recorder())
    assert result.canvas_state is not None
    nodes = result.canvas_state["nodes"]
    positions = {node["id"]: node_position(node) for node in nodes}
    assert all(position is not None for position in positions.values())
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            assert not overlap(positions[a["id"]], positions[b["id"]]), (a["id"], b["id"])  # type: ignore[arg-type]
    for edge in result.canvas_state["edges"]:
        assert positions[edge["source"]][0] < positions[edge["target"]][0]  # type: ignore[index]

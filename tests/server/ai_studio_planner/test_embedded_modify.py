"""Modify turns of the embedded planner: they edit the current canvas (add, remove, replace, move,
reconfigure) and keep every other node with its id, settings and position."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dagy.server.domains.ai_studio.planner.base import PlanResult
from dagy.server.domains.ai_studio.planner.canvas import node_position, overlap
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner
from tests.server.ai_studio_planner.conftest import Recorder, turn

BASE_REQUEST = (
    "Read JSON from s3://acme/in/, validate that each record has id and email, deduplicate by id, "
    "and write to s3://acme/out/"
)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    result = EmbeddedPlanner().plan(turn(BASE_REQUEST), Recorder())
    assert result.workflow_status == "generated" and result.canvas_state is not None
    return result.canvas_state


def modify(canvas: dict[str, Any], message: str, recorder: Recorder | None = None) -> PlanResult:
    result = EmbeddedPlanner().plan(turn(message, canvas=canvas), recorder or Recorder())
    assert result.intent == "modify", result.response
    return result


def nodes(result: PlanResult) -> dict[str, dict[str, Any]]:
    assert result.canvas_state is not None
    return {node["id"]: node for node in result.canvas_state["nodes"]}


def chain(result: PlanResult) -> set[tuple[str, str, str | None]]:
    assert result.canvas_state is not None
    return {(e["source"], e["target"], e.get("sourceHandle")) for e in result.canvas_state["edges"]}


def assert_kept(before: dict[str, Any], after: PlanResult, *, except_ids: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every node of `before` not in `except_ids` is still there, with the same type, data and position."""
    now = nodes(after)
    for node in before["nodes"]:
        if node["id"] in except_ids:
            continue
        assert node["id"] in now, node["id"]
        assert {k: now[node["id"]][k] for k in ("type", "data", "position")} == {
            k: node[k] for k in ("type", "data", "position")
        }


def assert_laid_out(result: PlanResult) -> None:
    placed = [node_position(node) for node in nodes(result).values()]
    assert all(position is not None for position in placed)
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            assert not overlap(a, b)  # type: ignore[arg-type]
    positions = {node_id: node_position(node) for node_id, node in nodes(result).items()}
    for source, target, _ in chain(result):
        assert positions[source][0] < positions[target][0]  # type: ignore[index]


def test_add_a_step_after_a_named_node(base: dict[str, Any]) -> None:
    recorder = Recorder()
    result = modify(base, "Add a normalisation step that trims strings after the validation", recorder)
    assert result.workflow_status == "modified" and result.validation and result.validation.valid
    assert nodes(result)["data_normalizer_1"]["data"]["trim_strings"] is True
    assert chain(result) == {
        ("s3_ingest_1", "schema_validator_1", None),
        ("schema_validator_1", "data_normalizer_1", "data_out"),
        ("data_normalizer_1", "deduplicator_1", None),
        ("deduplicator_1", "s3_write_1", None),
    }
    assert_kept(base, result)
    assert_laid_out(result)
    assert [name for name, _ in recorder.events][:1] == ["status"]
    assert recorder.of("canvas")[-1]["canvas_state"] == result.canvas_state
    assert recorder.text == result.response


def test_remove_a_step_joins_its_neighbours(base: dict[str, Any]) -> None:
    result = modify(base, "remove the deduplication step")
    assert "deduplicator_1" not in nodes(result)
    assert chain(result) == {
        ("s3_ingest_1", "schema_validator_1", None),
        ("schema_validator_1", "s3_write_1", "data_out"),
    }
    assert_kept(base, result, except_ids={"deduplicator_1"})
    assert result.validation and result.validation.valid


def test_reconfigure_changes_only_what_the_request_names(base: dict[str, Any]) -> None:
    result = modify(base, "Deduplicate by email instead")
    dedup = nodes(result)["deduplicator_1"]
    assert dedup["data"]["key_fields"] == ["email"]
    assert dedup["data"]["label"] == "Deduplicate by email"
    assert dedup["position"] == next(n for n in base["nodes"] if n["id"] == "deduplicator_1")["position"]
    assert_kept(base, result, except_ids={"deduplicator_1"})
    assert chain(result) == chain(PlanResult("build", "", "generated", canvas_state=base))


def test_replace_a_step_takes_its_place_and_position(base: dict[str, Any]) -> None:
    result = modify(base, "Replace the deduplicator with a python step that merges records by email")
    now = nodes(result)
    assert "deduplicator_1" not in now and now["python_function_1"]["type"] == "python_function"
    old = next(n for n in base["nodes"] if n["id"] == "deduplicator_1")
    assert now["python_function_1"]["position"] == old["position"]
    assert ("schema_validator_1", "python_function_1", "data_out") in chain(result)
    assert ("python_function_1", "s3_write_1", None) in chain(result)
    assert result.validation and any("stub" in warning for warning in result.validation.warnings)


def test_move_a_step(base: dict[str, Any]) -> None:
    result = modify(base, "move the deduplication before the validation")
    assert chain(result) == {
        ("s3_ingest_1", "deduplicator_1", None),
        ("deduplicator_1", "schema_validator_1", None),
        ("schema_validator_1", "s3_write_1", "data_out"),
    }
    assert_laid_out(result)


@pytest.mark.parametrize(
    ("message", "node_id", "settings"),
    [
        ("write parquet instead", "s3_write_1", {"format": "parquet", "label": "Write Parquet to S3"}),
        ("make it read CSV", "s3_ingest_1", {"format": "csv"}),
        ("change the output to s3://other-bucket/place/", "s3_write_1", {"bucket": "other-bucket"}),
        ("drop invalid records", "schema_validator_1", {"on_invalid": "drop"}),
        ("keep the latest duplicate", "deduplicator_1", {"keep": "last"}),
    ],
)
def test_settings_change_in_place(
    base: dict[str, Any], message: str, node_id: str, settings: dict[str, Any]
) -> None:
    result = modify(base, message)
    assert result.workflow_status == "modified", result.response
    data = nodes(result)[node_id]["data"]
    assert {key: data[key] for key in settings} == settings
    assert_kept(base, result, except_ids={node_id})
    assert len(nodes(result)) == len(base["nodes"])


def test_a_notification_follows_the_write(base: dict[str, Any]) -> None:
    result = modify(base, "Also notify Slack when done")
    assert ("s3_write_1", "webhook_post_1", None) in chain(result)
    assert nodes(result)["webhook_post_1"]["data"]["payload"] == {"text": "Dagy: the workflow finished."}
    assert_kept(base, result)
    assert_laid_out(result)


def test_invalid_records_get_a_branch_of_their_own(base: dict[str, Any]) -> None:
    result = modify(base, "send invalid records to s3://acme/quarantine/")
    assert ("schema_validator_1", "s3_write_2", "invalid_out") in chain(result)
    assert nodes(result)["s3_write_2"]["data"]["key"] == "quarantine/{date}/{run_id}.jsonl"
    assert_kept(base, result)


def test_several_operations_in_one_turn(base: dict[str, Any]) -> None:
    result = modify(base, "Remove the deduplication step and post the records to https://hooks.example.org/x")
    now = nodes(result)
    assert "deduplicator_1" not in now
    assert now["webhook_post_1"]["data"]["url"] == "https://hooks.example.org/x"
    assert ("schema_validator_1", "webhook_post_1", "data_out") in chain(result)
    assert result.response.startswith("I changed the workflow: removed Deduplicate by id")


def test_a_request_naming_nothing_leaves_the_canvas_unchanged(base: dict[str, Any]) -> None:
    for message in ("remove the webhook", "make it better"):
        result = modify(base, message)
        assert result.workflow_status == "unchanged", message
        assert result.canvas_state == base
        assert result.validation and result.validation.valid


def test_a_modify_that_breaks_the_workflow_is_invalid(base: dict[str, Any]) -> None:
    result = modify(base, "remove the S3 read")
    assert result.workflow_status == "invalid"
    assert result.workflow_errors and "required input" in result.workflow_errors[0]
    assert result.validation and not result.validation.valid
    assert result.pipeline_python is None


def test_modify_intent_without_a_canvas_builds() -> None:
    result = EmbeddedPlanner().plan(
        turn("Read s3://acme/in/ and write to s3://acme/out/", intent="modify"), Recorder()
    )
    assert result.intent == "build" and result.workflow_status == "generated"


def test_build_intent_on_a_canvas_starts_over(base: dict[str, Any]) -> None:
    result = EmbeddedPlanner().plan(
        turn(
            "Build a new workflow that fetches https://api.example.org/x and posts it to https://hooks.example.org/y",
            canvas=base,
        ),
        Recorder(),
    )
    assert result.intent == "build"
    assert [node["type"] for node in nodes(result).values()] == ["http_fetch", "webhook_post"]


def test_a_node_the_user_placed_outside_the_allowlist_does_not_block_a_change(base: dict[str, Any]) -> None:
    """The allowlist bounds what the planner places; a filter the user drew in the builder stays,
    checked by the flow validator like any node."""
    drawn = copy.deepcopy(base)
    drawn["nodes"].append(
        {"id": "only_paid", "type": "filter_rows", "position": [560, 280], "data": {"expression": "paid"}}
    )
    drawn["edges"].append({"id": "e_x", "source": "deduplicator_1", "target": "only_paid"})
    result = modify(drawn, "Deduplicate by email instead")
    assert result.workflow_status == "modified", result.response
    assert result.validation and result.validation.valid
    assert nodes(result)["only_paid"]["position"] == [560, 280]
    drawn["nodes"][-1]["data"] = {}
    broken = modify(drawn, "Deduplicate by email instead")
    assert broken.workflow_status == "invalid"
    assert any(
        e.endswith("data.expression: The expression is empty; for example amount > 100.")
        for e in broken.workflow_errors
    )

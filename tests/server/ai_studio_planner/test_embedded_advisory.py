"""Advisory turns of the embedded planner and how `auto` turns are told apart (intent.py, shared by
both planners): questions are answered from the org's flows and the canvas, never by editing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dagy.server.domains.ai_studio.planner.base import FlowSummary, PlanResult
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner
from dagy.server.domains.ai_studio.planner.intent import resolve_intent
from tests.server.ai_studio_planner.conftest import Recorder, turn

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FLOWS = [
    FlowSummary(
        "orders_pipeline",
        "3",
        ["s3_ingest", "schema_validator", "s3_write"],
        14,
        2,
        "failed",
        NOW - timedelta(hours=30),
        "Node s3_ingest_1 failed: bucket 'acme' does not exist.",
    ),
    FlowSummary(
        "daily_report", "1", ["http_fetch", "webhook_post"], 7, 0, "completed", NOW - timedelta(hours=2)
    ),
    FlowSummary("legacy_sync", "5", [], 0, 0, None),
    FlowSummary("events_flow", "2", ["http_fetch"], 3, 1, "completed", NOW - timedelta(days=1, hours=1)),
]
CANVAS = EmbeddedPlanner().plan(turn("Read s3://acme/in/ and deduplicate by email"), Recorder()).canvas_state


def ask(
    message: str, *, flows: list[FlowSummary] = FLOWS, canvas: dict | None = None
) -> tuple[PlanResult, Recorder]:  # type: ignore[type-arg]
    recorder = Recorder()
    result = EmbeddedPlanner().plan(turn(message, flows=flows, canvas=canvas, now=NOW), recorder)
    assert result.intent == "advisory" and result.workflow_status == "advisory"
    assert result.canvas_state is None and result.validation is None and result.pipeline_python is None
    assert recorder.text == result.response
    assert not recorder.of("canvas")
    return result, recorder


def test_why_did_my_flow_fail_names_the_failures_and_the_last_error() -> None:
    result, _ = ask("Why did my flow fail?")
    assert "orders_pipeline (version 3): 2 of 14 runs failed" in result.response
    assert "bucket 'acme' does not exist" in result.response
    assert "events_flow" in result.response and "daily_report" not in result.response


def test_a_named_flow_narrows_the_answer() -> None:
    result, _ = ask("Why did events_flow fail?")
    assert "events_flow" in result.response and "orders_pipeline" not in result.response
    assert "HTTP fetches fail" in result.response  # no error recorded: the likely causes of its steps


def test_which_flows_ran_yesterday_reads_the_latest_run_times() -> None:
    result, _ = ask("Which flows ran yesterday?")
    assert "latest run was yesterday (2026-03-09, UTC): orders_pipeline, events_flow" in result.response
    assert "may have run yesterday too: daily_report" in result.response
    assert "legacy_sync" not in result.response


def test_without_run_times_the_answer_uses_the_seven_day_counts() -> None:
    flows = [FlowSummary("a", "1", [], 4, 0, "completed"), FlowSummary("b", "1", [], 0, 0, None)]
    result, _ = ask("Which flows ran yesterday?", flows=flows)
    assert result.response == "In the last 7 days, 1 flow ran: a (4 runs)."


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "How many flows do I have?",
            "Your org has 4 flows; they ran 24 times in the last 7 days, 3 of them failed.",
        ),
        ("Which flows use http_fetch?", "2 flows use http_fetch: daily_report, events_flow."),
        ("What can you build?", "I build workflows from these node types: s3_ingest, s3_write"),
        ("How do I add a webhook?", "Ask me in plain words"),
        (
            "tell me about daily_report",
            "daily_report (version 1; http_fetch, webhook_post): 7 runs in 7 days",
        ),
    ],
)
def test_other_questions(message: str, expected: str) -> None:
    result, _ = ask(message)
    assert result.response.startswith(expected), result.response


def test_questions_about_the_canvas() -> None:
    result, _ = ask("What does this workflow do?", canvas=CANVAS)
    assert result.response.startswith("The workflow has 2 steps: Read JSON from S3 → Deduplicate by email.")
    assert "passes validation" in result.response
    empty, _ = ask("What does this workflow do?")
    assert empty.response.startswith("The canvas is empty.")


def test_an_org_without_flows() -> None:
    result, _ = ask("why did my flow fail?", flows=[])
    assert result.response == "Your org has no flows yet, so no runs have failed."


def test_advisory_intent_wins_even_for_a_build_request() -> None:
    result = EmbeddedPlanner().plan(
        turn("Read s3://a-b/c/", intent="advisory", flows=FLOWS, now=NOW), Recorder()
    )
    assert result.intent == "advisory" and result.canvas_state is None


@pytest.mark.parametrize(
    ("message", "has_canvas", "intent"),
    [
        ("why did my flow fail?", False, "advisory"),
        ("which flows ran yesterday?", True, "advisory"),
        ("Show me the failed runs", True, "advisory"),
        ("What does this workflow do?", True, "advisory"),
        ("How do I add a webhook?", True, "advisory"),
        ("Can you add a dedup step?", True, "modify"),
        ("Add a dedup step?", True, "modify"),
        ("deduplicate by email instead", True, "modify"),
        ("Read s3://a-b/c/ and write to s3://d-e/f/", False, "build"),
        ("Build a workflow that reads JSON from S3", True, "build"),
        ("Create a new pipeline from scratch", True, "build"),
        ("make it write parquet", True, "modify"),
        ("Can you build a pipeline that fetches https://x.example.com?", False, "build"),
    ],
)
def test_auto_intent(message: str, has_canvas: bool, intent: str) -> None:
    assert resolve_intent("auto", message, CANVAS if has_canvas else None) == intent

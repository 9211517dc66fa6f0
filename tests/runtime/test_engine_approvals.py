"""The `approval` node in the engine and the run process: it pauses the run after every node that
does not depend on it, completes with the decision the claim carries, and refuses to wait where
nobody could decide it; its definition's rules."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from typing import Any

import pytest

from dagy.nodes import NodeContext, get_node_type
from dagy.nodes.control_flow import ApprovalNode, AwaitingApproval
from dagy.runtime import EventWriter, parse_event, run_flow_spec
from dagy.runtime.scope import RunResult
from tests.payloads import run_payload

DECISION = {
    "approved": True,
    "decided_by": "boss@example.com",
    "comment": "go",
    "decided_at": "2026-12-07T10:00:00Z",
}


def py(node_id: str, body: str) -> dict[str, Any]:
    code = "def main(inputs, params):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return {"id": node_id, "type": "python_function", "data": {"code": code}}


def gate(node_id: str = "gate", **data: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "approval",
        "data": {"message": "Ship {input[n]} for {params[who]}?", **data},
    }


def edges(*pairs: str) -> list[dict[str, str]]:
    return [{"source": p.split(">")[0], "target": p.split(">")[1]} for p in pairs]


def execute(spec: dict[str, Any], **claim: Any) -> tuple[RunResult, list[dict[str, Any]]]:
    buffer = io.StringIO()
    payload = run_payload(spec, {"who": "ops"}, run_id="run_approval", **claim)
    result = run_flow_spec(payload, EventWriter(buffer))
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return result, [event for event in events if event["event"] == "node"]


def states(events: list[dict[str, Any]]) -> dict[str, str]:
    return {e["node_id"]: e["status"] for e in events if e["status"] != "running"}


# `a -> gate -> b`, `slow` beside them (it depends on nothing, and takes a moment).
FLOW = {
    "nodes": [
        py("a", "return {'n': 3}"),
        gate(),
        py("b", "return inputs"),
        py("slow", "import time\ntime.sleep(0.3)\nreturn 'done'"),
    ],
    "edges": edges("a>gate", "gate>b"),
}


def test_the_run_waits_at_the_approval_after_everything_that_does_not_depend_on_it() -> None:
    result, events = execute(FLOW)

    assert result.status == "waiting" and result.output is None and result.error is None
    assert result.waiting_for == {
        "type": "approval",
        "node_id": "gate",
        "message": "Ship 3 for ops?",
        "approvers": [],
        "timeout_seconds": 86400,
        "on_timeout": "reject",
    }
    assert states(events) == {"a": "completed", "gate": "paused", "slow": "completed"}
    paused = next(e for e in events if e["node_id"] == "gate")
    assert (paused["started_at"], paused["completed_at"], paused["output"]) == (None, None, None)


def test_with_its_decision_the_approval_completes_and_the_run_goes_on() -> None:
    completed = {"a": {"n": 3}, "slow": "done"}
    started = time.monotonic()
    result, events = execute(FLOW, completed_nodes=completed, approvals={"gate": DECISION})

    assert time.monotonic() - started < 0.3  # slow was not run again
    assert result.status == "completed"
    assert result.output == {"b": {"gate": DECISION}, "slow": "done"}
    assert states(events) == {"a": "completed", "slow": "completed", "gate": "completed", "b": "completed"}
    decided = next(e for e in events if e["node_id"] == "gate")
    assert decided["output"] == DECISION and decided["started_at"] is None


def test_a_failure_elsewhere_fails_the_run_rather_than_wait() -> None:
    spec = {"nodes": [gate(message="Go?"), py("boom", "raise ValueError('no')")], "edges": []}
    result, events = execute(spec)
    assert result.status == "failed" and result.error is not None and result.error["node_id"] == "boom"
    assert states(events)["gate"] == "paused"  # the server ends it with the attempt


def test_two_approvals_reached_at_once_wait_for_the_first_in_the_flows_order() -> None:
    spec = {
        "nodes": [
            py("a", "return {'n': 1}"),
            gate("first"),
            gate("second", approvers=["x@example.com"]),
            py("after", "return 1"),
        ],
        "edges": edges("a>first", "a>second", "first>after", "second>after"),
    }
    result, events = execute(spec)
    assert result.status == "waiting" and result.waiting_for is not None
    assert result.waiting_for["node_id"] == "first"
    assert states(events) == {"a": "completed", "first": "paused", "second": "paused"}
    result, events = execute(spec, completed_nodes={"a": {"n": 1}}, approvals={"first": DECISION})
    assert result.waiting_for is not None and result.waiting_for["node_id"] == "second"
    assert result.waiting_for["approvers"] == ["x@example.com"]
    assert states(events)["first"] == "completed" and "after" not in states(events)


def test_an_approval_cannot_wait_inside_a_subflow_or_after_a_for_each() -> None:
    child = {"nodes": [gate(message="inner")], "edges": []}
    parent = {"nodes": [{"id": "sub", "type": "subflow", "data": {"flow_name": "child"}}], "edges": []}
    subflows = {"child": {"flow_name": "child", "flow_version": "1", "flow_spec": child}}
    result, events = execute(parent, subflows=subflows)
    assert result.status == "failed" and result.error is not None
    assert "inside a subflow" in result.error["message"]
    assert states(events)["sub/gate"] == "failed"

    mapped = {
        "nodes": [
            py("items", "return [1, 2]"),
            {"id": "each", "type": "for_each", "data": {}},
            gate(message="one"),
        ],
        "edges": edges("items>each", "each>gate"),
    }
    result, _ = execute(mapped)
    assert result.status == "failed" and result.error is not None and result.error["node_id"] == "gate"
    assert result.error["type"] == "invalid_flow"


def test_a_template_that_fails_at_run_time_fails_the_node() -> None:
    spec = {"nodes": [py("a", "return {'n': 1}"), gate(message="{input[missing]}")], "edges": edges("a>gate")}
    result, events = execute(spec)
    assert result.status == "failed" and result.error is not None
    assert (result.error["type"], result.error["node_id"]) == ("invalid_template", "gate")
    assert states(events)["gate"] == "failed"


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ({"message": "ok"}, {}),
        ({}, {"message": "required"}),
        (
            {"message": "{nope}"},
            {
                "message": "Unknown placeholder {nope}; known: {input}, {input[key]}, "
                "{run_id}, {flow_name}, {node_id}, {params[name]}."
            },
        ),
        ({"message": "m", "approvers": ["a@b.io", "nobody"]}, {"approvers": "not an email: 'nobody'"}),
        ({"message": "m", "approvers": ["a@b.io"] * 51}, {"approvers": "at most 50 approvers"}),
        ({"message": "m", "approvers": "a@b.io"}, {"approvers": "must be an array"}),
        ({"message": "m", "timeout_seconds": 0}, {"timeout_seconds": "must be from 1 to 2592000"}),
        ({"message": "m", "timeout_seconds": 2592001}, {"timeout_seconds": "must be from 1 to 2592000"}),
        ({"message": "m", "timeout_seconds": 1.5}, {"timeout_seconds": "must be an integer"}),
        ({"message": "m", "on_timeout": "ignore"}, {"on_timeout": "must be one of: reject, approve"}),
    ],
)
def test_the_approval_nodes_data_is_checked(data: dict[str, Any], problems: dict[str, str]) -> None:
    approval = get_node_type("approval")
    assert approval is ApprovalNode
    assert approval.validate(data) == problems


def test_run_without_a_decision_raises_awaiting_approval() -> None:
    import logging

    context = NodeContext(run_id="r", node_id="gate", params={}, logger=logging.getLogger("t"))
    with pytest.raises(AwaitingApproval) as awaiting:
        ApprovalNode().run({}, {"message": "Go?", "approvers": ["A@B.io"]}, context)
    assert awaiting.value.waiting["approvers"] == ["a@b.io"]
    context.extra["approval_decision"] = DECISION
    assert ApprovalNode().run({}, {"message": "Go?"}, context) == DECISION


def test_the_run_process_reports_what_it_waits_for() -> None:
    payload = run_payload({"nodes": [gate(message="Go {params[who]}?")], "edges": []}, {"who": "now"})
    done = subprocess.run(
        [sys.executable, "-m", "dagy.runtime"],
        input=payload.model_dump_json(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    events = [parse_event(line) for line in done.stdout.splitlines()]
    assert all(events), done.stdout
    result = events[-1]
    assert result is not None and (result["event"], result["status"]) == ("result", "waiting")
    assert result["waiting_for"]["message"] == "Go now?"
    logs = [e["message"] for e in events if e is not None and e["event"] == "log"]
    assert "[INFO] Task gate paused: waiting for an approval" in logs

"""The engine in-process (`run_flow_spec` with an EventWriter to a buffer): concurrency, branches,
for_each, node retries and timeouts, resume, subflows, secrets in config."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from dagy.nodes import NodeError, get_node_type
from dagy.runtime import EventWriter, RunScope, run_flow_spec
from dagy.runtime.engine import Engine
from dagy.runtime.node_call import prepare_config
from dagy.runtime.scope import RunResult
from tests.payloads import run_payload


def execute(
    spec: dict[str, Any], parameters: dict[str, Any] | None = None, **payload: Any
) -> tuple[RunResult, list[dict[str, Any]]]:
    """The run's result and its node events (the log lines that narrate them: test_runtime.py)."""
    buffer = io.StringIO()
    result = run_flow_spec(run_payload(spec, parameters, run_id="run_engine", **payload), EventWriter(buffer))
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return result, [event for event in events if event["event"] == "node"]


def py(node_id: str, body: str, **data: Any) -> dict[str, Any]:
    code = "def main(inputs, params):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return {"id": node_id, "type": "python_function", "data": {"code": code, **data}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"source": source, "target": target} | ({"sourceHandle": handle} if handle else {})


def final_states(events: list[dict[str, Any]]) -> dict[str, str]:
    return {e["node_id"]: e["status"] for e in events if e["event"] == "node" and e["status"] != "running"}


def test_independent_nodes_run_at_once() -> None:
    nap = "import time\ntime.sleep(1)\nreturn params['n']"
    spec = {
        "nodes": [py("a", nap), py("b", nap), py("c", "return inputs")],
        "edges": [edge("a", "c"), edge("b", "c")],
    }
    started = time.monotonic()
    result, _ = execute(spec, {"n": 7}, max_parallel_nodes=4)
    elapsed = time.monotonic() - started
    assert result.output == {"a": 7, "b": 7}
    assert elapsed < 1.9, f"two independent 1 s nodes took {elapsed:.2f}s"


def test_max_parallel_nodes_bounds_the_pool() -> None:
    nap = "import time\ntime.sleep(0.4)\nreturn 1"
    spec = {"nodes": [py(n, nap) for n in "abc"], "edges": []}
    started = time.monotonic()
    execute(spec, max_parallel_nodes=1)
    assert time.monotonic() - started >= 1.2


def test_a_condition_runs_only_the_taken_branch_and_joins_run() -> None:
    spec = {
        "nodes": [
            py("src", "return {'rows': params['rows']}"),
            {"id": "big", "type": "condition", "data": {"expression": "len(input['rows']) > 2"}},
            py("yes", "return 'many'"),
            py("yes_after", "return inputs['yes'] + '!'"),
            py("no", "return 'few'"),
            py("join", "return sorted(inputs)"),
        ],
        "edges": [
            edge("src", "big"),
            edge("big", "yes", "true_out"),
            edge("yes", "yes_after"),
            edge("big", "no", "false_out"),
            edge("yes_after", "join"),
            edge("no", "join"),
        ],
    }
    result, events = execute(spec, {"rows": [1, 2, 3]})
    states = final_states(events)
    assert (states["no"], states["yes_after"], states["join"]) == ("skipped", "completed", "completed")
    assert result.status == "completed" and result.output == ["yes_after"]
    result, events = execute(spec, {"rows": [1]})
    assert (final_states(events)["yes"], final_states(events)["yes_after"]) == ("skipped", "skipped")
    assert result.output == ["no"]


def test_a_failure_dooms_its_downstream_even_where_a_branch_joins() -> None:
    spec = {
        "nodes": [py("boom", "raise ValueError('x')"), py("fine", "return 1"), py("join", "return 2")],
        "edges": [edge("boom", "join"), edge("fine", "join")],
    }
    result, events = execute(spec)
    assert final_states(events) == {"boom": "failed", "fine": "completed", "join": "skipped"}
    assert result.error is not None and result.error["node_id"] == "boom"


def test_a_bad_expression_is_refused_at_registration_and_fails_at_run_time() -> None:
    condition = get_node_type("condition")
    assert condition is not None
    assert condition.validate({"expression": "input['a'] > 1 and len(params) == 0"}) == {}
    for bad in ("().__class__", "__import__('os')", "open('/etc/passwd')", "[x for x in input]", "1 +"):
        assert "expression" in condition.validate({"expression": bad}), bad
    spec = {
        "nodes": [
            py("src", "return {}"),
            {"id": "c", "type": "condition", "data": {"expression": "input['a']"}},
        ],
        "edges": [edge("src", "c")],
    }
    result, _ = execute(spec)
    assert result.error is not None
    assert (result.error["type"], result.error["message"]) == (
        "invalid_expression",
        "The condition's expression failed: KeyError: 'a'",
    )


def test_for_each_maps_its_successor_over_items_in_order() -> None:
    spec = {
        "nodes": [
            py("src", "return {'data': {'rows': [3, 1, 2]}}"),
            {"id": "each", "type": "for_each", "data": {"items_path": "data.rows", "max_concurrency": 3}},
            py("square", "import time\ntime.sleep(0.05 * inputs['each'])\nreturn inputs['each'] ** 2"),
            py("total", "return sum(inputs['square'])"),
        ],
        "edges": [edge("src", "each"), edge("each", "square"), edge("square", "total")],
    }
    result, events = execute(spec)
    assert result.output == 14
    square = [e for e in events if e["event"] == "node" and e["node_id"] == "square"]
    assert [(e["status"], e["output"]) for e in square] == [("running", None), ("completed", [9, 1, 4])]
    assert [e["output"] for e in events if e["node_id"] == "each" and e["status"] == "completed"] == [
        {"items": 3}
    ]


def test_for_each_runs_at_most_max_concurrency_items_at_once() -> None:
    spec = {
        "nodes": [
            py("src", "return list(range(8))"),
            {"id": "each", "type": "for_each", "data": {"max_concurrency": 2}},
            py("nap", "import time\ntime.sleep(0.2)\nreturn inputs['each']"),
        ],
        "edges": [edge("src", "each"), edge("each", "nap")],
    }
    started = time.monotonic()
    result, _ = execute(spec)
    elapsed = time.monotonic() - started
    assert result.output == list(range(8))
    assert 0.8 <= elapsed < 1.6, elapsed  # 8 items, 2 at a time, 0.2 s each (1 at a time: 1.6)


@pytest.mark.parametrize(("fail_fast", "ran"), [(True, 3), (False, 6)])
def test_a_failing_item_names_its_index(tmp_path: Path, fail_fast: bool, ran: int) -> None:
    marks = tmp_path / "ran"
    body = (
        f"open({str(marks)!r}, 'a').write('x')\n"
        "if inputs['each'] in (2, 4):\n    raise ValueError(f\"bad {inputs['each']}\")\nreturn 1"
    )
    spec = {
        "nodes": [
            py("src", "return list(range(6))"),
            {"id": "each", "type": "for_each", "data": {"max_concurrency": 1, "fail_fast": fail_fast}},
            py("check", body),
        ],
        "edges": [edge("src", "each"), edge("each", "check")],
    }
    result, _ = execute(spec)
    assert result.error is not None
    assert (result.error["item_index"], result.error["message"]) == (2, "item 2: ValueError: bad 2")
    assert result.error.get("failed_items") == (None if fail_fast else 2)
    assert len(marks.read_text()) == ran


@pytest.mark.slow
def test_a_million_items_complete_with_bounded_memory() -> None:
    spec = {
        "nodes": [
            py("src", "return list(range(1_000_000))"),
            {"id": "each", "type": "for_each", "data": {"max_concurrency": 4}},
            {"id": "pass", "type": "delay", "data": {"seconds": 0}},
            py("count", "return [len(inputs['pass']), inputs['pass'][-1]]"),
        ],
        "edges": [edge("src", "each"), edge("each", "pass"), edge("pass", "count")],
    }
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    result, events = execute(spec)
    elapsed = time.monotonic() - started
    assert result.output == [1_000_000, 999_999]
    assert len(events) == 8  # running + completed per node: nothing per item
    grown = (process.memory_info().rss - before) / 2**20
    assert grown < 200, f"RSS grew {grown:.0f} MB"
    assert elapsed < 15, elapsed


def test_node_retries_emit_retrying_then_succeed(tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    body = (
        f"import pathlib\np = pathlib.Path({str(counter)!r})\n"
        "n = len(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text('x' * n)\nif n < 3:\n    raise RuntimeError(f'try {n}')\nreturn n"
    )
    spec = {"nodes": [py("flaky", body, retries=3, retry_delay_seconds=0.05)], "edges": []}
    result, events = execute(spec)
    assert result.output == 3
    states = [(e["status"], e["tries"]) for e in events if e["event"] == "node"]
    assert states == [("running", 1), ("retrying", 1), ("retrying", 2), ("completed", 3)]
    retrying = [e for e in events if e["event"] == "node" and e["status"] == "retrying"]
    assert retrying[0]["error"]["message"] == "RuntimeError: try 1"


def test_a_node_out_of_tries_fails_with_its_count() -> None:
    spec = {"nodes": [py("never", "raise RuntimeError('no')", retries=2)], "edges": []}
    result, events = execute(spec)
    final = [e for e in events if e["event"] == "node"][-1]
    assert (final["status"], final["tries"], result.status) == ("failed", 3, "failed")


def test_a_node_past_its_timeout_fails_with_timeout() -> None:
    spec = {"nodes": [py("slow", "import time\ntime.sleep(5)", timeout_seconds=0.3)], "edges": []}
    started = time.monotonic()
    result, _ = execute(spec)
    assert time.monotonic() - started < 2
    assert result.error is not None and result.error["type"] == "timeout"
    assert result.error["message"] == "The node ran past its timeout of 0.3 seconds."


def test_completed_nodes_are_not_run_again(tmp_path: Path) -> None:
    side_effect = tmp_path / "effects"
    append = f"open({str(side_effect)!r}, 'a').write('{{}}\\n'.format(params['who']))\n"
    spec = {
        "nodes": [
            py("first", append.replace("{}", "first") + "return 10"),
            {"id": "gate", "type": "condition", "data": {"expression": "input > 5"}},
            py("second", append.replace("{}", "second") + "return inputs['gate'] + 1"),
        ],
        "edges": [edge("first", "gate"), edge("gate", "second", "true_out")],
    }
    result, events = execute(spec, {"who": "x"}, completed_nodes={"first": 10})
    assert result.output == 11
    assert side_effect.read_text() == "second\n"
    first = [e for e in events if e["event"] == "node" and e["node_id"] == "first"]
    assert [(e["status"], e.get("resumed"), e["output"]) for e in first] == [("completed", True, 10)]


ROUTED_SPEC = {
    "nodes": [
        py("orders", "return [{'id': 1, 'amount': 5}, {'id': 2, 'amount': -1}, {'id': 3, 'amount': 7}]"),
        {
            "id": "check",
            "type": "schema_validator",
            "data": {"schema": {"properties": {"amount": {"minimum": 0}}}},
        },
        py("good", "return [r['id'] for r in inputs['check']]"),
        py("bad", "return [e['record']['id'] for e in inputs['check']]"),
    ],
    "edges": [
        edge("orders", "check"),
        edge("check", "good", "data_out"),
        edge("check", "bad", "invalid_out"),
    ],
}


def test_each_edge_receives_the_connector_it_leaves_by() -> None:
    """A node with several outbound connectors answers `Ports`: valid records go one way, invalid
    ones the other; the node run records both."""
    result, events = execute(ROUTED_SPEC)
    assert result.output == {"good": [1, 3], "bad": [2]}
    check = next(e for e in events if e["node_id"] == "check" and e["status"] == "completed")
    assert set(check["output"]) == {"data_out", "invalid_out"}


def test_a_resumed_node_answers_its_ports_again() -> None:
    completed = {"check": {"data_out": [{"id": 9}], "invalid_out": []}}
    result, _ = execute(ROUTED_SPEC, completed_nodes=completed)
    assert result.output == {"good": [9], "bad": []}


def test_subflows_run_inline_with_prefixed_node_runs() -> None:
    child = {"nodes": [py("double", "return params['x'] * 2")], "edges": []}
    parent = {
        "nodes": [
            py("start", "return {'x': 21}"),
            {"id": "sub", "type": "subflow", "data": {"flow_name": "child"}},
        ],
        "edges": [edge("start", "sub")],
    }
    subflows = {"child": {"flow_name": "child", "flow_version": "1", "flow_spec": child}}
    result, events = execute(parent, subflows=subflows)
    assert result.output == 42
    assert ("sub/double", "completed") in [
        (e["node_id"], e["status"]) for e in events if e["event"] == "node"
    ]


def test_unknown_and_too_deep_subflows_fail() -> None:
    loop = {"nodes": [{"id": "again", "type": "subflow", "data": {"flow_name": "loop"}}], "edges": []}
    subflows = {"loop": {"flow_name": "loop", "flow_version": "1", "flow_spec": loop}}
    result, events = execute(loop, subflows=subflows)
    assert result.error is not None and result.error["type"] == "subflow_failed"
    deepest = next(e for e in events if e["event"] == "node" and e["status"] == "failed")
    assert deepest["node_id"] == "/".join(["again"] * 6)
    assert deepest["error"]["type"] == "subflow_depth"
    result, _ = execute(loop)
    assert result.error is not None and result.error["type"] == "unknown_subflow"


def test_config_gets_defaults_and_resolved_secrets() -> None:
    fetch = get_node_type("http_fetch")
    assert fetch is not None
    data = {"auth_token": {"secret": "tok"}, "headers": {"X-Key": {"secret": "tok"}}, "method": None}
    config = prepare_config(fetch, data, {"tok": "s3cr3t"})
    assert (config["auth_token"], config["headers"]) == ("s3cr3t", {"X-Key": "s3cr3t"})
    assert (config["method"], config["response_format"], config["timeout_seconds"]) == ("GET", "json", 30)
    with pytest.raises(NodeError, match="'gone'") as raised:
        prepare_config(fetch, {"auth_token": {"secret": "gone"}}, {})
    assert raised.value.error_type == "secret_not_found"


def test_a_missing_secret_fails_its_node() -> None:
    spec = {"nodes": [py("n", "return 1", token={"secret": "absent"})], "edges": []}
    result, _ = execute(spec)
    assert result.error is not None and result.error["type"] == "secret_not_found"


def test_nodes_see_the_environment_and_run_details() -> None:
    scope = RunScope(
        events=EventWriter(io.StringIO()), run_id="r1", org_id="o1", flow_name="f", env={"REGION": "eu"}
    )
    context = Engine(scope, {}, parameters={"p": 1}).context("n")
    assert (context.env, context.run_id, context.org_id, context.flow_name, context.params) == (
        {"REGION": "eu"},
        "r1",
        "o1",
        "f",
        {"p": 1},
    )
    assert isinstance(context.logger, logging.Logger) and context.run_subflow is not None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"retries": 11}, "retries"),
        ({"retries": -1}, "retries"),
        ({"retries": True}, "retries"),
        ({"retry_delay_seconds": -0.5}, "retry_delay_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": "5"}, "timeout_seconds"),
    ],
)
def test_execution_keys_are_validated_for_every_type(data: dict[str, Any], problem: str) -> None:
    for type_name in ("python_function", "delay", "http_fetch"):
        node_type = get_node_type(type_name)
        assert node_type is not None
        assert problem in node_type.validate(data), type_name
    python = get_node_type("python_function")
    assert python is not None
    valid = {
        "code": "def main(i, p):\n    return 1\n",
        "retries": 10,
        "retry_delay_seconds": 0,
        "timeout_seconds": 0.5,
    }
    assert python.validate(valid) == {}

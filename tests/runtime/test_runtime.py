"""`python -m dagy.runtime`: a payload on stdin, JSON-lines events on stdout, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from dagy.runtime import parse_event, sinks, topological_order
from tests.payloads import run_payload


def run_runtime(
    flow_spec: dict[str, Any], parameters: dict[str, Any] | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """`python -m dagy.runtime` with the payload; `extra` adds payload fields (secrets, env, ...)."""
    payload = run_payload(flow_spec, parameters, **extra)
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
    return [e for e in events if e is not None]


def node(node_id: str, code: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "python_function", "data": {"code": code, **data}}


def edges(*pairs: str) -> list[dict[str, str]]:
    return [{"source": p.split(">")[0], "target": p.split(">")[1]} for p in pairs]


def test_a_diamond_passes_outputs_downstream() -> None:
    echo = "def main(inputs, params):\n    return {'seen': sorted(inputs), 'scale': params['scale']}\n"
    top = "def main(inputs, params):\n    return 1\n"
    spec = {
        "nodes": [node("d", echo), node("b", echo), node("a", top), node("c", echo)],
        "edges": edges("a>b", "a>c", "b>d", "c>d"),
    }
    events = run_runtime(spec, {"scale": 2})
    finished = [
        (e["node_id"], e["status"]) for e in events if e["event"] == "node" and e["status"] != "running"
    ]
    # b and c run at once, in either order; a comes before them and d after.
    assert finished[0] == ("a", "completed") and finished[3] == ("d", "completed")
    assert sorted(finished[1:3]) == [("b", "completed"), ("c", "completed")]
    assert events[-1] == {
        "event": "result",
        "status": "completed",
        "output": {"seen": ["b", "c"], "scale": 2},
        "error": None,
    }


def test_several_sinks_make_an_object_of_outputs() -> None:
    spec = {
        "nodes": [
            node("x", "def main(i, p):\n    return 'x'\n"),
            node("y", "def main(i, p):\n    return 'y'\n"),
        ],
        "edges": [],
    }
    assert run_runtime(spec)[-1]["output"] == {"x": "x", "y": "y"}


def test_print_logging_and_stderr_become_log_events() -> None:
    code = (
        "import logging, sys\n\ndef main(inputs, params):\n    print('hello')\n"
        "    logging.getLogger('mine').warning('careful')\n    print('to stderr', file=sys.stderr)\n"
        "    sys.stdout.write('no newline')\n    return None\n"
    )
    events = run_runtime({"nodes": [node("n", code)], "edges": []})
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert logs[:4] == ["[INFO] Starting task: n", "hello", "[WARNING] careful", "to stderr"]
    assert logs[4].startswith("[INFO] Task n completed in ") and logs[5:] == ["no newline"]
    assert all(e["timestamp"].endswith("Z") for e in events if e["event"] == "log")


def test_a_failure_skips_downstream_and_others_still_run() -> None:
    boom = "def main(inputs, params):\n    raise KeyError('missing')\n"
    fine = "def main(inputs, params):\n    return 'fine'\n"
    spec = {
        "nodes": [node("boom", boom), node("after", fine), node("apart", fine)],
        "edges": edges("boom>after"),
    }
    events = run_runtime(spec)
    statuses = {e["node_id"]: e["status"] for e in events if e["event"] == "node"}
    assert statuses == {"boom": "failed", "after": "skipped", "apart": "completed"}
    result = events[-1]
    assert (result["status"], result["output"]) == ("failed", None)
    assert result["error"]["node_id"] == "boom" and result["error"]["message"] == "KeyError: 'missing'"
    assert result["error"]["traceback"].startswith('Traceback (most recent call last):\n  File "<node:boom>"')


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("def main(inputs, params):\n    return {1, 2}\n", "invalid_output"),
        ("def main(inputs, params):\n    return float('nan')\n", "invalid_output"),
        ("def other(inputs, params):\n    return 1\n", "invalid_entrypoint"),
    ],
)
def test_node_errors_name_their_kind(code: str, error_type: str) -> None:
    result = run_runtime({"nodes": [node("n", code)], "edges": []})[-1]
    assert result["status"] == "failed" and result["error"]["type"] == error_type


def test_graph_order_is_stable_and_cycles_are_refused() -> None:
    nodes = [{"id": i} for i in ("c", "a", "b")]
    assert topological_order(nodes, []) == ["c", "a", "b"]
    assert topological_order(nodes, [{"source": "b", "target": "c"}]) == ["a", "b", "c"]
    assert sinks(nodes, [{"source": "b", "target": "c"}]) == ["c", "a"]
    with pytest.raises(ValueError, match="cycle through a, b"):
        topological_order(nodes, [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}])


def test_plain_lines_are_not_events() -> None:
    assert parse_event("hello") is None
    assert parse_event('{"event": "other"}') is None
    assert parse_event('{"event": "log", "timestamp": "t", "message": "m"}') == {
        "event": "log",
        "timestamp": "t",
        "message": "m",
    }


def test_sys_exit_in_a_node_is_that_nodes_failure() -> None:
    code = "import sys\n\ndef main(inputs, params):\n    sys.exit(4)\n"
    result = run_runtime({"nodes": [node("n", code)], "edges": []})[-1]
    assert (result["status"], result["error"]["message"]) == ("failed", "SystemExit: 4")


def test_node_code_is_a_real_module() -> None:
    code = (
        "from __future__ import annotations\nfrom dataclasses import dataclass, asdict\n\n"
        "@dataclass\nclass Point:\n    x: int\n\ndef main(inputs, params):\n    return asdict(Point(3))\n"
    )
    assert run_runtime({"nodes": [node("n", code)], "edges": []})[-1]["output"] == {"x": 3}


def test_a_spec_without_nodes_fails_cleanly() -> None:
    result = run_runtime({})[-1]
    assert (result["status"], result["error"]["type"]) == ("failed", "invalid_flow")


def test_secret_values_are_masked_in_logs_errors_and_tracebacks() -> None:
    code = (
        "import logging\n\ndef main(inputs, params):\n    print('token is', params['t'])\n"
        "    logging.getLogger('x').warning('again %s', params['t'])\n    raise ValueError(params['t'])\n"
    )
    events = run_runtime(
        {"nodes": [node("leak", code)], "edges": []}, {"t": "hunter2-xyz"}, secrets={"api": "hunter2-xyz"}
    )
    text = json.dumps(events)
    assert "hunter2" not in text
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert logs[:3] == ["[INFO] Starting task: leak", "token is ***", "[WARNING] again ***"]
    assert logs[3].startswith("[ERROR] Task leak failed in ") and "ValueError: ***\nTraceback" in logs[3]
    error = events[-1]["error"]
    assert error["message"] == "ValueError: ***" and "raise ValueError(params['t'])" in error["traceback"]


def test_a_run_printing_past_the_log_cap_completes_with_one_marker() -> None:
    code = (
        "def main(inputs, params):\n    for i in range(200_000):\n        print('line', i)\n"
        "    return 'done'\n"
    )
    events = run_runtime({"nodes": [node("chatty", code)], "edges": []}, log_max_bytes=5000)
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert logs[-1] == "[WARNING] The log was cut after 5000 bytes; later lines were dropped"
    assert sum(len(m) + 1 for m in logs[:-1]) <= 5000
    assert logs[:2] == ["[INFO] Starting task: chatty", "line 0"]
    assert events[-1]["output"] == "done"


def test_the_deployment_environment_is_the_process_environment() -> None:
    code = "import os\n\ndef main(inputs, params):\n    return os.environ.get('REGION')\n"
    events = run_runtime({"nodes": [node("env", code)], "edges": []}, env={"REGION": "eu-west"})
    assert events[-1]["output"] == "eu-west"


def test_a_payload_outside_the_protocol_fails_the_run_before_it_starts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dagy.runtime"],
        input=json.dumps({"claim": {"run_id": "r"}, "unknown": 1}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    (result,) = [parse_event(line) for line in done.stdout.splitlines()]
    assert result is not None and (result["event"], result["status"]) == ("result", "failed")
    assert result["error"]["type"] == "invalid_payload" and "claim.attempt" in result["error"]["message"]


def test_http_clients_request_lines_stay_out_of_the_log() -> None:
    code = (
        "import logging\n\ndef main(inputs, params):\n"
        "    logging.getLogger('httpx').info('HTTP Request: GET http://x \"HTTP/1.1 200 OK\"')\n"
        "    logging.getLogger('httpx').warning('a retry')\n"
        "    logging.getLogger('mine').info('my line')\n"
        "    return 1\n"
    )
    events = run_runtime({"nodes": [node("n", code)], "edges": []})
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert logs[0] == "[INFO] Starting task: n" and logs[1:3] == ["[WARNING] a retry", "[INFO] my line"]
    assert logs[3].startswith("[INFO] Task n completed in ") and len(logs) == 4

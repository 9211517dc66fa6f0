"""The engine with a Dask cluster (`host_settings.dask_address`): a real `distributed.LocalCluster`
of two worker processes. Independent nodes run on both workers at once, a dependent node gets their
outputs, control flow and for_each keep their meaning, failures, retries and timeouts are the
node's, and what a node prints, logs or reads as a secret stays its run's."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import LocalCluster

from dagy.nodes import ExecutableNode, NodeContext
from dagy.protocol import HostSettings
from dagy.runtime import EventWriter, Redactor, run_flow_spec
from dagy.runtime.scope import RunResult
from tests.dask_cluster import local_cluster, worker_addresses
from tests.payloads import run_payload
from tests.ports import free_port

pytestmark = pytest.mark.slow

WHERE = """
import os, time
from distributed import get_worker

def main(inputs, params):
    print("printed by", os.getpid())
    started = time.time()
    time.sleep(1)
    return {"pid": os.getpid(), "worker": get_worker().address, "span": [started, time.time()]}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster() as cluster:
        yield cluster


def py(node_id: str, body: str, **data: Any) -> dict[str, Any]:
    code = "def main(inputs, params):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return {"id": node_id, "type": "python_function", "data": {"code": code, **data}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"source": source, "target": target} | ({"sourceHandle": handle} if handle else {})


def execute(
    cluster: LocalCluster | str,
    spec: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    **payload: Any,
) -> tuple[RunResult, list[dict[str, Any]], list[str]]:
    """The run's result, its node events and its log lines."""
    address = cluster if isinstance(cluster, str) else cluster.scheduler_address
    settings = HostSettings(dask_address=address)
    built = run_payload(spec, parameters, run_id="run_dask", host_settings=settings, **payload)
    buffer = io.StringIO()
    result = run_flow_spec(built, EventWriter(buffer, redactor=Redactor(built.credentials())))
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    nodes = [e for e in events if e["event"] == "node"]
    return result, nodes, [e["message"] for e in events if e["event"] == "log"]


def test_independent_nodes_run_on_both_workers_at_once(cluster: LocalCluster) -> None:
    spec = {
        "nodes": [
            {"id": "a", "type": "python_function", "data": {"code": WHERE}},
            {"id": "b", "type": "python_function", "data": {"code": WHERE}},
            py("c", "return {'seen': inputs, 'pid': __import__('os').getpid()}"),
        ],
        "edges": [edge("a", "c"), edge("b", "c")],
    }
    result, events, lines = execute(cluster, spec)
    assert result.status == "completed", result.error
    seen = result.output["seen"]
    assert {seen["a"]["worker"], seen["b"]["worker"]} == worker_addresses(cluster)
    assert len({seen["a"]["pid"], seen["b"]["pid"], os.getpid()}) == 3  # two workers' processes, not this
    assert result.output["pid"] != os.getpid()
    (a_start, a_end), (b_start, b_end) = seen["a"]["span"], seen["b"]["span"]
    assert a_start < b_end and b_start < a_end, "the independent nodes did not run at once"
    assert {f"printed by {seen['a']['pid']}", f"printed by {seen['b']['pid']}"} <= set(lines)
    assert [(e["node_id"], e["status"]) for e in events if e["status"] != "running"][-1] == ("c", "completed")


def test_a_failing_node_fails_the_run_with_its_error(cluster: LocalCluster) -> None:
    boom = "class RowError(Exception):\n    pass\n\ndef main(inputs, params):\n    raise RowError('row 7')\n"
    spec = {
        "nodes": [
            {"id": "boom", "type": "python_function", "data": {"code": boom}},
            py("after", "return 1"),
            py("aside", "return 'fine'"),
        ],
        "edges": [edge("boom", "after")],
    }
    result, events, _ = execute(cluster, spec)
    assert result.status == "failed" and result.error is not None
    assert (result.error["type"], result.error["message"], result.error["node_id"]) == (
        "exception",
        "RowError: row 7",
        "boom",
    )
    assert 'File "<node:boom>", line 5, in main' in result.error["traceback"]
    states = {e["node_id"]: e["status"] for e in events if e["status"] != "running"}
    assert states == {"boom": "failed", "after": "skipped", "aside": "completed"}


def test_retries_try_again_on_the_cluster(cluster: LocalCluster, tmp_path: Path) -> None:
    flaky = (
        "from pathlib import Path\n"
        "tries = Path(params['counter'])\n"
        "tries.write_text(tries.read_text() + 'x' if tries.exists() else 'x')\n"
        "if len(tries.read_text()) < 3:\n"
        "    raise ConnectionError(f'try {len(tries.read_text())} failed')\n"
        "return len(tries.read_text())"
    )
    spec = {"nodes": [py("flaky", flaky, retries=2, retry_delay_seconds=0.1)], "edges": []}
    result, events, lines = execute(cluster, spec, {"counter": str(tmp_path / "tries")})
    assert (result.status, result.output) == ("completed", 3)
    assert [(e["status"], e["tries"]) for e in events] == [
        ("running", 1),
        ("retrying", 1),
        ("retrying", 2),
        ("completed", 3),
    ]
    assert events[1]["error"]["message"] == "ConnectionError: try 1 failed"
    assert "[WARNING] Task flaky failed (try 2), retrying in 0.1 s: ConnectionError: try 2 failed" in lines
    spent = {"nodes": [py("once", "raise ValueError('no')", retries=1)], "edges": []}
    result, events, _ = execute(cluster, spent)
    assert result.error is not None and result.error["message"] == "ValueError: no"
    assert events[-1]["tries"] == 2


def test_conditions_and_for_each_keep_their_meaning(cluster: LocalCluster) -> None:
    where = "from distributed import get_worker\nreturn [inputs['each'] ** 2, get_worker().address]"
    spec = {
        "nodes": [
            py("src", "return {'rows': [3, 1, 2, 5]}"),
            {"id": "many", "type": "condition", "data": {"expression": "len(input['rows']) > 2"}},
            py("few", "return 'few'"),
            {"id": "each", "type": "for_each", "data": {"items_path": "rows", "max_concurrency": 2}},
            py("square", where),
            py("total", "return sum(pair[0] for pair in inputs['square'])"),
        ],
        "edges": [
            edge("src", "many"),
            edge("many", "each", "true_out"),
            edge("many", "few", "false_out"),
            edge("each", "square"),
            edge("square", "total"),
        ],
    }
    result, events, _ = execute(cluster, spec)
    assert (result.status, result.output) == ("completed", {"total": 39}), result.error
    square = next(e for e in events if e["node_id"] == "square" and e["status"] == "completed")
    assert [pair[0] for pair in square["output"]] == [9, 1, 4, 25]  # in item order
    assert {pair[1] for pair in square["output"]} <= worker_addresses(cluster)
    assert {e["node_id"]: e["status"] for e in events if e["status"] != "running"}["few"] == "skipped"


def test_a_subflow_runs_here_and_its_nodes_on_the_cluster(cluster: LocalCluster) -> None:
    child = {"nodes": [py("pid", "import os\nreturn {'pid': os.getpid(), 'x': params['x']}")], "edges": []}
    parent = {
        "nodes": [
            py("start", "return {'x': 21}"),
            {"id": "sub", "type": "subflow", "data": {"flow_name": "child"}},
        ],
        "edges": [edge("start", "sub")],
    }
    subflows = {"child": {"flow_name": "child", "flow_version": "1", "flow_spec": child}}
    result, events, _ = execute(cluster, parent, subflows=subflows)
    assert result.status == "completed", result.error
    assert result.output["x"] == 21 and result.output["pid"] != os.getpid()
    assert ("sub/pid", "completed") in [(e["node_id"], e["status"]) for e in events]


class WhereNode(ExecutableNode):
    """An org's custom node type (no definition: it lives on the server), imported on the cluster."""

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        return {"pid": os.getpid(), "node": context.node_id}


class LockedNode(WhereNode):
    """A node that cannot be pickled: the cluster cannot take its try."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


def test_custom_node_types_run_on_the_cluster_and_an_unpicklable_one_fails(cluster: LocalCluster) -> None:
    here = f"{__name__}:WhereNode"
    spec = {"nodes": [{"id": "where", "type": "acme_where", "data": {}}], "edges": []}
    result, _, _ = execute(cluster, spec, custom_nodes={"acme_where": here})
    assert result.status == "completed", result.error
    assert result.output["node"] == "where" and result.output["pid"] != os.getpid()
    spec = {"nodes": [{"id": "locked", "type": "acme_locked", "data": {}}], "edges": []}
    result, _, _ = execute(cluster, spec, custom_nodes={"acme_locked": f"{__name__}:LockedNode"})
    assert result.error is not None and result.error["type"] == "dask_error"
    assert result.error["message"].startswith(f"The Dask cluster at {cluster.scheduler_address} did not run")


def test_secrets_and_the_environment_reach_the_node_and_stay_masked(cluster: LocalCluster) -> None:
    reads = (
        "import dagy.secrets\n"
        "value = dagy.secrets.get('api-key')\n"
        "print('the key is', value)\n"
        "return {'key': value}"
    )
    shell = {"command": 'echo "region=$REGION token=$TOKEN"', "env": {"TOKEN": {"secret": "api-key"}}}
    spec = {
        "nodes": [py("reads", reads), {"id": "shell", "type": "shell_command", "data": shell}],
        "edges": [],
        "secrets": ["api-key"],
    }
    result, events, lines = execute(cluster, spec, secrets={"api-key": "s3cr3t-value"}, env={"REGION": "eu"})
    assert result.status == "completed", result.error
    outputs = {e["node_id"]: e["output"] for e in events if e["status"] == "completed"}
    assert outputs == {"reads": {"key": "***"}, "shell": "region=eu token=***"}
    assert "the key is ***" in lines
    assert not any("s3cr3t-value" in line for line in lines)


def test_a_try_past_its_timeout_fails_without_waiting_for_it(cluster: LocalCluster, tmp_path: Path) -> None:
    done = tmp_path / "done"
    slow = "import time\ntime.sleep(1.5)\nopen(params['done'], 'w').close()\nreturn 1"
    started = time.monotonic()
    result, _, _ = execute(
        cluster, {"nodes": [py("slow", slow, timeout_seconds=0.3)], "edges": []}, {"done": str(done)}
    )
    assert time.monotonic() - started < 1.4
    assert result.error is not None and result.error["type"] == "timeout"
    deadline = time.monotonic() + 10  # its thread on the worker runs to its end, as in a run's process
    while not done.exists():
        assert time.monotonic() < deadline, "the abandoned try never ended"
        time.sleep(0.05)


def test_an_unreachable_scheduler_fails_the_nodes_once() -> None:
    """The nodes waiting for the same connection fail with it, not one connect timeout after another."""
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens
    spec = {"nodes": [py(name, "return 1") for name in ("a", "b", "c")], "edges": []}
    started = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):  # Dask's own, 30 s by default
        result, events, _ = execute(address, spec)
    assert time.monotonic() - started < 2.5
    assert result.error is not None and result.error["type"] == "dask_unavailable"
    assert address in result.error["message"]
    failed = {e["node_id"]: e["error"]["type"] for e in events if e["status"] == "failed"}
    assert failed == {"a": "dask_unavailable", "b": "dask_unavailable", "c": "dask_unavailable"}

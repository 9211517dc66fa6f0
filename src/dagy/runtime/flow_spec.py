"""Running a flow spec: nodes in topological order, each one's output passed to its successors.

A node that raises fails the run; the nodes downstream of it are skipped, the others still run
(they do not depend on the failure). The run's output is its single sink node's output, or an
object keyed by sink id when the flow ends in several.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field
from typing import Any

from dagy.nodes import ExecutableNode, NodeContext, NodeError, get_node_type
from dagy.runtime.events import NODE, EventWriter, now_iso
from dagy.runtime.graph import sinks, topological_order, upstream_of


@dataclass
class RunResult:
    status: str  # completed | failed
    output: Any = None
    error: dict[str, Any] | None = None


@dataclass
class _Walk:
    outputs: dict[str, Any] = field(default_factory=dict)
    unfinished: set[str] = field(default_factory=set)  # failed or skipped: their successors skip
    first_error: dict[str, Any] | None = None


def run_flow_spec(payload: dict[str, Any], events: EventWriter) -> RunResult:
    spec = payload.get("flow_spec") or {}
    nodes = {str(node["id"]): node for node in spec.get("nodes", [])}
    edges = spec.get("edges", [])
    if not nodes:
        message = "The flow version has no flow spec nodes to run."
        return RunResult(status="failed", error={"type": "invalid_flow", "message": message})
    upstream = upstream_of(list(nodes.values()), edges)
    walk = _Walk()
    for node_id in topological_order(list(nodes.values()), edges):
        node = nodes[node_id]
        if any(up in walk.unfinished for up in upstream[node_id]):
            walk.unfinished.add(node_id)
            _emit_node(events, node, "skipped", started_at=None)
            continue
        inputs = {up: walk.outputs[up] for up in upstream[node_id]}
        _run_node(payload, node, inputs, events, walk)
    if walk.first_error is not None:
        return RunResult(status="failed", error=walk.first_error)
    ends = sinks(list(nodes.values()), edges)
    output = walk.outputs[ends[0]] if len(ends) == 1 else {end: walk.outputs[end] for end in ends}
    return RunResult(status="completed", output=output)


def _run_node(
    payload: dict[str, Any], node: dict[str, Any], inputs: dict[str, Any], events: EventWriter, walk: _Walk
) -> None:
    node_id = str(node["id"])
    started_at = now_iso()
    _emit_node(events, node, "running", started_at=started_at)
    try:
        output = _call(payload, node, inputs)
    except (Exception, SystemExit) as exc:  # any failure of user code, `sys.exit()` too, is the node's
        error = _error_of(exc, node)
        walk.unfinished.add(node_id)
        walk.first_error = walk.first_error or error
        _emit_node(events, node, "failed", started_at=started_at, error=error)
        return
    walk.outputs[node_id] = output
    _emit_node(events, node, "completed", started_at=started_at, output=output)


def _call(payload: dict[str, Any], node: dict[str, Any], inputs: dict[str, Any]) -> Any:
    type_name, node_id = str(node.get("type")), str(node["id"])
    node_type = get_node_type(type_name)
    if node_type is None:
        raise NodeError("unknown_node_type", f"This worker does not know node type {type_name!r}.")
    if not issubclass(node_type, ExecutableNode):
        # Described and validated today, run by an engine that comes later: fail plainly, not halfway.
        message = f"Node {node_id!r} is of type {type_name!r}, which this version of Dagy cannot run yet."
        raise NodeError("node_not_executable", message)
    context = NodeContext(
        run_id=str(payload["run_id"]),
        node_id=node_id,
        params=dict(payload.get("parameters") or {}),
        logger=logging.getLogger(f"dagy.run.{node_id}"),
    )
    output = node_type().run(inputs, node.get("data") or {}, context)
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NodeError("invalid_output", f"The node's output is not JSON-serialisable: {exc}") from exc
    return output


def _error_of(exc: BaseException, node: dict[str, Any]) -> dict[str, Any]:
    where = {"node_id": str(node["id"]), "node_type": str(node.get("type"))}
    if isinstance(exc, NodeError):
        return {"type": exc.error_type, "message": exc.message, **where, "traceback": None}
    return {
        "type": "exception",
        "message": f"{type(exc).__name__}: {exc}",
        **where,
        "traceback": _user_traceback(exc),
    }


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the author's code on: the runtime's own frames are noise to them."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<node:"):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _emit_node(
    events: EventWriter,
    node: dict[str, Any],
    status: str,
    *,
    started_at: str | None,
    output: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    finished = status != "running"
    events.emit(
        {
            "event": NODE,
            "node_id": str(node["id"]),
            "node_type": str(node.get("type")),
            "status": status,
            "started_at": started_at,
            "completed_at": now_iso() if finished else None,
            "output": output,
            "error": error,
        }
    )

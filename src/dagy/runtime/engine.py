"""The engine: a flow spec's nodes run as soon as their upstreams finish, independent ones at once.

The main thread decides and records; a bounded pool of threads (`max_parallel_nodes`) runs nodes.
Each try of a node executes through the run's runner (runners.py): in that thread, or on a Dask
cluster while the thread waits (dask_runner.py). Outputs are keyed by node id, so what a run
computes never depends on timing.

A node runs when at least one incoming edge is live and none of its upstreams failed. An edge is
live when its source completed and, for a node answering `Ports` (a `condition`'s branch is the
one-port case), leaves by a connector the node answered; it carries that connector's value. A failure skips
everything downstream of it ("doomed"); a branch not taken skips the nodes reached only through it.
The direct successors of a `for_each` run once per item (`mapping.py`). Nodes an earlier attempt
completed are not run again (`completed_nodes`), except `condition` and `for_each`, which are pure
and cheap and are evaluated again to know where the run goes. A large output is persisted in the
run's object store and reported as a reference (outputs.py); a resumed node's reference is read
back, so its successors get the value the earlier attempt computed.

An `approval` node completes with the decision the run was given (`approvals`); without one it is
`paused`: every node that does not depend on it still runs, then the attempt ends `waiting` for
the first paused node in the flow's order (the server holds the run until someone decides, then
queues the next attempt, which resumes here).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from dagy.nodes import NodeContext, NodeError, Ports, get_node_type
from dagy.nodes.control_flow import (
    APPROVAL,
    APPROVAL_DECISION,
    ApprovalNode,
    AwaitingApproval,
    Branch,
    FanOut,
)
from dagy.runtime.events import NODE, now_iso
from dagy.runtime.graph import FlowGraph
from dagy.runtime.mapping import MappedCall, run_mapped
from dagy.runtime.node_call import (
    NodeFailed,
    TryPolicy,
    call_with_tries,
    check_output,
    error_of,
    executable_type,
    prepare_config,
)
from dagy.runtime.objects import run_objects_prefix
from dagy.runtime.outputs import is_reference, load, output_key, persist
from dagy.runtime.scope import RunResult, RunScope

MAX_SUBFLOW_DEPTH = 5
RE_EVALUATED_ON_RESUME = frozenset({"condition", "for_each"})


@dataclass
class Outcome:
    """What running one node came to."""

    status: str  # completed | failed
    output: Any = None
    error: dict[str, Any] | None = None
    tries: int = 1
    ports: dict[str, Any] | None = None
    items: list[Any] | None = None
    reference: dict[str, Any] | None = None  # the output persisted in the object store


@dataclass
class _State:
    outputs: dict[str, Any] = field(default_factory=dict)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)  # outputs in the object store
    ports: dict[str, dict[str, Any]] = field(default_factory=dict)
    fan_outs: dict[str, list[Any]] = field(default_factory=dict)
    doomed: set[str] = field(default_factory=set)  # failed, or downstream of a failure
    finished: set[str] = field(default_factory=set)
    first_error: dict[str, Any] | None = None
    paused: dict[str, dict[str, Any]] = field(default_factory=dict)  # approval nodes without a decision


class Engine:
    """Runs one flow spec: the run's own, or a subflow's (`prefix` names its node runs)."""

    def __init__(
        self,
        scope: RunScope,
        spec: dict[str, Any],
        *,
        parameters: dict[str, Any],
        prefix: str = "",
        depth: int = 0,
    ) -> None:
        self.scope = scope
        self.spec = spec
        self.parameters = parameters
        self.prefix = prefix
        self.depth = depth
        self.state = _State()
        self.graph = FlowGraph(nodes={}, order=[], incoming={}, sinks=[])

    def run(self) -> RunResult:
        if not self.spec.get("nodes"):
            message = "The flow version has no flow spec nodes to run."
            return RunResult(status="failed", error={"type": "invalid_flow", "message": message})
        try:
            graph = self.graph = FlowGraph.from_spec(self.spec)
        except (ValueError, KeyError) as exc:
            return RunResult(
                status="failed", error={"type": "invalid_flow", "message": f"The flow spec: {exc}"}
            )
        self._walk(graph)
        if self.state.first_error is not None:
            return RunResult(status="failed", error=self.state.first_error)
        if self.state.paused:
            first = next(n for n in graph.order if n in self.state.paused)
            return RunResult(status="waiting", waiting_for=self.state.paused[first])
        outputs = self.state.outputs
        if self.depth == 0:  # the run's result shows a persisted sink output as its reference
            outputs = {**outputs, **self.state.references}
        if len(graph.sinks) == 1:
            return RunResult(status="completed", output=outputs.get(graph.sinks[0]))
        return RunResult(status="completed", output={s: outputs[s] for s in graph.sinks if s in outputs})

    def _walk(self, graph: FlowGraph) -> None:
        pending = list(graph.order)
        running: dict[Future[Outcome], str] = {}
        workers = max(1, self.scope.max_parallel_nodes)
        with ThreadPoolExecutor(workers, thread_name_prefix="dagy-node") as pool:
            while pending or running:
                ready = self._ready(graph, pending)
                for node_id in ready:
                    pending.remove(node_id)
                    future = self._start(graph, node_id, pool)
                    if future is not None:
                        running[future] = node_id
                if not running:
                    if ready:
                        continue  # skipped or resumed at once: their successors may be ready now
                    break  # what is left waits behind a paused approval node
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._record(running.pop(future), future.result())

    def _ready(self, graph: FlowGraph, pending: list[str]) -> list[str]:
        finished = self.state.finished
        return [n for n in pending if all(up in finished for up in graph.upstream(n))]

    def _start(self, graph: FlowGraph, node_id: str, pool: ThreadPoolExecutor) -> Future[Outcome] | None:
        """Skip, resume or submit a node whose upstreams all finished."""
        node, state = graph.nodes[node_id], self.state
        upstream = graph.upstream(node_id)
        if any(up in state.doomed for up in upstream):
            state.doomed.add(node_id)
            self._skip(node)
            return None
        inputs: dict[str, Any] = {}
        for link in graph.incoming[node_id]:
            if link.source not in state.outputs or link.source in inputs:
                continue
            ports = state.ports.get(link.source)
            if ports is None or link.handle is None:
                inputs[link.source] = state.outputs[link.source]
            elif link.handle in ports:
                inputs[link.source] = ports[link.handle]
        if upstream and not inputs:
            self._skip(node)
            return None
        fan_out = [up for up in upstream if up in state.fan_outs]
        if str(node.get("type")) == APPROVAL:
            self._approval(node, inputs, mapped=bool(fan_out))
            return None
        resumed = self._resumed(node)
        if resumed is not None:
            shown = resumed.reference or resumed.output
            self._emit(node, "completed", started_at=None, output=shown, tries=None, resumed=True)
            self._record(node_id, resumed)
            return None
        if fan_out:
            return pool.submit(self._execute_mapped, node, inputs, fan_out)
        return pool.submit(self._execute, node, inputs)

    def _resumed(self, node: Mapping[str, Any]) -> Outcome | None:
        """The outcome an earlier attempt recorded for `node`, its persisted output read back; None
        when the node runs (never completed, re-evaluated on resume, or its object is unreadable)."""
        recorded = self.scope.completed_nodes.get(self.prefix + str(node["id"]), _ABSENT)
        if recorded is _ABSENT or str(node.get("type")) in RE_EVALUATED_ON_RESUME:
            return None
        value, reference = recorded, None
        if is_reference(recorded):
            try:
                value, reference = load(self.scope.store, recorded), recorded
            except Exception as exc:
                self.scope.events.log(
                    f"[WARNING] Task {self.prefix}{node['id']}: its persisted output could not be read "
                    f"({self.scope.events.redact(str(exc))}); running it again"
                )
                return None
        outcome = Outcome("completed", output=value, tries=0, ports=_ports_of(node, value))
        outcome.reference = reference
        return outcome

    def _approval(self, node: Mapping[str, Any], inputs: dict[str, Any], *, mapped: bool) -> None:
        """An approval node, in the main thread (it only reads its decision or renders its message):
        completed with the decision the run was given, else paused. It waits only in the run's own
        flow: inside a subflow or after a for_each (where nobody could decide it) it fails."""
        node_id = str(node["id"])
        if self.depth > 0 or mapped:
            message = (
                "An approval node waits only in the run's own flow, not inside a subflow or after a for_each."
            )
            error = {"type": "invalid_flow", "message": message, "node_type": APPROVAL, "traceback": None}
            self._record(node_id, self._failed(node, None, error, 1))
            return
        context = self.context(node_id)
        decision = self.scope.approvals.get(self.prefix + node_id)
        if decision is not None:
            context.extra[APPROVAL_DECISION] = decision
        try:
            config = prepare_config(ApprovalNode, node.get("data") or {}, self.scope.secrets)
            output = ApprovalNode().run(inputs, config, context)
        except AwaitingApproval as awaiting:
            self.state.paused[node_id] = awaiting.waiting
            self._emit(node, "paused", started_at=None, tries=None)
            return
        except Exception as exc:
            self._record(node_id, self._failed(node, None, self._error(exc, node), 1))
            return
        self._record(node_id, self._completed(node, None, output, 1))

    def _skip(self, node: Mapping[str, Any]) -> None:
        self.state.finished.add(str(node["id"]))
        self._emit(node, "skipped", started_at=None, tries=None)

    def _record(self, node_id: str, outcome: Outcome) -> None:
        state = self.state
        state.finished.add(node_id)
        if outcome.status == "failed":
            state.doomed.add(node_id)
            state.first_error = state.first_error or outcome.error
            return
        state.outputs[node_id] = outcome.output
        if outcome.reference is not None:
            state.references[node_id] = outcome.reference
        if outcome.ports is not None:
            state.ports[node_id] = outcome.ports
        if outcome.items is not None:
            state.fan_outs[node_id] = outcome.items

    def _execute(self, node: Mapping[str, Any], inputs: dict[str, Any]) -> Outcome:
        started_at = now_iso()
        self._emit(node, "running", started_at=started_at, tries=1)
        data = node.get("data") or {}
        try:
            node_type = executable_type(node, self.scope.custom_nodes)
            config = prepare_config(node_type, data, self.scope.secrets)
            context = self.context(str(node["id"]))
            policy = TryPolicy.of(data)  # what the author wrote, not a type's default
            run = self.scope.runner.bind(node_type(), policy.timeout_seconds)

            def once() -> Any:
                output = run(inputs, config, context)
                check_output(output)
                return output

            output, tries = call_with_tries(
                once,
                policy,
                describe=lambda exc: self._error(exc, node),
                on_retry=lambda tries, error, delay: self._retrying(node, started_at, tries, error, delay),
            )
        except NodeFailed as failed:
            return self._failed(node, started_at, failed.error, failed.tries)
        except Exception as exc:
            return self._failed(node, started_at, self._error(exc, node), 1)
        return self._completed(node, started_at, output, tries)

    def _execute_mapped(self, node: Mapping[str, Any], inputs: dict[str, Any], fan_out: list[str]) -> Outcome:
        started_at = now_iso()
        self._emit(node, "running", started_at=started_at, tries=1)
        try:
            if len(fan_out) > 1:
                raise NodeError(
                    "invalid_flow", f"A node may follow one for_each only, not {', '.join(fan_out)}."
                )
            source = fan_out[0]
            node_type = executable_type(node, self.scope.custom_nodes)
            data = node.get("data") or {}
            config = prepare_config(node_type, data, self.scope.secrets)
            policy = TryPolicy.of(data)
            call = MappedCall(
                self.scope.runner.bind(node_type(), policy.timeout_seconds),
                config,
                policy,
                self.context(str(node["id"])),
                inputs,
                source,
                describe=lambda exc: self._error(exc, node),
            )
            output, tries = run_mapped(call, self.state.fan_outs[source], **self._fan_out_options(source))
        except NodeFailed as failed:
            return self._failed(node, started_at, failed.error, failed.tries)
        except Exception as exc:
            return self._failed(node, started_at, self._error(exc, node), 1)
        return self._completed(node, started_at, output, tries)

    def _fan_out_options(self, source: str) -> dict[str, Any]:
        data = self.graph.nodes[source].get("data") or {}
        return {
            "max_concurrency": int(data.get("max_concurrency") or 4),
            "fail_fast": data.get("fail_fast", True) is not False,
        }

    def _completed(self, node: Mapping[str, Any], started_at: str | None, output: Any, tries: int) -> Outcome:
        outcome = Outcome("completed", output=output, tries=tries)
        shown = output
        if isinstance(output, Branch):
            outcome.output, outcome.ports = output.output, {output.handle: output.output}
            shown = output.output
        elif isinstance(output, Ports):
            outcome.output = outcome.ports = shown = dict(output.values)
        elif isinstance(output, FanOut):
            outcome.output, outcome.items = output.items, output.items
            shown = {"items": len(output.items)}
        else:
            outcome.reference = self._persist(node, shown)
        self._emit(node, "completed", started_at=started_at, output=outcome.reference or shown, tries=tries)
        return outcome

    def _persist(self, node: Mapping[str, Any], output: Any) -> dict[str, Any] | None:
        """A large output written to the run's object store: its reference; None when it stays
        inline. A store that refuses the write leaves it inline (the report may then be too large
        to record, as it would have been without a store)."""
        scope, node_id = self.scope, self.prefix + str(node["id"])
        if scope.store is None or not scope.run_id or not scope.org_id:
            return None
        folder = run_objects_prefix(scope.org_id, scope.run_id)
        try:
            return persist(scope.store, lambda fmt: output_key(folder, scope.attempt, node_id, fmt), output)
        except Exception as exc:
            scope.events.log(
                f"[WARNING] Task {node_id}: its output could not be written to the object store "
                f"({scope.events.redact(str(exc))}); reported inline"
            )
            return None

    def _failed(
        self, node: Mapping[str, Any], started_at: str | None, error: dict[str, Any], tries: int
    ) -> Outcome:
        error = {**error, "node_id": self.prefix + str(node["id"])}
        self._emit(node, "failed", started_at=started_at, error=error, tries=tries)
        return Outcome("failed", error=error, tries=tries)

    def _retrying(
        self, node: Mapping[str, Any], started_at: str, tries: int, error: dict[str, Any], delay: float
    ) -> None:
        self._emit(node, "retrying", started_at=started_at, error=error, tries=tries, retry_in_seconds=delay)

    def _error(self, exc: BaseException, node: Mapping[str, Any]) -> dict[str, Any]:
        return error_of(exc, self.prefix + str(node["id"]), str(node.get("type")), self.scope.events.redact)

    def context(self, node_id: str) -> NodeContext:
        scope = self.scope
        return NodeContext(
            run_id=scope.run_id,
            node_id=self.prefix + node_id,
            params=self.parameters,
            logger=logging.getLogger(f"dagy.run.{self.prefix}{node_id}"),
            env=scope.env,
            flow_name=scope.flow_name,
            org_id=scope.org_id,
            attempt=scope.attempt,
            settings=scope.settings,
            store=scope.store,
            run_subflow=lambda name, version, parameters: self.run_subflow(
                node_id, name, version, parameters
            ),
        )

    def run_subflow(
        self, node_id: str, flow_name: str, flow_version: str | None, parameters: dict[str, Any]
    ) -> Any:
        """Run another flow's spec inline with this engine; its node runs are `<node id>/<child id>`."""
        key = f"{flow_name}@{flow_version}" if flow_version else flow_name
        child = self.scope.subflows.get(key)
        if child is None:
            raise NodeError("unknown_subflow", f"Flow {key!r} was not sent with this run (does it exist?).")
        if self.depth + 1 > MAX_SUBFLOW_DEPTH:
            raise NodeError("subflow_depth", f"Subflows nest at most {MAX_SUBFLOW_DEPTH} deep.")
        engine = Engine(
            self.scope,
            dict(child.flow_spec or {}),
            parameters=dict(parameters or {}),
            prefix=f"{self.prefix}{node_id}/",
            depth=self.depth + 1,
        )
        result = engine.run()
        if result.status != "completed":
            error = result.error or {}
            raise NodeError("subflow_failed", f"Subflow {key} failed: {error.get('message')}")
        return result.output

    def _emit(
        self,
        node: Mapping[str, Any],
        status: str,
        *,
        started_at: str | None,
        tries: int | None,
        output: Any = None,
        error: dict[str, Any] | None = None,
        resumed: bool = False,
        retry_in_seconds: float | None = None,
    ) -> None:
        event = {
            "event": NODE,
            "node_id": self.prefix + str(node["id"]),
            "node_type": str(node.get("type")),
            "status": status,
            "started_at": started_at,
            "completed_at": now_iso() if status not in ("running", "retrying", "paused") else None,
            "output": output,
            "error": error,
            "tries": tries,
        }
        if resumed:
            event["resumed"] = True
        if retry_in_seconds is not None:
            event["retry_in_seconds"] = retry_in_seconds
        self.scope.events.node(event)


_ABSENT = object()


def _ports_of(node: Mapping[str, Any], output: Any) -> dict[str, Any] | None:
    """A resumed output that was a node's `Ports` (recorded as the mapping): its ports again."""
    node_type = get_node_type(str(node.get("type")))
    if node_type is None or not isinstance(output, dict):
        return None
    outbound = {c.id for c in node_type.definition.connectors if c.direction == "outbound"}
    return output if len(outbound) > 1 and output and set(output) <= outbound else None

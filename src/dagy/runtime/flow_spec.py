"""Running a flow spec: the payload read into a `RunScope`, then the engine (engine.py).

A node that raises fails the run; the nodes downstream of it are skipped, the others still run
(they do not depend on the failure). The run's output is its single sink node's output, or an
object keyed by sink id when the flow ends in several (sinks a branch skipped are left out).
"""

from __future__ import annotations

from dagy.protocol import RunPayload
from dagy.runtime.engine import Engine
from dagy.runtime.events import EventWriter
from dagy.runtime.scope import RunResult, RunScope

__all__ = ["RunResult", "run_flow_spec"]


def run_flow_spec(payload: RunPayload, events: EventWriter, scope: RunScope | None = None) -> RunResult:
    scope = scope or RunScope.from_payload(payload, events)
    claim = payload.claim
    try:
        return Engine(scope, claim.flow_spec or {}, parameters=dict(claim.parameters)).run()
    finally:
        scope.runner.close()

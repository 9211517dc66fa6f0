"""`set_run_state()`: the only code that assigns a run's or a node run's status.

The ordered rules of `rules.RUN_POLICY` decide which state a proposed change ends in; this module
then writes the fields that belong to that state (lease, attempt, timestamps, output, error) so the
bookkeeping of a state lives in one place whoever asked for it: the API, a worker or the reaper.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.models import NodeRun, Run
from dagy.server.errors import InvalidInput
from dagy.server.orchestration.rules import RUN_POLICY, Transition
from dagy.server.orchestration.states import TERMINAL_NODE_RUN_STATES, NodeRunState, RunState
from dagy.server.orchestration.wakeup import mark_runs_queued


def set_run_state(
    session: Session,
    run: Run,
    proposed: RunState,
    *,
    now: datetime,
    output: Any = None,
    error: dict[str, Any] | None = None,
    lease_owner: str | None = None,
    lease_expires_at: datetime | None = None,
) -> RunState:
    """Move `run` towards `proposed`; answer the state it ended in (a retried failure ends `queued`).

    Raises `InvalidInput` for an illegal transition. Never commits.
    """
    initial = RunState(run.status) if run.status is not None else None
    transition = Transition(
        run=run,
        initial=initial,
        proposed=proposed,
        now=now,
        output=output,
        error=error,
        lease_owner=lease_owner,
        lease_expires_at=lease_expires_at,
    )
    for rule in RUN_POLICY:
        if rule.applies(transition):
            rule.apply(transition)
    _ENTER[transition.proposed](transition)
    run.status = transition.proposed
    if transition.proposed == RunState.QUEUED:
        mark_runs_queued(session)
    return transition.proposed


def _enter_queued(t: Transition) -> None:
    run = t.run
    if t.initial is None:
        return
    # Back to the queue: the attempt's lease is released, its error kept for whoever looks.
    run.retry_count += 1 if t.retried else 0
    run.lease_owner = None
    run.lease_expires_at = None
    run.error = t.error


def _enter_running(t: Transition) -> None:
    run = t.run
    if t.lease_owner is None or t.lease_expires_at is None:
        raise InvalidInput("A run starts running only under a worker's lease.")
    run.attempt += 1
    run.lease_owner = t.lease_owner
    run.lease_expires_at = t.lease_expires_at
    run.started_at = run.started_at or t.now
    run.error = None


def _enter_completed(t: Transition) -> None:
    t.run.output = t.output
    t.run.error = None
    _finish(t)


def _enter_failed(t: Transition) -> None:
    t.run.error = t.error or {"type": "unknown", "message": "The run failed."}
    _finish(t)


def _enter_cancelled(t: Transition) -> None:
    t.run.cancel_requested = True
    t.run.cancelled_at = t.now
    _finish(t)


def _finish(t: Transition) -> None:
    """Terminal: the lease stops counting (the reaper ignores it) but its owner is kept, so the
    worker that ran the attempt can still flush its last log lines."""
    t.run.completed_at = t.now
    t.run.lease_expires_at = None


_ENTER: dict[RunState, Callable[[Transition], None]] = {
    RunState.QUEUED: _enter_queued,
    RunState.RUNNING: _enter_running,
    RunState.COMPLETED: _enter_completed,
    RunState.FAILED: _enter_failed,
    RunState.CANCELLED: _enter_cancelled,
}


def set_node_run_state(
    node_run: NodeRun,
    proposed: NodeRunState,
    *,
    started_at: datetime | None,
    completed_at: datetime | None,
    output: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    """Record a node's state as its worker reports it. A finished node stays finished: a repeated
    or reordered report cannot turn a completed node back into a running one."""
    current = NodeRunState(node_run.status) if node_run.status is not None else None
    if current in TERMINAL_NODE_RUN_STATES:
        if current != proposed:
            raise InvalidInput(f"Node {node_run.node_id} is already {current}; it cannot become {proposed}.")
        return
    node_run.status = proposed
    node_run.started_at = node_run.started_at or started_at
    node_run.completed_at = completed_at if proposed in TERMINAL_NODE_RUN_STATES else None
    node_run.output = output
    node_run.error = error

"""`set_run_state()`: the only code that assigns a run's or a node run's status, and
`extend_lease()` and `hold_for_decision()`, the only other changes of a run's lease.

The ordered rules of `rules.RUN_POLICY` decide which state a proposed change ends in; this module
then writes the fields that belong to that state (lease, attempt, timestamps, output, error) so the
bookkeeping of a state lives in one place whoever asked for it: the API, a worker or the reaper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagy.protocol import NodeRunState
from dagy.server.db.models import Run, RunEvent
from dagy.server.errors import InvalidInput
from dagy.server.orchestration.alerts import AlertTrigger, alert_trigger, record_alert_event
from dagy.server.orchestration.rules import RUN_POLICY, Transition
from dagy.server.orchestration.states import TERMINAL_NODE_RUN_STATES, TERMINAL_RUN_STATES, RunState
from dagy.server.orchestration.wakeup import mark_runs_queued

ON_RETRY = "on_retry"


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
    requested: bool = False,
) -> RunState:
    """Move `run` towards `proposed`; answer the state it ended in (a retried failure ends `queued`).
    `requested`: a member asks for it; a failed or cancelled run may then go back to `queued`.

    Raises `InvalidInput` for an illegal transition (`Conflict` for a retry of a run that cannot be
    retried). Never commits.
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
        requested=requested,
    )
    for rule in RUN_POLICY:
        if rule.applies(transition):
            rule.apply(transition)
    _ENTER[transition.proposed](transition)
    run.status = transition.proposed
    if transition.retried:
        session.add(_retry_event(transition))
    if transition.proposed == RunState.QUEUED:
        mark_runs_queued(session, run.executor)
    trigger = alert_trigger(initial, transition.proposed, retried=transition.retried)
    if trigger is not None:  # the outbox, in this transaction (orchestration/alerts.py)
        record_alert_event(session, run, trigger, now=now, error=transition.error)
    return transition.proposed


def extend_lease(run: Run, *, until: datetime) -> None:
    """A running attempt's worker is alive (its heartbeat): its lease now ends at `until`. A run
    that is no longer running keeps its state; the heartbeat's answer tells the worker."""
    if run.status == RunState.RUNNING:
        run.lease_expires_at = until


def hold_for_decision(session: Session, run: Run, *, waiting_for: dict[str, Any], now: datetime) -> None:
    """The running run's attempt paused for a decision (an approval node's): the run stays `running`,
    with `waiting_for` saying what for, but its lease is released: the worker's slot is free, and the
    reaper, which looks only at leases that expire, leaves the run alone. Its next attempt comes
    from the decision (a rule's `running -> queued`). Alert rules on `on_waiting` are told in this
    transaction, as for a transition."""
    if run.status != RunState.RUNNING:
        raise InvalidInput(f"A {run.status} run cannot wait for a decision.", details={"status": run.status})
    run.waiting_for = waiting_for
    run.lease_owner = None
    run.lease_expires_at = None
    record_alert_event(session, run, AlertTrigger.ON_WAITING, now=now, extra={"waiting_for": waiting_for})


def _retry_event(t: Transition) -> RunEvent:
    """A failed attempt went back to the queue: alert rules on `on_retry` see it, with the error
    (`requested`: a member's retry of a run that had ended)."""
    run = t.run
    payload: dict[str, Any] = {"attempt": run.attempt, "retry_count": run.retry_count, "error": t.error}
    if t.requested:
        payload["requested"] = True
    return RunEvent(
        org_id=run.org_id, run_id=run.id, type=ON_RETRY, node_id=None, payload=payload, created_at=t.now
    )


def _enter_queued(t: Transition) -> None:
    run = t.run
    if t.initial is None:
        return
    # Back to the queue: the attempt's lease is released, its error kept for whoever looks.
    run.retry_count += 1 if t.retried else 0
    run.lease_owner = None
    run.lease_expires_at = None
    run.waiting_for = None
    run.error = t.error
    if t.initial in TERMINAL_RUN_STATES:
        _reopen(run)


def _reopen(run: Run) -> None:
    """A member's retry of a run that had ended: it is unfinished again. Its outcome (error, output,
    end and cancel times, the cancel request its worker would see) is cleared, and so is its start,
    which the next claim sets: `duration_seconds` measures the retried execution. The lease owner
    of its last attempt was cleared with the lease: that worker's late writes are refused."""
    run.error = None
    run.output = None
    run.cancel_requested = False
    run.cancelled_at = None
    run.completed_at = None
    run.started_at = None


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
    if t.error is not None:  # why, when it is not a member's request (a concurrency limit's)
        t.run.error = t.error
    t.run.cancel_requested = True
    t.run.cancelled_at = t.now
    _finish(t)


def _finish(t: Transition) -> None:
    """Terminal: the lease stops counting (the reaper ignores it) but its owner is kept, so the
    worker that ran the attempt can still flush its last log lines."""
    t.run.completed_at = t.now
    t.run.lease_expires_at = None
    t.run.waiting_for = None


def _enter_pending(t: Transition) -> None:
    """Recorded, not dispatched: no lease, no attempt, nothing to wake."""


_ENTER: dict[RunState, Callable[[Transition], None]] = {
    RunState.PENDING: _enter_pending,
    RunState.QUEUED: _enter_queued,
    RunState.RUNNING: _enter_running,
    RunState.COMPLETED: _enter_completed,
    RunState.FAILED: _enter_failed,
    RunState.CANCELLED: _enter_cancelled,
}


def unfinished_node_run_end(run_state: RunState) -> NodeRunState:
    """What a node run still running (or waiting to retry) becomes when its attempt ends without it:
    `cancelled` with a cancelled run, else `abandoned` (the worker was lost, or the attempt failed
    around it: a time or memory limit, a crash)."""
    return NodeRunState.CANCELLED if run_state == RunState.CANCELLED else NodeRunState.ABANDONED


def advance_node_run(
    current: Mapping[str, Any] | None,
    proposed: NodeRunState,
    *,
    tries: int | None,
    started_at: datetime | None,
    completed_at: datetime | None,
    output: Any = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The fields a worker's report writes to a node run, given the fields it has (`current`, None for
    a node not recorded yet); None when the report changes nothing.

    A finished node stays finished and its first result stands: a report repeated by a worker that
    retries a flush, or one that arrives out of order, is ignored rather than refused, so the batch
    that carries it is still recorded. `tries` is kept when a report leaves it out.
    """
    if current is not None and current["status"] in TERMINAL_NODE_RUN_STATES:
        return None
    finished = proposed in TERMINAL_NODE_RUN_STATES
    known_tries = current["tries"] if current is not None else 1
    return {
        "status": str(proposed),
        "tries": tries if tries is not None else known_tries,
        "started_at": (current["started_at"] if current is not None else None) or started_at,
        "completed_at": completed_at if finished else None,
        "output": output,
        "error": error,
    }

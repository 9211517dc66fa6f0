"""Approval nodes on the server (docs/runs.md, "Approvals"; docs/adr/0022-approval-node.md).

- An attempt that paused at an approval node ends `waiting` (`hold_run`, from the worker's
  completion): the run stays `running` with `waiting_for`, its lease is released (the worker's slot
  is free, the reaper leaves it alone), and a `run_approval` row records the wait and its timeout.
- A member decides (`decide_run`, `POST /runs/{id}/approve` or `/reject`): an approval sends the
  run back to the queue through orchestration; its next attempt resumes after the nodes earlier
  attempts completed, and the claim carries the decision (`approved_decisions`), which the
  approval node completes with. A rejection fails the node and the run, without a worker.
- Nobody decides in time: the timeout pass (`expire_timed_out`, in the services) applies the
  node's `on_timeout`, the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from dagy.protocol import ApprovalDecision, Waiting
from dagy.protocol.models import Timestamp
from dagy.server.db.base import new_id
from dagy.server.db.models import Run, RunApproval, RunLog
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.runs import approval_repository as approvals
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.approval_repository import Decided
from dagy.server.domains.runs.schemas import RunDecided, RunDecision
from dagy.server.errors import Conflict, NotFound, PermissionDenied
from dagy.server.identity import SYSTEM_ACTOR, Actor
from dagy.server.orchestration import (
    APPROVAL_REJECTED,
    APPROVAL_TIMED_OUT,
    UNFINISHED_NODE_RUN_STATES,
    NodeRunState,
    RunState,
    advance_node_run,
    hold_for_decision,
    set_run_state,
    unfinished_node_run_end,
)

APPROVED, REJECTED = "approved", "rejected"
APPROVAL_NODE_TYPE = "approval"
_TIMESTAMP: TypeAdapter[Any] = TypeAdapter(Timestamp)


def end_unfinished_node_runs(session: Session, run: Run, attempt: int, *, now: datetime) -> None:
    """The nodes `attempt` left running end `cancelled` or `abandoned`, as orchestration says for the
    run's state (called once the run's state changed)."""
    repo.end_unfinished_node_runs(
        session,
        run.id,
        attempt,
        status=str(unfinished_node_run_end(RunState(run.status))),
        unfinished=UNFINISHED_NODE_RUN_STATES,
        now=now,
    )


def hold_run(session: Session, run: Run, waiting: Waiting, *, now: datetime) -> None:
    """The run's current attempt paused at `waiting.node_id`: the run waits for a decision until
    `now + timeout_seconds`, when the node's `on_timeout` decides."""
    timeout_at = now + timedelta(seconds=waiting.timeout_seconds)
    waiting_for = {
        "type": waiting.type,
        "node_id": waiting.node_id,
        "message": waiting.message,
        "approvers": sorted({email.strip().lower() for email in waiting.approvers}),
        "on_timeout": waiting.on_timeout,
        "since": _iso(now),
        "timeout_at": _iso(timeout_at),
    }
    attempt = run.attempt
    hold_for_decision(session, run, waiting_for=waiting_for, now=now)
    wait = RunApproval(
        run_id=run.id, node_id=waiting.node_id, attempt=attempt, requested_at=now, timeout_at=timeout_at
    )
    approvals.add(session, wait)
    whom = ", ".join(waiting_for["approvers"]) or "any member who may trigger runs"
    message = (
        f"[INFO] Waiting for an approval of node {waiting.node_id} by {whom}, until "
        f"{waiting_for['timeout_at']} (then: {waiting.on_timeout})"
    )
    repo.add_logs(session, [_note(run, attempt, now, message)])


def decide_run(
    session: Session, *, actor: Actor, run_id: str, approved: bool, data: RunDecision
) -> RunDecided:
    """A member's decision on the approval the run waits for: 404 outside the caller's org, 409 when
    the run waits for nothing, 403 when the approval names its approvers and the caller is not one."""
    run = repo.get_run_by_id_or_slug(session, actor.org_id, run_id, lock=True)
    if run is None:
        raise NotFound("Run not found.")
    waiting = _waiting_for(run)
    approvers = waiting.get("approvers") or []
    if approvers and (actor.email or "").strip().lower() not in approvers:
        raise PermissionDenied(
            f"Only the approvers of node {waiting.get('node_id')} may decide it.",
            details={"approvers": ", ".join(approvers)},
        )
    pending = approvals.get_pending(session, run.id, run.attempt)
    if pending is None:
        raise Conflict("The run is not waiting for an approval.", details={"status": run.status})
    decision = ApprovalDecision(
        approved=approved,
        decided_by=actor.email or actor.actor_type,
        comment=data.comment,
        decided_at=repo.database_now(session),
    )
    before = run.status
    if not _apply(session, run, pending, decision, timed_out=False):
        raise Conflict("The approval was decided meanwhile.", details={"status": run.status})
    _audit(session, actor, run, pending, decision, before=before)
    return RunDecided(run_id=run.id, status=run.status, node_id=pending.node_id, **decision.model_dump())


def expire_timed_out(session: Session, *, limit: int) -> tuple[int, int]:
    """Apply `on_timeout` to up to `limit` runs whose wait ran out (the services' timeout pass);
    answer how many were taken and how many of those it decided (another decider may have been
    first). Runs another services process holds are passed by."""
    now = repo.database_now(session)
    taken = approvals.lock_timed_out(session, now=now, limit=limit)
    decided = 0
    for run, pending in taken:
        waited = round((pending.timeout_at - pending.requested_at).total_seconds())
        approve = (run.waiting_for or {}).get("on_timeout") == "approve"
        comment = f"No decision within {waited} s; the timeout {'approved' if approve else 'rejected'} it."
        decision = ApprovalDecision(approved=approve, decided_by=None, comment=comment, decided_at=now)
        before = run.status
        if _apply(session, run, pending, decision, timed_out=True):
            _audit(session, SYSTEM_ACTOR, run, pending, decision, before=before)
            decided += 1
    return len(taken), decided


def approved_decisions(session: Session, run_id: str) -> dict[str, ApprovalDecision]:
    """node_id -> the approval of each approval node whose latest decision approved it: what the
    next attempt's nodes complete with. A rejected node is left out, so a member's retry of a run
    ended by a rejection asks again."""
    return {
        node_id: ApprovalDecision(
            approved=True, decided_by=row.actor, comment=row.comment, decided_at=row.decided_at
        )
        for node_id, row in approvals.latest_decisions(session, run_id).items()
        if row.decision == APPROVED and row.decided_at is not None
    }


def forget_wait(session: Session, run: Run) -> None:
    """A cancelled run waits no more: its undecided wait is removed (the timeout has nothing to do)."""
    approvals.delete_pending(session, run.id)


def _waiting_for(run: Run) -> dict[str, Any]:
    if run.status != RunState.RUNNING or not run.waiting_for:
        raise Conflict("The run is not waiting for an approval.", details={"status": run.status})
    return dict(run.waiting_for)


def _apply(
    session: Session, run: Run, pending: RunApproval, decision: ApprovalDecision, *, timed_out: bool
) -> bool:
    """Record `decision` on the run's wait, end the paused node run with it and move the run:
    approved, back to the queue (its next attempt completes the node with the decision); rejected,
    failed. False when the wait was decided already (nothing changed)."""
    who = decision.decided_by or "its timeout"
    verdict = APPROVED if decision.approved else REJECTED
    decided = Decided(verdict, decision.decided_by, decision.comment, decision.decided_at)
    if not approvals.decide(session, pending.id, decided):
        return False
    now, attempt, node_id = decision.decided_at, pending.attempt, pending.node_id
    said = f": {decision.comment}" if decision.comment else ""
    if decision.approved:
        output = decision.model_dump(mode="json")
        _end_node_run(session, run, pending, NodeRunState.COMPLETED, now, output=output)
        set_run_state(session, run, RunState.QUEUED, now=now)
        line = f"[INFO] Node {node_id} approved by {who}{said}; attempt {run.attempt + 1} is queued"
    else:
        kind = APPROVAL_TIMED_OUT if timed_out else APPROVAL_REJECTED
        message = f"Approval node {node_id} was rejected by {who}{said or ' (no comment)'}"
        error = {
            "type": kind,
            "message": message,
            "node_id": node_id,
            "node_type": APPROVAL_NODE_TYPE,
            "decided_by": decision.decided_by,
            "comment": decision.comment,
        }
        _end_node_run(session, run, pending, NodeRunState.FAILED, now, error=error)
        set_run_state(session, run, RunState.FAILED, now=now, error=error)
        line = f"[ERROR] {message}"
    # Other approval nodes the attempt paused at are asked again by the next attempt, if any.
    end_unfinished_node_runs(session, run, attempt, now=now)
    repo.add_logs(session, [_note(run, attempt, now, line)])
    return True


def _end_node_run(
    session: Session,
    run: Run,
    pending: RunApproval,
    status: NodeRunState,
    now: datetime,
    *,
    output: Any = None,
    error: dict[str, Any] | None = None,
) -> None:
    """The paused node run of the waiting attempt ends with the decision (recorded now if its
    report never arrived). It keeps no start time: a person's wait is not compute."""
    known = repo.node_run_states(session, run.id, pending.attempt, {pending.node_id})
    current = known.get(pending.node_id)
    fields = advance_node_run(
        current, status, tries=None, started_at=None, completed_at=now, output=output, error=error
    )
    if fields is None:
        return
    if current is not None:
        repo.update_node_runs(session, [{"id": current["id"], **fields, "updated_at": now}])
        return
    identity = {"run_id": run.id, "attempt": pending.attempt, "node_id": pending.node_id, "worker_id": None}
    row = {"id": new_id("node"), **identity, "node_type": APPROVAL_NODE_TYPE, **fields, "updated_at": now}
    repo.insert_node_runs(session, [row])


def _audit(
    session: Session, actor: Actor, run: Run, pending: RunApproval, decision: ApprovalDecision, *, before: str
) -> None:
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="run",
        resource_id=run.id,
        resource_name=run.run_slug,
        changes={
            "status": [before, run.status],
            "approval": {
                "node_id": pending.node_id,
                "decision": APPROVED if decision.approved else REJECTED,
                "comment": decision.comment,
                "timed_out": decision.decided_by is None,
            },
        },
        org_id=run.org_id,
    )


def _note(run: Run, attempt: int, now: datetime, message: str) -> RunLog:
    return RunLog(run_id=run.id, attempt=attempt, timestamp=now, ingestion_time=now, message=message)


def _iso(moment: datetime) -> str:
    """A time as the API renders its `Timestamp`s, so `waiting_for` reads the same everywhere."""
    return str(_TIMESTAMP.dump_python(moment, mode="json"))

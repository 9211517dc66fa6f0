"""The `run_approval` table's queries: a run's wait for a decision, the decision, the timeout pass's
lock-safe work list, and the decisions a claim hands to the next attempt.

A wait's row is decided once: the update that decides it is conditional on the row being
undecided, so two deciders (a member and the timeout pass, two services processes) cannot both
win. Every decider also holds the run's row lock first (`FOR UPDATE`; `SKIP LOCKED` for the timeout
pass on PostgreSQL), in that order, so they take their locks in one order and never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dagy.server.db.models import Run, RunApproval
from dagy.server.orchestration import RunState


@dataclass(frozen=True)
class Decided:
    """A decision to record on a wait's row."""

    decision: str  # approved | rejected
    actor: str | None
    comment: str | None
    decided_at: datetime


def add(session: Session, approval: RunApproval) -> None:
    session.add(approval)


def get_pending(session: Session, run_id: str, attempt: int) -> RunApproval | None:
    """The undecided wait of the run's attempt `attempt`, if any."""
    stmt = (
        select(RunApproval)
        .where(RunApproval.run_id == run_id, RunApproval.attempt == attempt, RunApproval.decided_at.is_(None))
        .order_by(RunApproval.requested_at.desc(), RunApproval.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def decide(session: Session, approval_id: str, decided: Decided) -> bool:
    """Record the decision on a wait that has none yet; False when another decider was first."""
    stmt = (
        update(RunApproval)
        .where(RunApproval.id == approval_id, RunApproval.decided_at.is_(None))
        .values(
            decision=decided.decision,
            actor=decided.actor,
            comment=decided.comment,
            decided_at=decided.decided_at,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def delete_pending(session: Session, run_id: str) -> None:
    """A cancelled run waits no more: its undecided waits go (the decided ones stay, as history)."""
    stmt = delete(RunApproval).where(RunApproval.run_id == run_id, RunApproval.decided_at.is_(None))
    session.execute(stmt.execution_options(synchronize_session=False))


def lock_timed_out(session: Session, *, now: datetime, limit: int) -> list[tuple[Run, RunApproval]]:
    """Up to `limit` waiting runs whose current wait's timeout passed, oldest timeout first, their
    run rows locked (`FOR UPDATE OF run SKIP LOCKED`: another services process passes them by)."""
    stmt = (
        select(Run, RunApproval)
        .join(RunApproval, RunApproval.run_id == Run.id)
        .where(
            RunApproval.decided_at.is_(None),
            RunApproval.timeout_at <= now,
            RunApproval.attempt == Run.attempt,
            Run.status == RunState.RUNNING,
        )
        .order_by(RunApproval.timeout_at, RunApproval.id)
        .limit(limit)
        .with_for_update(of=Run, skip_locked=True)
    )
    return [(run, approval) for run, approval in session.execute(stmt)]


def latest_decisions(session: Session, run_id: str) -> dict[str, RunApproval]:
    """node_id -> the latest decided wait of each of the run's approval nodes."""
    stmt = (
        select(RunApproval)
        .where(RunApproval.run_id == run_id, RunApproval.decided_at.is_not(None))
        .order_by(RunApproval.decided_at, RunApproval.id)
    )
    return {approval.node_id: approval for approval in session.execute(stmt).scalars()}

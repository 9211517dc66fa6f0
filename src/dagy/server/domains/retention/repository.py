"""Retention queries: the org's settings row, and the purge's batches.

Every batch selects at most `limit` primary keys, then deletes (or clears) exactly those rows: never
one statement over a whole table. On PostgreSQL the selection takes its rows `FOR UPDATE SKIP
LOCKED`, so copies of the services side by side take different rows instead of waiting on each
other; a row another copy deleted first is simply not deleted twice. SQLite has one writer anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, null, select, update
from sqlalchemy.orm import Session

from dagy.server.db.models import AuditLog, NodeRun, Org, OrgRetention, Run, RunLog, SensorEvent, UsageRollup
from dagy.server.orchestration import TERMINAL_RUN_STATES

TERMINAL = sorted(str(state) for state in TERMINAL_RUN_STATES)
RunKey = tuple[datetime, str]  # (created_at, id): the walk's position


def get(session: Session, org_id: str) -> OrgRetention | None:
    return session.get(OrgRetention, org_id)


def put(session: Session, org_id: str, values: dict[str, int | None]) -> OrgRetention:
    row = session.get(OrgRetention, org_id)
    if row is None:
        row = OrgRetention(org_id=org_id, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return row


def org_settings(session: Session) -> list[tuple[str, OrgRetention | None]]:
    """Every org with its settings row (None: it set nothing)."""
    statement = select(Org.id, OrgRetention).outerjoin(OrgRetention, OrgRetention.org_id == Org.id)
    return [(org_id, row) for org_id, row in session.execute(statement.order_by(Org.id))]


def terminal_runs(
    session: Session, org_id: str, cutoff: datetime, *, after: RunKey | None, limit: int, lock: bool
) -> list[RunKey]:
    """The org's terminal runs created and last changed before `cutoff`, in (created_at, id) order
    after `after`; `lock`: taken FOR UPDATE SKIP LOCKED (PostgreSQL)."""
    statement = select(Run.created_at, Run.id).where(
        Run.org_id == org_id,
        Run.created_at < cutoff,
        Run.updated_at < cutoff,
        Run.status.in_(TERMINAL),
    )
    if after is not None:
        statement = statement.where(
            (Run.created_at > after[0]) | ((Run.created_at == after[0]) & (Run.id > after[1]))
        )
    statement = statement.order_by(Run.created_at, Run.id).limit(limit)
    if lock:
        statement = statement.with_for_update(skip_locked=True)
    return [(created_at, run_id) for created_at, run_id in session.execute(statement)]


def delete_logs_of(session: Session, run_ids: Sequence[str], limit: int) -> int:
    """Up to `limit` log lines of `run_ids`; answers how many went."""
    chosen = select(RunLog.id).where(RunLog.run_id.in_(run_ids)).order_by(RunLog.id).limit(limit)
    ids = list(session.execute(chosen.with_for_update(skip_locked=True)).scalars())
    return _delete(session, RunLog, RunLog.id, ids)


def clear_outputs_of(session: Session, run_ids: Sequence[str], limit: int) -> int:
    """Null the output of up to `limit` node runs of `run_ids` that still hold one."""
    chosen = select(NodeRun.id).where(NodeRun.run_id.in_(run_ids), NodeRun.output.is_not(None)).limit(limit)
    ids = list(session.execute(chosen.order_by(NodeRun.id).with_for_update(skip_locked=True)).scalars())
    if ids:
        session.execute(
            update(NodeRun).where(NodeRun.id.in_(ids)).values(output=null()),
            execution_options={"synchronize_session": False},
        )
    return len(ids)


def keep_sensor_memory(session: Session, run_ids: Sequence[str]) -> None:
    """Unlink from `run_ids` the sensor events that carry a dedup key, so that deleting the runs does
    not cascade to them: they are what keeps a sensor from firing twice for one object."""
    session.execute(
        update(SensorEvent)
        .where(SensorEvent.run_id.in_(run_ids), SensorEvent.dedup_key.is_not(None))
        .values(run_id=None),
        execution_options={"synchronize_session": False},
    )


def delete_runs(session: Session, run_ids: Sequence[str]) -> int:
    """The runs; the database cascades to their node runs, events, schedule fires and the rest."""
    return _delete(session, Run, Run.id, list(run_ids))


def delete_audit(session: Session, org_id: str, cutoff: datetime, limit: int) -> int:
    chosen = select(AuditLog.id).where(AuditLog.org_id == org_id, AuditLog.timestamp < cutoff).limit(limit)
    ids = list(session.execute(chosen.with_for_update(skip_locked=True)).scalars())
    return _delete(session, AuditLog, AuditLog.id, ids)


def delete_sensor_events(session: Session, org_id: str, cutoff: datetime, limit: int) -> int:
    """Events older than `cutoff` without a dedup key (those with one are the sensor's memory)."""
    chosen = (
        select(SensorEvent.id)
        .where(
            SensorEvent.org_id == org_id, SensorEvent.occurred_at < cutoff, SensorEvent.dedup_key.is_(None)
        )
        .limit(limit)
    )
    ids = list(session.execute(chosen.with_for_update(skip_locked=True)).scalars())
    return _delete(session, SensorEvent, SensorEvent.id, ids)


def unfinished_usage_days(session: Session, first: date, last: date) -> list[date]:
    """The days of [first, last] the usage roll-up has not computed after they ended."""
    statement = select(UsageRollup.day, UsageRollup.computed_at).where(
        UsageRollup.day >= first, UsageRollup.day <= last
    )
    finished = {day for day, computed_at in session.execute(statement) if computed_at.date() > day}
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [day for day in days if day not in finished]


def oldest_terminal_run(session: Session, org_id: str, cutoff: datetime) -> datetime | None:
    found = terminal_runs(session, org_id, cutoff, after=None, limit=1, lock=False)
    return found[0][0] if found else None


def _delete(session: Session, model: Any, key: Any, ids: list[Any]) -> int:
    if not ids:
        return 0
    session.execute(delete(model).where(key.in_(ids)), execution_options={"synchronize_session": False})
    return len(ids)

"""Queries for metering and quotas, scoped by org id (the roll-up's day recomputation excepted)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Date, String, and_, bindparam, case, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.db.models import NodeRun, Org, Run, UsageCounter, UsageDaily, UsageMonth, UsageRollup

ACTIVE_STATUSES = ("queued", "running")


def _insert(session: Session | Connection, table: Any) -> Any:
    name = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    return (postgresql_insert if name == "postgresql" else sqlite_insert)(table)


# --- the monthly run counter (quotas) ---------------------------------------------------------


_MONTH = UsageMonth.__table__
_ORG_PLAN = select(Org.__table__.c.plan, Org.__table__.c.quota_overrides).where(
    Org.__table__.c.id == bindparam("org_id")
)
# Built once (the busiest write, `POST /runs`, runs them): Core statements on the session's connection.
_ADD_TO_MONTH = (
    update(_MONTH)
    .where(
        _MONTH.c.org_id == bindparam("b_org_id"),
        _MONTH.c.month == bindparam("b_month"),
        _MONTH.c.runs + bindparam("count") <= bindparam("limit"),
    )
    .values(runs=_MONTH.c.runs + bindparam("count"))
)
_RUNS_OF_MONTH = (
    select(
        bindparam("s_org_id", type_=String),
        bindparam("s_month", type_=Date),
        func.count(),
    )
    .select_from(Run.__table__)
    .where(
        Run.__table__.c.org_id == bindparam("s_org_id", type_=String),
        Run.__table__.c.created_at >= bindparam("s_start"),
        Run.__table__.c.created_at < bindparam("s_end"),
        Run.__table__.c.status != "pending",  # recorded, not executed: not counted
    )
)
_SEED_MONTH = {
    name: dialect_insert(_MONTH)
    .from_select(["org_id", "month", "runs"], _RUNS_OF_MONTH)
    .on_conflict_do_nothing()
    for name, dialect_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_ACTIVE_RUNS = select(func.count()).where(
    Run.__table__.c.org_id == bindparam("org_id"), Run.__table__.c.status.in_(ACTIVE_STATUSES)
)
_UNLIMITED = 2**62


def org_plan(session: Session, org_id: str) -> tuple[str, dict[str, Any]] | None:
    row = session.connection().execute(_ORG_PLAN, {"org_id": org_id}).first()
    return None if row is None else (row.plan, dict(row.quota_overrides or {}))


def add_to_month(session: Session, org_id: str, month: date, count: int, limit: int | None) -> bool:
    """`runs += count` when the result stays within `limit` (None: always); whether it did. The
    conditional UPDATE is the check: concurrent transactions wait on the row and re-evaluate it."""
    connection = session.connection()
    params = {
        "b_org_id": org_id,
        "b_month": month,
        "count": count,
        "limit": _UNLIMITED if limit is None else limit,
    }
    if connection.execute(_ADD_TO_MONTH, params).rowcount == 1:
        return True
    # No row updated: the month's row is missing (another transaction may be creating it: the
    # INSERT waits for it), or the limit refused. Either way the UPDATE, run again, decides. A new
    # row starts from the runs the org already created this month: an org counts only while it
    # has a limit, and may have had none until now.
    connection.execute(_SEED_MONTH[connection.dialect.name], _month_bounds(org_id, month))
    return bool(connection.execute(_ADD_TO_MONTH, params).rowcount == 1)


def forget_month(session: Session, org_id: str, month: date) -> None:
    """Drop the org's counter of `month`: the next run it counts starts again from its runs."""
    session.execute(delete(UsageMonth).where(UsageMonth.org_id == org_id, UsageMonth.month == month))


def _month_bounds(org_id: str, month: date) -> dict[str, Any]:
    following = date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
    return {
        "s_org_id": org_id,
        "s_month": month,
        "s_start": datetime(month.year, month.month, 1, tzinfo=UTC),
        "s_end": datetime(following.year, following.month, 1, tzinfo=UTC),
    }


def month_runs(session: Session, org_id: str, month: date, *, lock: bool = False) -> int | None:
    """The org's counter of `month`; None when it has none."""
    statement = select(UsageMonth.runs).where(UsageMonth.org_id == org_id, UsageMonth.month == month)
    if lock:
        statement = statement.with_for_update()
    runs = session.execute(statement).scalar()
    return None if runs is None else int(runs)


def active_runs(session: Session | Connection, org_id: str) -> int:
    connection = session.connection() if isinstance(session, Session) else session
    return int(connection.execute(_ACTIVE_RUNS, {"org_id": org_id}).scalar_one())


# --- API calls and errors ---------------------------------------------------------------------


def add_counts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add `api_calls` and `errors` to each `(org_id, day)` row, creating it when missing."""
    if not rows:
        return
    statement = _insert(session, UsageCounter)
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "day"],
        set_={
            "api_calls": UsageCounter.api_calls + statement.excluded.api_calls,
            "errors": UsageCounter.errors + statement.excluded.errors,
        },
    )
    existing = set(session.execute(select(Org.id).where(Org.id.in_({r["org_id"] for r in rows}))).scalars())
    kept = sorted((r for r in rows if r["org_id"] in existing), key=lambda r: (r["org_id"], r["day"]))
    if kept:
        session.execute(statement, kept)


# --- daily roll-ups ---------------------------------------------------------------------------


def _day_runs(start: datetime, end: datetime, org_id: str | None) -> Any:
    where = [Run.created_at >= start, Run.created_at < end]
    if org_id is not None:
        where.append(Run.org_id == org_id)
    return (
        select(
            Run.org_id,
            Run.flow_name,
            Run.executor,
            Run.execution_mode,
            func.count().label("runs"),
            func.sum(case((Run.status == "failed", 1), else_=0)).label("failed_runs"),
            literal(0).label("node_runs"),
            literal(0.0).label("compute_seconds"),
        )
        .where(*where)
        .group_by(Run.org_id, Run.flow_name, Run.executor, Run.execution_mode)
    )


def _seconds(session: Session | Connection) -> Any:
    """A node run's wall time in seconds (0 until it has both ends)."""
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    span: Any
    if dialect == "postgresql":
        span = func.extract("epoch", NodeRun.completed_at - NodeRun.started_at)
    else:
        span = (func.julianday(NodeRun.completed_at) - func.julianday(NodeRun.started_at)) * 86400.0
    return func.coalesce(func.sum(span), 0.0)


def _day_node_runs(session: Session | Connection, start: datetime, end: datetime, org_id: str | None) -> Any:
    where = [Run.created_at >= start, Run.created_at < end]
    if org_id is not None:
        where.append(Run.org_id == org_id)
    return (
        select(
            Run.org_id,
            Run.flow_name,
            Run.executor,
            Run.execution_mode,
            literal(0).label("runs"),
            literal(0).label("failed_runs"),
            func.count().label("node_runs"),
            _seconds(session).label("compute_seconds"),
        )
        .select_from(NodeRun)
        .join(Run, and_(Run.id == NodeRun.run_id))
        .where(*where)
        .group_by(Run.org_id, Run.flow_name, Run.executor, Run.execution_mode)
    )


@dataclass(frozen=True)
class DayRow:
    """One (flow, executor, mode) group of one org's day."""

    day: date
    flow_name: str
    executor: str
    execution_mode: str
    runs: int
    failed_runs: int
    node_runs: int
    compute_seconds: float


def live_day(
    session: Session | Connection, org_id: str | None, day: date, start: datetime, end: datetime
) -> list[tuple[str, DayRow]]:
    """(org id, group) of the runs created in [start, end), computed from the raw rows."""
    groups: dict[tuple[str, str, str, str], list[float]] = {}
    for statement in (_day_runs(start, end, org_id), _day_node_runs(session, start, end, org_id)):
        for row in session.execute(statement):
            key = (row.org_id, row.flow_name, row.executor, row.execution_mode)
            totals = groups.setdefault(key, [0, 0, 0, 0.0])
            totals[0] += int(row.runs)
            totals[1] += int(row.failed_runs or 0)
            totals[2] += int(row.node_runs)
            totals[3] += float(row.compute_seconds or 0.0)
    return [
        (org, DayRow(day, flow, executor, mode, int(t[0]), int(t[1]), int(t[2]), round(t[3], 3)))
        for (org, flow, executor, mode), t in groups.items()
    ]


def mark_day_computed(session: Session, day: date, computed_at: datetime) -> None:
    """The day's roll-up is recomputed in this transaction, written first: the mark's row lock
    makes a second roll-up of the day (another `dagy services`) wait until this one commits, then
    read the runs afresh and replace this one's rows, instead of failing on them."""
    marked = _insert(session, UsageRollup).values(day=day, computed_at=computed_at)
    session.execute(marked.on_conflict_do_update(index_elements=["day"], set_={"computed_at": computed_at}))


def replace_day(session: Session, day: date, rows: Iterable[tuple[str, DayRow]]) -> int:
    """The day's roll-up rows, all orgs, replaced by `rows` (after `mark_day_computed`)."""
    session.execute(delete(UsageDaily).where(UsageDaily.day == day))
    values = [
        {
            "org_id": org_id,
            "day": day,
            "flow_name": row.flow_name,
            "executor": row.executor,
            "execution_mode": row.execution_mode,
            "runs": row.runs,
            "failed_runs": row.failed_runs,
            "node_runs": row.node_runs,
            "compute_seconds": row.compute_seconds,
        }
        for org_id, row in rows
    ]
    if values:
        session.execute(UsageDaily.__table__.insert(), values)
    return len(values)


def rolled_up_days(connection: Session | Connection, start: date, end: date) -> set[date]:
    statement = select(UsageRollup.day).where(UsageRollup.day >= start, UsageRollup.day <= end)
    return set(connection.execute(statement).scalars())


def rolled_up_rows(connection: Session | Connection, org_id: str, days: Sequence[date]) -> list[DayRow]:
    if not days:
        return []
    statement = select(UsageDaily).where(
        UsageDaily.org_id == org_id, UsageDaily.day >= min(days), UsageDaily.day <= max(days)
    )
    wanted = set(days)
    rows = []
    for row in connection.execute(statement.with_only_columns(*UsageDaily.__table__.c)):
        if row.day in wanted:
            rows.append(
                DayRow(
                    row.day,
                    row.flow_name,
                    row.executor,
                    row.execution_mode,
                    row.runs,
                    row.failed_runs,
                    row.node_runs,
                    row.compute_seconds,
                )
            )
    return rows


def counters(
    connection: Session | Connection, org_id: str, start: date, end: date
) -> dict[date, tuple[int, int]]:
    """day -> (api calls, errors)."""
    statement = select(UsageCounter.day, UsageCounter.api_calls, UsageCounter.errors).where(
        UsageCounter.org_id == org_id, UsageCounter.day >= start, UsageCounter.day <= end
    )
    return {row.day: (int(row.api_calls), int(row.errors)) for row in connection.execute(statement)}

"""Queries for concurrency limits and their slots, always scoped by org id (the claim's by the orgs
of the runs it looks at)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.models import ConcurrencyLimit, ConcurrencySlot, Run
from dagy.server.db.reads import read_timestamp
from dagy.server.orchestration import RunState

T = TypeVar("T")

_RUNNING = RunState.RUNNING.value


def get_limit(session: Session, org_id: str, kind: str, name: str) -> ConcurrencyLimit | None:
    stmt = select(ConcurrencyLimit).where(
        ConcurrencyLimit.org_id == org_id, ConcurrencyLimit.kind == kind, ConcurrencyLimit.name == name
    )
    return session.execute(stmt).scalar_one_or_none()


LIST_PAGES = FilteredKeysetQuery(
    select(
        ConcurrencyLimit.id,
        ConcurrencyLimit.kind,
        ConcurrencyLimit.name,
        ConcurrencyLimit.slots,
        ConcurrencyLimit.collision_strategy,
        ConcurrencyLimit.tags,
        ConcurrencyLimit.node_types,
        ConcurrencyLimit.description,
        read_timestamp(ConcurrencyLimit.created_at),
        read_timestamp(ConcurrencyLimit.updated_at),
    ).where(ConcurrencyLimit.org_id == bindparam("org_id")),
    filters={"kind": ConcurrencyLimit.kind == bindparam("kind")},
    order_by=[ConcurrencyLimit.kind, ConcurrencyLimit.name, ConcurrencyLimit.id],
    descending=False,
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    kind: str | None,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    """By kind, then name."""
    return LIST_PAGES.page(
        connection, page, params={"org_id": org_id}, filters={"kind": kind}, to_item=to_item
    )


def holders(connection: Connection | Session, limit_ids: Sequence[str]) -> dict[str, list[str]]:
    """The running runs that hold each limit's slots, oldest slot first."""
    if not limit_ids:
        return {}
    stmt = (
        select(ConcurrencySlot.limit_id, ConcurrencySlot.run_id)
        .join(Run, Run.id == ConcurrencySlot.run_id)
        .where(ConcurrencySlot.limit_id.in_(limit_ids), Run.status == _RUNNING)
        .order_by(ConcurrencySlot.acquired_at, ConcurrencySlot.run_id)
    )
    held: dict[str, list[str]] = defaultdict(list)
    for limit_id, run_id in connection.execute(stmt):
        held[limit_id].append(run_id)
    return held


# --- the claim ----------------------------------------------------------------------------------


def limits_of_orgs(session: Session, org_ids: Iterable[str]) -> list[ConcurrencyLimit]:
    """Every limit of these orgs, unlocked: most orgs have none, and then this is all the claim
    asks of the limits."""
    stmt = select(ConcurrencyLimit).where(ConcurrencyLimit.org_id.in_(sorted(org_ids)))
    return list(session.execute(stmt).scalars())


def locks_rows(session: Session) -> bool:
    """Whether the database locks rows (PostgreSQL); SQLite's claim holds its one write lock."""
    return session.get_bind().dialect.name != "sqlite"


def running_slots(session: Session, limit_ids: Sequence[str]) -> dict[str, int]:
    """The slots running runs hold, unlocked and without sweeping: what a tentative admission
    counts on."""
    stmt = (
        select(ConcurrencySlot.limit_id, func.count())
        .join(Run, Run.id == ConcurrencySlot.run_id)
        .where(ConcurrencySlot.limit_id.in_(limit_ids), Run.status == _RUNNING)
        .group_by(ConcurrencySlot.limit_id)
    )
    counts = dict.fromkeys(limit_ids, 0)
    counts.update({limit_id: int(n) for limit_id, n in session.execute(stmt)})
    return counts


def lock_limits(session: Session, limit_ids: Sequence[str], *, wait: bool) -> set[str]:
    """Lock the limits, in id order; answer the ids locked. `wait=False` skips the limits another
    claim holds (`SKIP LOCKED`) instead of waiting for them. SQLite's claim already holds the
    database's one write lock, so every limit is locked there."""
    stmt = (
        select(ConcurrencyLimit.id)
        .where(ConcurrencyLimit.id.in_(limit_ids))
        .order_by(ConcurrencyLimit.id)
        .with_for_update(skip_locked=not wait)
    )
    return set(session.execute(stmt).scalars())


def count_slots(session: Session, limit_ids: Sequence[str]) -> dict[str, int]:
    """The slots of locked limits that running runs hold. The slots of runs that stopped running
    (ended, cancelled, back in the queue after a lost lease) are deleted first: they hold nothing."""
    if not limit_ids:
        return {}
    running = exists().where(Run.id == ConcurrencySlot.run_id, Run.status == _RUNNING)
    session.execute(delete(ConcurrencySlot).where(ConcurrencySlot.limit_id.in_(limit_ids), ~running))
    stmt = (
        select(ConcurrencySlot.limit_id, func.count())
        .where(ConcurrencySlot.limit_id.in_(limit_ids))
        .group_by(ConcurrencySlot.limit_id)
    )
    counts = {limit_id: 0 for limit_id in limit_ids}
    counts.update({limit_id: int(n) for limit_id, n in session.execute(stmt)})
    return counts


def add_slots(session: Session, pairs: Sequence[tuple[str, str]], *, now: datetime) -> None:
    """Slots (limit id, run id) the claim's runs take."""
    if pairs:
        rows = [{"limit_id": limit_id, "run_id": run_id, "acquired_at": now} for limit_id, run_id in pairs]
        session.execute(insert(ConcurrencySlot), rows)

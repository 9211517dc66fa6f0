"""Queries for concurrency limits and their slots, always scoped by org id (the claim's by the orgs
of the runs it looks at)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Select, bindparam, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.models import ConcurrencyLimit, ConcurrencySlot, Run
from dagy.server.db.reads import read_timestamp
from dagy.server.orchestration import RunState

T = TypeVar("T")

_RUNNING = RunState.RUNNING.value
_INSERT: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql_insert,
    "sqlite": sqlite_insert,
}


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


def _held(limit_id: Any, excluding: Collection[str] = ()) -> Select[int]:
    """The slots of the limit that running runs hold (a slot of a run that stopped running, left for
    the sweep, holds nothing), but those of `excluding`."""
    stmt = (
        select(func.count())
        .select_from(ConcurrencySlot)
        .join(Run, Run.id == ConcurrencySlot.run_id)
        .where(ConcurrencySlot.limit_id == limit_id, Run.status == _RUNNING)
    )
    return stmt.where(ConcurrencySlot.run_id.not_in(excluding)) if excluding else stmt


def limits_of_orgs(
    session: Session, org_ids: Iterable[str], *, with_held: bool
) -> list[tuple[ConcurrencyLimit, int | None]]:
    """Every limit of these orgs, unlocked, and (`with_held`) the slots running runs hold now: most
    orgs have no limit, and then this is all the claim asks of the limits."""
    in_orgs = ConcurrencyLimit.org_id.in_(sorted(org_ids))
    if not with_held:
        return [(limit, None) for limit in session.execute(select(ConcurrencyLimit).where(in_orgs)).scalars()]
    stmt = select(ConcurrencyLimit, _held(ConcurrencyLimit.id).scalar_subquery()).where(in_orgs)
    return [(limit, count) for limit, count in session.execute(stmt)]


def locks_rows(session: Session) -> bool:
    """Whether the database locks rows (PostgreSQL); SQLite's claim holds its one write lock."""
    return session.get_bind().dialect.name != "sqlite"


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


def count_slots(
    session: Session, limit_ids: Sequence[str], *, excluding: Collection[str] = ()
) -> dict[str, int]:
    """The slots of locked limits that running runs hold, but `excluding`'s (the claim's own runs,
    already started: a slot row left from an earlier attempt of theirs must not count)."""
    if not limit_ids:
        return {}
    held = _held(ConcurrencyLimit.id, excluding).scalar_subquery()
    stmt = select(ConcurrencyLimit.id, held).where(ConcurrencyLimit.id.in_(limit_ids))
    return {limit_id: int(n) for limit_id, n in session.execute(stmt)}


def add_slots(session: Session, pairs: Sequence[tuple[str, str]], *, now: datetime) -> None:
    """Slots (limit id, run id) the claim's runs take; a row an earlier attempt of the run left (not
    swept yet) is taken again."""
    if not pairs:
        return
    rows = [{"limit_id": limit_id, "run_id": run_id, "acquired_at": now} for limit_id, run_id in pairs]
    insert = _INSERT[session.get_bind().dialect.name](ConcurrencySlot)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["limit_id", "run_id"], set_={"acquired_at": insert.excluded.acquired_at}
        ),
        rows,
    )


def sweep_slots(session: Session, *, limit: int) -> int:
    """Delete up to `limit` slot rows of runs that stopped running (ended, cancelled, back in the
    queue): they hold nothing, and the counts skip them, but the table would grow. Rows another
    sweep holds are skipped (`SKIP LOCKED`)."""
    stale = (
        select(ConcurrencySlot.limit_id, ConcurrencySlot.run_id)
        .join(Run, Run.id == ConcurrencySlot.run_id)
        .where(Run.status != _RUNNING)
        .order_by(ConcurrencySlot.limit_id, ConcurrencySlot.run_id)
        .limit(limit)
        .with_for_update(of=ConcurrencySlot, skip_locked=True)
    )
    keys = [(limit_id, run_id) for limit_id, run_id in session.execute(stale)]
    if keys:
        pairs = tuple_(ConcurrencySlot.limit_id, ConcurrencySlot.run_id)
        session.execute(delete(ConcurrencySlot).where(pairs.in_(keys)))
    return len(keys)

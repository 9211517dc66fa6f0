"""Queries for runs, their logs and node runs, always scoped by org id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, String, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.db.bulk import insert_new
from dagy.server.db.models import Flow, FlowVersion, NodeRun, Run, RunLog

# The hot path of `POST /runs` runs these statements, built once with bound parameters, on the
# session's connection: no per-request statement building, no ORM unit of work.
_flow = Flow.__table__.c
_version = FlowVersion.__table__.c
_run = Run.__table__.c
_VERSION_COLUMNS = (_version.id, _version.flow_id, _version.version, _version.default_executor)
_VERSION_OF_FLOW = (
    select(*_VERSION_COLUMNS)
    .join_from(FlowVersion.__table__, Flow.__table__, _flow.id == _version.flow_id)
    .where(
        _flow.org_id == bindparam("org_id"),
        _flow.name == bindparam("flow_name"),
        _version.org_id == bindparam("org_id"),
    )
)
_LATEST_VERSION = _VERSION_OF_FLOW.order_by(_version.deployment_version.desc()).limit(1)
_NAMED_VERSION = _VERSION_OF_FLOW.where(_version.version == bindparam("version"))
# A unique key already taken (the slug, or the idempotency key) inserts nothing instead of failing:
# no savepoint needed, and a transaction waiting on another's uncommitted row goes on after it.
_INSERT_RUN = {
    "sqlite": sqlite_insert(Run.__table__).on_conflict_do_nothing().returning(_run.id),
    "postgresql": postgresql_insert(Run.__table__).on_conflict_do_nothing().returning(_run.id),
}
# A new run has no output or error yet: left out, they are SQL NULL rather than JSON `null`.
_INSERTED_COLUMNS = tuple(c.key for c in Run.__table__.columns if c.key not in ("output", "error"))


def _insert_from_version(named: bool) -> dict[str, Insert]:
    """`INSERT INTO run (...) SELECT ... FROM flow_version ... LIMIT 1 ON CONFLICT DO NOTHING
    RETURNING ...`: a run of a flow's latest (or named) version, looked up and inserted in one
    round trip. Every column is a bound parameter but the version's: its ids, its label, and the
    executor (the one asked for, else the version's default, else the installation's)."""
    from_version = {
        "flow_id": _version.flow_id,
        "flow_version_id": _version.id,
        "flow_version": _version.version,
        "executor": func.coalesce(
            bindparam("executor_asked", type_=String),
            func.nullif(_version.default_executor, ""),
            bindparam("executor_default", type_=String),
        ),
    }
    values = [
        from_version.get(key, bindparam(key, type_=Run.__table__.c[key].type)) for key in _INSERTED_COLUMNS
    ]
    source = _VERSION_OF_FLOW.with_only_columns(*values).order_by(_version.deployment_version.desc()).limit(1)
    if named:
        source = source.where(_version.version == bindparam("version"))
    returned = (_run.flow_id, _run.flow_version_id, _run.flow_version, _run.executor)
    return {
        name: dialect_insert(Run.__table__)
        .from_select(_INSERTED_COLUMNS, source)
        .on_conflict_do_nothing()
        .returning(*returned)
        for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
    }


_INSERT_FROM_LATEST = _insert_from_version(named=False)
_INSERT_FROM_NAMED = _insert_from_version(named=True)


@dataclass(frozen=True)
class VersionToRun:
    """The columns of a flow version a run is created from (never its spec)."""

    id: str
    flow_id: str
    version: str
    default_executor: str | None


def get_run(session: Session, org_id: str, run_id: str) -> Run | None:
    stmt = select(Run).where(Run.org_id == org_id, Run.id == run_id)
    return session.execute(stmt).scalar_one_or_none()


def get_run_by_id_or_slug(session: Session, org_id: str, ref: str) -> Run | None:
    """A run named by its id, else by its slug (unique in the org): users copy either."""
    run = get_run(session, org_id, ref)
    if run is None:
        stmt = select(Run).where(Run.org_id == org_id, Run.run_slug == ref)
        run = session.execute(stmt).scalar_one_or_none()
    return run


def get_run_by_idempotency_key(session: Session, org_id: str, key: str) -> Run | None:
    stmt = select(Run).where(Run.org_id == org_id, Run.idempotency_key == key)
    return session.execute(stmt).scalar_one_or_none()


def release_idempotency_key(session: Session, org_id: str, key: str, *, created_before: datetime) -> None:
    """Free `key` from the run that took it before `created_before`: its window has passed. Concurrent
    releases are harmless; the unique index (org_id, idempotency_key) still lets one new run take it."""
    stmt = (
        update(Run)
        .where(Run.org_id == org_id, Run.idempotency_key == key, Run.created_at < created_before)
        .values(idempotency_key=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def find_flow_version(
    session: Session, org_id: str, flow_name: str, version: str | None
) -> VersionToRun | None:
    """A flow's version by label, or its latest (highest deployment version) for `None`: one query
    of the columns a run needs."""
    params = {"org_id": org_id, "flow_name": flow_name}
    stmt = _LATEST_VERSION if version is None else _NAMED_VERSION
    row = session.connection().execute(stmt, params if version is None else params | {"version": version})
    found = row.first()
    return None if found is None else VersionToRun(*found)


def flow_exists(session: Session, org_id: str, flow_name: str) -> bool:
    stmt = select(Flow.id).where(Flow.org_id == org_id, Flow.name == flow_name).limit(1)
    return session.execute(stmt).first() is not None


def add_run(session: Session, run: Run) -> bool:
    """Insert a new run's row unless its slug or idempotency key is taken (False then); `run`, with
    its id set, stays a transient object its caller answers from."""
    connection = session.connection()
    values = {key: getattr(run, key) for key in _INSERTED_COLUMNS}
    return connection.execute(_INSERT_RUN[connection.dialect.name], values).first() is not None


def add_runs(session: Session, runs: Sequence[Run]) -> set[str]:
    """Insert new runs' rows at once, skipping any whose slug or idempotency key is taken; the ids
    of those inserted."""
    rows = [{key: getattr(run, key) for key in _INSERTED_COLUMNS} for run in runs]
    return insert_new(session.connection(), Run.__table__, rows)


def add_run_of_version(
    session: Session, run: Run, *, version: str | None, executor: str | None, default_executor: str
) -> tuple[str, str, str, str] | None:
    """Insert `run` as a run of its flow's latest version (or of `version`), whose ids, label and
    executor the insert fills in; those four, or None when nothing was inserted (no such flow or
    version, or the run's slug or idempotency key is taken)."""
    connection = session.connection()
    values = {key: getattr(run, key) for key in _INSERTED_COLUMNS} | {
        "executor_asked": executor or None,
        "executor_default": default_executor,
    }
    if version is None:
        stmt = _INSERT_FROM_LATEST[connection.dialect.name]
    else:
        stmt, values["version"] = _INSERT_FROM_NAMED[connection.dialect.name], version
    row = connection.execute(stmt, values).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def add(session: Session, obj: Run | RunLog | NodeRun) -> None:
    session.add(obj)
    session.flush()


def runs_query(org_id: str, *, flow_name: str | None, status: str | None) -> Select[Any]:
    stmt = select(Run).where(Run.org_id == org_id)
    if flow_name is not None:
        stmt = stmt.where(Run.flow_name == flow_name)
    if status is not None:
        stmt = stmt.where(Run.status == status)
    return stmt


def list_logs(session: Session, run_id: str, *, after_id: int, limit: int) -> list[RunLog]:
    """Log lines in the order they arrived, strictly after `after_id` (the keyset of a log tail)."""
    stmt = (
        select(RunLog).where(RunLog.run_id == run_id, RunLog.id > after_id).order_by(RunLog.id).limit(limit)
    )
    return list(session.execute(stmt).scalars())


def list_node_runs(session: Session, run_id: str) -> list[NodeRun]:
    """By attempt, then in the order the nodes started (not yet started last)."""
    order = (NodeRun.attempt, NodeRun.started_at.asc().nulls_last(), NodeRun.id)
    stmt = select(NodeRun).where(NodeRun.run_id == run_id).order_by(*order)
    return list(session.execute(stmt).scalars())

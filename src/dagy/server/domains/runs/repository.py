"""The run tables' queries: runs, their node runs, logs and events, and the queue's lock-safe claims
and leases (DESIGN.md §3, CONVENTIONS.md §5). Every user-facing query is scoped by org id; the
queue's take `org_id=None` for the installation's worker token, which serves every org.

`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claims pass each other by; SQLite ignores
the clause and is safe because every write transaction there is `BEGIN IMMEDIATE` under one lock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Insert,
    String,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, ListRow, PageRequest
from dagy.server.db.bulk import insert_new
from dagy.server.db.models import (
    CustomNode,
    Deployment,
    Environment,
    Flow,
    FlowVersion,
    NodeRun,
    Run,
    RunEvent,
    RunLog,
    Schedule,
)
from dagy.server.db.models.identity import in_unsuspended_org
from dagy.server.db.reads import read_timestamp
from dagy.server.orchestration import RunState

T = TypeVar("T")

# The version lookups of `POST /runs`, built once with bound parameters and run on the session's
# connection: no per-request statement building.
_flow = Flow.__table__.c
_version = FlowVersion.__table__.c
_run = Run.__table__.c
_VERSION_OF_FLOW = (
    select(
        _version.id, _version.flow_id, _version.version, _version.default_executor, _version.parameter_schema
    )
    .join_from(FlowVersion.__table__, Flow.__table__, _flow.id == _version.flow_id)
    .where(
        _flow.org_id == bindparam("org_id"),
        _flow.name == bindparam("flow_name"),
        _version.org_id == bindparam("org_id"),
    )
)
_LATEST_VERSION = _VERSION_OF_FLOW.order_by(_version.deployment_version.desc()).limit(1)
_NAMED_VERSION = _VERSION_OF_FLOW.where(_version.version == bindparam("version"))
# A new run has no output, error or wait yet: left out, they are SQL NULL rather than JSON `null`.
_INSERTED_COLUMNS = tuple(
    c.key for c in Run.__table__.columns if c.key not in ("output", "error", "waiting_for")
)


def _insert_from_version(named: bool) -> dict[str, Insert]:
    """`INSERT INTO run (...) SELECT ... FROM (SELECT ... FROM flow_version ... LIMIT 1) ... ON
    CONFLICT DO NOTHING RETURNING ...`: a run of a flow's latest (or named) version, looked up and
    inserted in one round trip. Every column is a bound parameter but the version's: its ids, its
    label, and the executor (the one asked for, else the version's default, else the
    installation's). A version with a parameter schema is inserted from only when it is the one the
    run's parameters were checked against (`checked_version_id`); otherwise nothing is inserted."""
    lookup = _NAMED_VERSION if named else _LATEST_VERSION
    version = lookup.subquery("version_to_run").c
    from_version = {
        "flow_id": version.flow_id,
        "flow_version_id": version.id,
        "flow_version": version.version,
        "executor": func.coalesce(
            bindparam("executor_asked", type_=String),
            func.nullif(version.default_executor, ""),
            bindparam("executor_default", type_=String),
        ),
    }
    values = [
        from_version.get(key, bindparam(key, type_=Run.__table__.c[key].type)) for key in _INSERTED_COLUMNS
    ]
    source = select(*values).where(
        or_(version.parameter_schema.is_(None), version.id == bindparam("checked_version_id", type_=String))
    )
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
class VersionLookup:
    """A run's flow version looked up by its own INSERT (one round trip for a single run named by
    its flow): the run's flow's latest version or the labelled one, and the executor asked for, else
    the version's default, else the installation's."""

    label: str | None
    executor_asked: str | None
    executor_default: str
    checked_version_id: str | None = None


@dataclass(frozen=True)
class VersionToRun:
    """The columns of a flow version a run is created from (never its spec)."""

    id: str
    flow_id: str
    version: str
    default_executor: str | None
    parameter_schema: dict[str, Any] | None = None


def database_now(session: Session) -> datetime:
    """Lease times use the database clock, so servers with skewed clocks agree on who expired.
    SQLite is embedded: its clock is this host's."""
    if session.get_bind().dialect.name == "sqlite":
        return datetime.now(UTC)
    value: datetime = session.execute(select(func.now())).scalar_one()
    return value.astimezone(UTC)


# --- runs -------------------------------------------------------------------------------------


def get_run(session: Session, run_id: str, *, org_id: str | None, lock: bool = False) -> Run | None:
    """The run by id, in `org_id` (None: any org, for the installation's worker); `lock` takes its
    row for the transaction (`FOR UPDATE`)."""
    stmt = select(Run).where(Run.id == run_id)
    if org_id is not None:
        stmt = stmt.where(Run.org_id == org_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_run_by_id_or_slug(session: Session, org_id: str, ref: str, *, lock: bool = False) -> Run | None:
    """A run named by its id, else by its slug (unique in the org): users copy either. `lock` takes
    its row for the transaction (`FOR UPDATE`)."""
    run = get_run(session, ref, org_id=org_id, lock=lock)
    if run is None:
        stmt = select(Run).where(Run.org_id == org_id, Run.run_slug == ref)
        run = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
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


def flow_names(session: Session, org_id: str) -> list[str]:
    """The org's flow names (an unknown name's suggestions)."""
    return list(session.execute(select(Flow.name).where(Flow.org_id == org_id)).scalars())


def add_runs(session: Session, runs: Sequence[Run], lookups: Mapping[str, VersionLookup]) -> set[str]:
    """Insert new runs' rows, skipping any whose slug or idempotency key is taken; the ids of those
    inserted. The runs with a version to look up (`lookups`, by run id) are each inserted with their
    lookup, which fills in their version columns; the others with one statement (executemany). A
    run of `lookups` not inserted either has a taken key or names no version: its caller tells which.
    The `Run` objects stay transient: their callers answer from them."""
    inserted: set[str] = set()
    connection = session.connection()
    for run in runs:
        lookup = lookups.get(run.id)
        if lookup is not None and _insert_with_lookup(connection, run, lookup):
            inserted.add(run.id)
    rows = [{key: getattr(run, key) for key in _INSERTED_COLUMNS} for run in runs if run.id not in lookups]
    return inserted | insert_new(connection, Run.__table__, rows)


def _insert_with_lookup(connection: Connection, run: Run, lookup: VersionLookup) -> bool:
    # The run's own `org_id` and `flow_name` also bind the lookup's.
    values = {key: getattr(run, key) for key in _INSERTED_COLUMNS} | {
        "executor_asked": lookup.executor_asked,
        "executor_default": lookup.executor_default,
        "checked_version_id": lookup.checked_version_id,
    }
    if lookup.label is None:
        stmt = _INSERT_FROM_LATEST[connection.dialect.name]
    else:
        stmt, values["version"] = _INSERT_FROM_NAMED[connection.dialect.name], lookup.label
    row = connection.execute(stmt, values).first()
    if row is None:
        return False
    run.flow_id, run.flow_version_id, run.flow_version, run.executor = row
    return True


# A page of runs, newest first, with the name of the schedule that started each; every combination
# of the filters built once (api/pagination.py). A schedule's runs are the page filtered on its name.
LIST_PAGES = FilteredKeysetQuery(
    select(
        Run.id,
        Run.run_slug,
        Run.flow_name,
        Run.flow_version,
        Run.status,
        read_timestamp(Run.created_at),
        read_timestamp(Run.started_at),
        read_timestamp(Run.completed_at),
        Run.trigger,
        Schedule.schedule_id,
        read_timestamp(Run.scheduled_for),
        Run.sensor_id,
        Run.sensor_event_id,
        Run.tags,
        Run.waiting_for,
    )
    .select_from(Run)
    .outerjoin(Schedule, Schedule.id == Run.schedule_id)
    .where(Run.org_id == bindparam("org_id")),
    filters={
        "flow_name": Run.flow_name == bindparam("flow_name"),
        "status": Run.status == bindparam("status"),
        "trigger": Run.trigger == bindparam("trigger"),
        "schedule_id": Schedule.schedule_id == bindparam("schedule_id"),
        "sensor_id": Run.sensor_id == bindparam("sensor_id"),
        "created_after": Run.created_at >= bindparam("created_after"),
        "created_before": Run.created_at < bindparam("created_before"),
    },
    order_by=[Run.created_at, Run.id],
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    filters: Mapping[str, str | None],
    to_item: Callable[[ListRow], T],
) -> KeysetPage[T]:
    """`filters`: the values of `LIST_PAGES`' filters (None: not filtered on)."""
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def schedule_name(session: Session, schedule_pk: str) -> str | None:
    """The `schedule_id` users know a schedule by, from the id its runs keep."""
    return session.execute(select(Schedule.schedule_id).where(Schedule.id == schedule_pk)).scalar()


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


# --- the queue --------------------------------------------------------------------------------


def lock_queued_runs(
    session: Session, *, executor: str, limit: int, org_id: str | None, after: Run | None = None
) -> list[Run]:
    """Up to `limit` queued runs of the executor in queue order, locked; `after`: those behind that
    run (the next window of a claim whose concurrency limits passed runs over)."""
    stmt = select(Run).where(
        Run.status == RunState.QUEUED, Run.executor == executor, in_unsuspended_org(Run.org_id)
    )
    if org_id is not None:
        stmt = stmt.where(Run.org_id == org_id)
    if after is not None:
        position = tuple_(Run.priority, Run.created_at, Run.id)
        stmt = stmt.where(position > tuple_(after.priority, after.created_at, after.id))
    stmt = stmt.order_by(Run.priority, Run.created_at, Run.id).limit(limit).with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def lock_expired_leases(session: Session, *, now: datetime, limit: int) -> list[Run]:
    stmt = (
        select(Run)
        .where(Run.status == RunState.RUNNING, Run.lease_expires_at < now)
        .order_by(Run.lease_expires_at, Run.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def attempt_reported(session: Session, run_id: str, attempt: int) -> bool:
    """Whether the attempt sent at least one log line or node run."""
    return any(
        session.scalar(select(exists().where(model.run_id == run_id, model.attempt == attempt)))
        for model in (RunLog, NodeRun)
    )


def flow_versions(session: Session, ids: Sequence[str]) -> dict[str, FlowVersion]:
    if not ids:
        return {}
    rows = session.execute(select(FlowVersion).where(FlowVersion.id.in_(ids))).scalars()
    return {fv.id: fv for fv in rows}


def deployment_environment(session: Session, org_id: str, deployment_name: str) -> Environment | None:
    """The environment a deployment places its flow in, if it names one."""
    stmt = (
        select(Environment)
        .join(Deployment, Deployment.environment_id == Environment.id)
        .where(Deployment.org_id == org_id, Deployment.name == deployment_name)
    )
    return session.execute(stmt).scalar_one_or_none()


def completed_node_outputs(session: Session, run_id: str, *, before_attempt: int) -> dict[str, Any]:
    """node_id -> output of the nodes completed by attempts before `before_attempt`; the latest wins."""
    stmt = (
        select(NodeRun.node_id, NodeRun.output)
        .where(NodeRun.run_id == run_id, NodeRun.attempt < before_attempt, NodeRun.status == "completed")
        .order_by(NodeRun.attempt)
    )
    return {node_id: output for node_id, output in session.execute(stmt)}


def custom_node_import_paths(session: Session, org_id: str, node_types: set[str]) -> dict[str, str]:
    """node_type -> import path of the org's custom node types among `node_types` that have one."""
    if not node_types:
        return {}
    stmt = select(CustomNode.node_type, CustomNode.definition).where(
        CustomNode.org_id == org_id, CustomNode.node_type.in_(sorted(node_types))
    )
    return {
        node_type: str(definition["import_path"])
        for node_type, definition in session.execute(stmt)
        if definition.get("import_path")
    }


def get_flow_version(
    session: Session, org_id: str, flow_name: str, version: str | None
) -> tuple[str, FlowVersion] | None:
    """(flow name, version) of the org's flow: the labelled version, else the flow's latest."""
    label = Flow.latest_version if version is None else version
    stmt = (
        select(Flow.name, FlowVersion)
        .join(FlowVersion, FlowVersion.flow_id == Flow.id)
        .where(Flow.org_id == org_id, Flow.name == flow_name, FlowVersion.version == label)
    )
    row = session.execute(stmt).one_or_none()
    return (row[0], row[1]) if row is not None else None


def node_run_states(
    session: Session, run_id: str, attempt: int, node_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """node_id -> {id, status, tries, started_at} of the attempt's recorded node runs among `node_ids`."""
    if not node_ids:
        return {}
    stmt = select(NodeRun.id, NodeRun.node_id, NodeRun.status, NodeRun.tries, NodeRun.started_at).where(
        NodeRun.run_id == run_id, NodeRun.attempt == attempt, NodeRun.node_id.in_(list(node_ids))
    )
    return {row.node_id: row._asdict() for row in session.execute(stmt)}


def insert_node_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT for the batch (executemany)."""
    if rows:
        session.execute(insert(NodeRun), list(rows))


def update_node_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One UPDATE by primary key for the batch (executemany); each row carries `id`."""
    if rows:
        session.execute(update(NodeRun), list(rows))


def end_unfinished_node_runs(
    session: Session, run_id: str, attempt: int, *, status: str, unfinished: Collection[str], now: datetime
) -> None:
    """The attempt's node runs still in one of `unfinished` states end in `status` now."""
    stmt = (
        update(NodeRun)
        .where(NodeRun.run_id == run_id, NodeRun.attempt == attempt, NodeRun.status.in_(sorted(unfinished)))
        .values(status=status, completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def insert_run_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(RunEvent), list(rows))


def add_logs(session: Session, lines: Sequence[RunLog]) -> None:
    session.add_all(lines)
    session.flush()

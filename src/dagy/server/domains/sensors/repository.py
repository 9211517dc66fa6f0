"""Queries for sensors and their events, scoped by org id (the sensor loop's claim alone spans orgs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import Sensor, SensorEvent
from dagy.server.db.models.identity import in_unsuspended_org
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")

CHECKED_TYPES = ("s3", "polling")  # the types the sensor loop checks; webhooks are pushed
_LOOKUP_CHUNK = 500


def get_sensor(session: Session, org_id: str, sensor_id: str) -> Sensor | None:
    stmt = select(Sensor).where(Sensor.org_id == org_id, Sensor.id == sensor_id)
    return session.execute(stmt).scalar_one_or_none()


def get_by_token_hash(session: Session, token_hash: str) -> Sensor | None:
    return session.execute(select(Sensor).where(Sensor.webhook_token_hash == token_hash)).scalar_one_or_none()


# A page of sensors without their config, token or cursor, newest first; every combination of
# the filters built once (api/pagination.py).
LIST_PAGES = FilteredKeysetQuery(
    select(
        Sensor.id,
        Sensor.name,
        Sensor.sensor_type,
        Sensor.flow_name,
        Sensor.enabled,
        read_timestamp(Sensor.created_at),
        read_timestamp(Sensor.last_fired_at),
        read_timestamp(Sensor.next_check_at),
    ).where(Sensor.org_id == bindparam("org_id")),
    filters={
        "sensor_type": Sensor.sensor_type == bindparam("sensor_type"),
        "flow_name": Sensor.flow_name == bindparam("flow_name"),
        "enabled": Sensor.enabled == bindparam("enabled"),
    },
    order_by=[Sensor.created_at, Sensor.id],
)

# The sensor of a list of events: its id, when the org has it.
_SENSOR_ID = select(Sensor.id).where(
    Sensor.org_id == bindparam("org_id"), Sensor.id == bindparam("sensor_id")
)

# A page of one sensor's events, newest first.
EVENT_PAGES = KeysetQuery(
    select(
        SensorEvent.id,
        read_timestamp(SensorEvent.occurred_at),
        SensorEvent.payload_digest,
        SensorEvent.run_id,
        SensorEvent.outcome,
        SensorEvent.detail,
    ).where(SensorEvent.sensor_id == bindparam("sensor_id")),
    order_by=[SensorEvent.occurred_at, SensorEvent.id],
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    sensor_type: str | None,
    flow_name: str | None,
    enabled: bool | None,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    filters = {"sensor_type": sensor_type, "flow_name": flow_name, "enabled": enabled}
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def sensor_exists(connection: Connection, org_id: str, sensor_id: str) -> bool:
    return connection.execute(_SENSOR_ID, {"org_id": org_id, "sensor_id": sensor_id}).first() is not None


def event_page(
    connection: Connection, sensor_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    return EVENT_PAGES.page(connection, page, params={"sensor_id": sensor_id}, to_item=to_item)


def add(session: Session, sensor: Sensor) -> None:
    session.add(sensor)
    session.flush()


def delete(session: Session, sensor: Sensor) -> None:
    session.delete(sensor)
    session.flush()


def claim_due(session: Session, *, now: datetime, limit: int) -> list[Sensor]:
    """Enabled s3 and polling sensors whose check is due, oldest due first, locked for this
    transaction; on PostgreSQL rows another loop holds are passed by (SKIP LOCKED). SQLite runs the
    claim inside its `BEGIN IMMEDIATE` write transaction, which serialises claims."""
    stmt = (
        select(Sensor)
        .where(
            Sensor.enabled.is_(True),
            Sensor.sensor_type.in_(CHECKED_TYPES),
            Sensor.next_check_at <= now,
            in_unsuspended_org(Sensor.org_id),
        )
        .order_by(Sensor.next_check_at, Sensor.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def lock_sensor(session: Session, sensor_id: str) -> Sensor | None:
    """The sensor, locked while a check's outcome is written (None when it was deleted meanwhile)."""
    return session.execute(
        select(Sensor).where(Sensor.id == sensor_id).with_for_update()
    ).scalar_one_or_none()


def add_event(session: Session, values: dict[str, Any]) -> bool:
    """Insert an event unless its (sensor_id, dedup_key) is taken: False then, and nothing written.
    Events without a dedup key always insert."""
    connection = session.connection()
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(SensorEvent.__table__).values(**values).on_conflict_do_nothing()
    return connection.execute(stmt.returning(SensorEvent.__table__.c.id)).first() is not None


def set_event_result(
    session: Session, event_id: str, *, run_id: str | None, outcome: str, detail: dict[str, Any] | None
) -> None:
    stmt = (
        update(SensorEvent)
        .where(SensorEvent.id == event_id)
        .values(run_id=run_id, outcome=outcome, detail=detail)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def known_dedup_keys(session: Session, sensor_id: str, keys: Iterable[str]) -> set[str]:
    """Those of `keys` the sensor already has an event for, asked in chunks."""
    wanted = list(keys)
    known: set[str] = set()
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        stmt = select(SensorEvent.dedup_key).where(
            SensorEvent.sensor_id == sensor_id, SensorEvent.dedup_key.in_(chunk)
        )
        known.update(str(k) for k in session.execute(stmt).scalars())
    return known

"""Retention settings (`GET`/`PUT /retention`) and the purge's steps.

An org's value wins; a null value follows the installation's default (`DAGY_RETENTION__*`); a null
default keeps that data forever. The steps below each do one batch in the caller's transaction;
the loop in services/retention.py commits between them.

Runs and usage: the usage roll-ups are computed from run and node-run rows (docs/usage-and-billing.md),
so a run is purged only once its creation day is rolled up for good: the cut-off never reaches into
the days the roll-up still recomputes (`DAGY_USAGE__RECOMPUTE_DAYS`), and a day never computed after
it ended is rolled up first (`roll_up_days`). Usage figures survive the runs they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from dagy.server.db.models import OrgRetention
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.retention import repository as repo
from dagy.server.domains.retention.repository import RunKey
from dagy.server.domains.retention.schemas import RetentionDays, RetentionRead, RetentionUpdate
from dagy.server.domains.usage.metering import rollup_day
from dagy.server.identity import Actor
from dagy.server.settings import RetentionSettings, Settings

RESOURCE = "retention"
FIELDS = ("runs_days", "logs_days", "node_outputs_days", "audit_days", "sensor_events_days")


def get_retention(session: Session, *, actor: Actor, settings: Settings) -> RetentionRead:
    return _read(repo.get(session, actor.org_id), settings.retention)


def put_retention(
    session: Session, *, actor: Actor, data: RetentionUpdate, settings: Settings
) -> RetentionRead:
    """Replace the org's values; one audit row with what changed."""
    before = _values(repo.get(session, actor.org_id))
    after = {name: getattr(data, name) for name in FIELDS}
    row = repo.put(session, actor.org_id, after)
    changes = {k: [before[k], after[k]] for k in FIELDS if before[k] != after[k]}
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=actor.org_id,
        resource_name=RESOURCE,
        changes=changes,
    )
    return _read(row, settings.retention)


def _values(row: OrgRetention | None) -> dict[str, int | None]:
    return {name: getattr(row, name) if row is not None else None for name in FIELDS}


def _effective(row: OrgRetention | None, defaults: RetentionSettings) -> RetentionDays:
    own = _values(row)
    return RetentionDays(
        **{name: own[name] if own[name] is not None else getattr(defaults, name) for name in FIELDS}
    )


def _read(row: OrgRetention | None, defaults: RetentionSettings) -> RetentionRead:
    return RetentionRead(**_values(row), effective=_effective(row, defaults))


@dataclass(frozen=True)
class Cutoffs:
    """What one org's purge removes: data older than these instants (None: nothing)."""

    org_id: str
    runs: datetime | None
    logs: datetime | None
    node_outputs: datetime | None
    audit: datetime | None
    sensor_events: datetime | None


def purge_plan(session: Session, *, settings: Settings, now: datetime) -> list[Cutoffs]:
    """Every org's cut-offs. The runs' stops at the start of the oldest day the usage roll-up still
    recomputes."""
    recomputed_from = datetime.combine(
        now.date() - timedelta(days=settings.usage.recompute_days), time.min, tzinfo=UTC
    )
    plans = []
    for org_id, row in repo.org_settings(session):
        days = _effective(row, settings.retention)
        before = {name: _before(now, getattr(days, name)) for name in FIELDS}
        runs = before["runs_days"]
        plans.append(
            Cutoffs(
                org_id=org_id,
                runs=min(runs, recomputed_from) if runs is not None else None,
                logs=before["logs_days"],
                node_outputs=before["node_outputs_days"],
                audit=before["audit_days"],
                sensor_events=before["sensor_events_days"],
            )
        )
    return plans


def _before(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def usage_days_to_finish(session: Session, *, org_id: str, cutoff: datetime) -> list[date]:
    """The days of the org's purgeable runs that the usage roll-up has not finished."""
    oldest = repo.oldest_terminal_run(session, org_id, cutoff)
    if oldest is None:
        return []
    return repo.unfinished_usage_days(session, oldest.date(), (cutoff - timedelta(microseconds=1)).date())


def roll_up_day(session: Session, *, day: date, now: datetime) -> None:
    """Roll `day` up (every org) before runs of it are purged."""
    rollup_day(session, day=day, now=now)


def terminal_runs(
    session: Session, *, org_id: str, cutoff: datetime, after: RunKey | None, limit: int, lock: bool = False
) -> list[RunKey]:
    return repo.terminal_runs(session, org_id, cutoff, after=after, limit=limit, lock=lock)


def delete_logs(session: Session, *, run_ids: list[str], limit: int) -> int:
    return repo.delete_logs_of(session, run_ids, limit)


def clear_node_outputs(session: Session, *, run_ids: list[str], limit: int) -> int:
    return repo.clear_outputs_of(session, run_ids, limit)


def delete_runs(session: Session, *, run_ids: list[str]) -> int:
    """The runs (their logs gone first, by `delete_logs`), keeping the sensor events that carry a
    dedup key."""
    repo.keep_sensor_memory(session, run_ids)
    return repo.delete_runs(session, run_ids)


def delete_audit(session: Session, *, org_id: str, cutoff: datetime, limit: int) -> int:
    return repo.delete_audit(session, org_id, cutoff, limit)


def delete_sensor_events(session: Session, *, org_id: str, cutoff: datetime, limit: int) -> int:
    return repo.delete_sensor_events(session, org_id, cutoff, limit)

"""Audit rows of schedules: `{field: [old, new]}` of the fields a person sets."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.models import Schedule
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.identity import Actor

RESOURCE = "schedule"
_AUDITED = (
    "schedule_id",
    "flow_name",
    "flow_version",
    "mode",
    "enabled",
    "timezone",
    "catchup_policy",
    "cron_expression",
    "interval_seconds",
    "one_time_at",
    "start_at",
    "end_at",
    "parameters",
    "environment",
    "description",
)
_TIMES = ("one_time_at", "start_at", "end_at")


def audit_state(schedule: Schedule) -> dict[str, Any]:
    state = {field: getattr(schedule, field) for field in _AUDITED}
    for field in _TIMES:
        if state[field] is not None:
            state[field] = state[field].isoformat()
    return state


def audit(
    session: Session, actor: Actor, schedule: Schedule, action: Action, changes: dict[str, Any]
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=schedule.id,
        resource_name=schedule.schedule_id,
        changes=changes,
    )

"""What a schedule's fields must satisfy together, checked on the schedule as it will be stored
(after a create, a PATCH or a deployment's change), and its next fire time derived from them."""

from __future__ import annotations

from datetime import datetime

from dagy.server.db.models import Schedule
from dagy.server.domains.schedules.timing import check_cron, next_fire_after, zone
from dagy.server.errors import InvalidInput

# The field each mode needs, and the fields only one mode may carry.
MODE_FIELDS = {"cron": "cron_expression", "interval": "interval_seconds", "one_time": "one_time_at"}


def settle(schedule: Schedule, *, now: datetime) -> None:
    """Check `schedule` (400 naming each field at fault) and set its `next_run_at`: the first fire
    time after `now`, None when disabled or when it has none left. An enabled one-time schedule
    whose time has passed is refused: it would never fire."""
    zone(schedule.timezone)
    problems = _mode_problems(schedule)
    if schedule.start_at and schedule.end_at and schedule.end_at <= schedule.start_at:
        problems["end_at"] = "must be after start_at"
    if problems:
        raise InvalidInput("Invalid schedule configuration.", details=problems)
    if schedule.mode == "cron":
        schedule.cron_expression = check_cron(schedule.cron_expression)
    schedule.next_run_at = next_fire_after(schedule, now) if schedule.enabled else None
    if schedule.mode == "one_time" and schedule.enabled and schedule.next_run_at is None:
        field = "one_time_at" if schedule.one_time_at else "start_at"
        raise InvalidInput(
            "The one-time schedule's time has passed.", details={field: "must be in the future"}
        )


def _mode_problems(schedule: Schedule) -> dict[str, str]:
    problems: dict[str, str] = {}
    for mode, field in MODE_FIELDS.items():
        if mode != schedule.mode and getattr(schedule, field) is not None:
            problems[field] = f"only for {mode} schedules"
    if schedule.mode == "cron" and not schedule.cron_expression:
        problems["cron_expression"] = "required for cron schedules"
    elif schedule.mode == "interval" and schedule.interval_seconds is None:
        problems["interval_seconds"] = "required for interval schedules (at least 60)"
    elif schedule.mode == "one_time" and schedule.one_time_at is None and schedule.start_at is None:
        problems["one_time_at"] = "required for one-time schedules (or give start_at)"
    return problems

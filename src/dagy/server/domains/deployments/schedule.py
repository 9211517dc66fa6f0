"""Deployment schedules: a cron expression (as `/v1/schedules` takes it, aliases such as `@daily`
included) or a fixed interval such as `15m`.

Checked when a deployment is saved, so a schedule the scheduler could not fire is a 400 at the
moment someone types it, not a silent gap later.
"""

from __future__ import annotations

import re

from dagy.server.domains.schedules.timing import check_cron
from dagy.server.errors import InvalidInput

MIN_INTERVAL_SECONDS = 60
_INTERVAL = re.compile(r"^(\d{1,7})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PROBLEM = (
    "a 5-field cron expression (such as '0 9 * * 1-5'), an alias such as '@daily', or an interval "
    "such as '30m' (at least 60s)"
)


def interval_seconds(value: str) -> int | None:
    """Seconds of an interval schedule (`30s`, `15m`, `2h`, `1d`); None when `value` is not one."""
    match = _INTERVAL.match(value)
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_schedule(value: str | None) -> str | None:
    """The schedule to store: None for None or `""` (no schedule); a bad one is a 400 naming it."""
    if value is None or not value.strip():
        return None
    value = " ".join(value.split())
    seconds = interval_seconds(value)
    if seconds is not None:
        if seconds < MIN_INTERVAL_SECONDS:
            raise InvalidInput(
                "Schedule interval is too short.",
                details={"schedule": f"intervals are at least {MIN_INTERVAL_SECONDS}s"},
            )
        return value
    try:
        return check_cron(value)
    except InvalidInput as exc:
        raise InvalidInput(f"Invalid schedule {value!r}.", details={"schedule": _PROBLEM}) from exc

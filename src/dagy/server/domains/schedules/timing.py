"""When a schedule fires: all of Dagy's time arithmetic for schedules, in one place.

- **cron**: 5 fields (`*/n`, ranges, lists, names such as `MON` and `JAN`) or one of the aliases
  `@hourly @daily @weekly @monthly @yearly @annually @midnight`, evaluated by croniter on the wall
  clock of the schedule's IANA time zone, then turned into UTC instants:
  - a wall time that does not exist (02:30 on the spring-forward day in America/New_York) fires
    once, at the first instant after the gap (03:00 EDT); several such wall times fire once there;
  - a wall time that occurs twice (01:30 on the fall-back day) fires once, at its first occurrence.
  croniter itself fires the repeated wall time twice; that is the one place where Dagy differs.
- **interval**: every `interval_seconds`, anchored at `start_at`, else at the schedule's creation:
  anchor + k * interval.
- **one_time**: once, at `one_time_at` (else `start_at`).
- **manual**: never on its own.

Every schedule: nothing before `start_at`, nothing after `end_at`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

from dagy.server.errors import InvalidInput

MIN_INTERVAL_SECONDS = 60
CRON_ALIASES = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight")
_EPSILON = timedelta(microseconds=1)
_CRON_PROBLEM = "a 5-field cron expression such as '0 9 * * 1-5', or one of " + ", ".join(CRON_ALIASES)
# A fall-back hour repeats at most 60 minutely wall times; past this many candidates in a row that
# all lie before the instant asked about, something is wrong with the zone's data.
_MAX_SKIPPED_CANDIDATES = 10_000


class ScheduleTiming(Protocol):
    """The fields of a schedule that decide when it fires (the `Schedule` model has them)."""

    mode: str
    timezone: str
    cron_expression: str | None
    interval_seconds: int | None
    one_time_at: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    created_at: datetime


@dataclass
class Timing:
    """A `ScheduleTiming` not (yet) stored: a schedule being created or changed, and tests."""

    mode: str
    created_at: datetime
    timezone: str = "UTC"
    cron_expression: str | None = None
    interval_seconds: int | None = None
    one_time_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; raises `InvalidInput` naming `timezone`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(
            f"Unknown time zone {name!r}.", details={"timezone": "an IANA time zone such as Europe/Paris"}
        ) from exc


def check_cron(expression: str | None) -> str:
    """The expression to store (spaces normalised); anything croniter cannot fire is a 400 naming
    `cron_expression`: 6 or 7 fields, out-of-range values, a date that never comes (`0 0 30 2 *`)."""
    text = " ".join((expression or "").split())
    fields = text.split(" ")
    valid_shape = text in CRON_ALIASES or (len(fields) == 5 and not text.startswith("@"))
    if not valid_shape or not croniter.is_valid(text):
        raise InvalidInput(f"Invalid cron expression {text!r}.", details={"cron_expression": _CRON_PROBLEM})
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError, CroniterNotAlphaError) as exc:
        raise InvalidInput(
            f"Cron expression {text!r} never fires.", details={"cron_expression": "never matches a date"}
        ) from exc
    return text


def local_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in `tz` (naive `wall`), by Dagy's DST rule: a time that
    occurs twice is its first occurrence; a time in a gap is the first instant after the gap."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    return _end_of_gap(wall, tz)


def _end_of_gap(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant after the gap holding `wall`. Read with the offset before the gap and with
    the one after, `wall` gives two instants; the transition lies between them. Binary search on
    whole seconds for the first instant with the later offset."""
    a = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(a, b), max(a, b)
    after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def next_fire_after(schedule: ScheduleTiming, instant: datetime) -> datetime | None:
    """The schedule's first fire time strictly after `instant` (UTC), or None when it has no more."""
    if schedule.start_at is not None and instant < schedule.start_at:
        instant = schedule.start_at - _EPSILON
    found = _next_by_mode(schedule, instant)
    if found is None or (schedule.end_at is not None and found > schedule.end_at):
        return None
    return found


def fire_times_between(
    schedule: ScheduleTiming, after: datetime, until: datetime, *, limit: int
) -> list[datetime]:
    """Fire times `t` with `after < t <= until`, oldest first, at most `limit` of them."""
    times: list[datetime] = []
    current = next_fire_after(schedule, after)
    while current is not None and current <= until and len(times) < limit:
        times.append(current)
        current = next_fire_after(schedule, current)
    return times


def _next_by_mode(schedule: ScheduleTiming, instant: datetime) -> datetime | None:
    if schedule.mode == "cron" and schedule.cron_expression:
        return _next_cron(schedule.cron_expression, zone(schedule.timezone), instant)
    if schedule.mode == "interval" and schedule.interval_seconds:
        anchor = schedule.start_at or schedule.created_at
        step = timedelta(seconds=schedule.interval_seconds)
        if instant < anchor:
            return anchor
        return anchor + step * ((instant - anchor) // step + 1)
    if schedule.mode == "one_time":
        at = schedule.one_time_at or schedule.start_at
        return at if at is not None and at > instant else None
    return None


def _next_cron(expression: str, tz: ZoneInfo, instant: datetime) -> datetime:
    """Walk croniter over the zone's wall clock from the wall time of `instant`; the first
    candidate whose instant (by `local_instant`) is after `instant` is the answer. Candidates
    before it can only be the first pass of a repeated hour when `instant` is in the second."""
    for count, candidate in enumerate(_cron_instants(expression, tz, instant)):
        if candidate > instant:
            return candidate
        if count > _MAX_SKIPPED_CANDIDATES:
            break
    raise InvalidInput("The cron expression does not advance.", details={"cron_expression": expression})


def _cron_instants(expression: str, tz: ZoneInfo, instant: datetime) -> Iterator[datetime]:
    walls = _wall_clock(expression, instant.astimezone(tz).replace(tzinfo=None))
    while True:
        yield local_instant(walls.get_next(datetime), tz)


_parsed = threading.local()
_MAX_PARSED = 4096


def _wall_clock(expression: str, start: datetime) -> croniter:
    """A croniter over naive wall times from `start`. Parsing an expression costs more than walking
    it, so each thread keeps one iterator per expression and moves it to `start`; a walk is done
    before the next one begins (callers consume it at once)."""
    cache: dict[str, croniter] | None = getattr(_parsed, "by_expression", None)
    if cache is None:
        cache = _parsed.by_expression = {}
    walls = cache.get(expression)
    if walls is None:
        if len(cache) >= _MAX_PARSED:
            cache.clear()
        walls = cache[expression] = croniter(expression, start)
    else:
        walls.set_current(start, force=True)
    return walls


def local_datetime(value: datetime, timezone: str) -> datetime:
    """A timestamp the API received, in UTC: one without an offset is read in the schedule's zone."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return local_instant(value, zone(timezone))


def last_fire_at_or_before(
    schedule: ScheduleTiming, instant: datetime, *, after: datetime
) -> datetime | None:
    """The schedule's latest fire time in `(after, instant]`, without walking every time between:
    windows ending at `instant` double in length until one holds a fire time (so it holds few)."""
    window = timedelta(seconds=1)
    while True:
        start = max(instant - window, after)
        found = fire_times_between(schedule, start, instant, limit=_MAX_SKIPPED_CANDIDATES)
        if found:
            return found[-1]
        if start == after:
            return None
        window *= 2

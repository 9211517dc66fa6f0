"""When schedules fire: cron in IANA zones (DST), intervals, one-time, windows; and a property test
against croniter itself."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from dagy.server.domains.schedules.timing import (
    Timing,
    check_cron,
    fire_times_between,
    last_fire_at_or_before,
    local_instant,
    next_fire_after,
)
from dagy.server.errors import InvalidInput

NEW_YORK = "America/New_York"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Auckland",
    "America/St_Johns",
    "Asia/Kathmandu",
]


def cron(expression: str, zone: str = "UTC", **window: datetime) -> Timing:
    return Timing(mode="cron", created_at=CREATED, timezone=zone, cron_expression=expression, **window)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_spring_forward_wall_time_that_does_not_exist_fires_once_at_the_next_valid_instant() -> None:
    # 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 never happens.
    daily = cron("30 2 * * *", NEW_YORK)
    times = fire_times_between(daily, utc(2026, 3, 6), utc(2026, 3, 10), limit=10)
    assert times == [
        utc(2026, 3, 6, 7, 30),
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 9, 6, 30),
    ]
    assert times[2].astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M %Z") == "03:00 EDT"


def test_the_missing_hour_fires_once_however_many_wall_times_it_held() -> None:
    quarterly = cron("*/15 2-3 * * *", NEW_YORK)
    times = fire_times_between(quarterly, utc(2026, 3, 8, 5), utc(2026, 3, 8, 9), limit=20)
    local = [t.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M") for t in times]
    assert local == ["03:00", "03:15", "03:30", "03:45"]
    assert len(set(times)) == len(times)


def test_fall_back_wall_time_that_occurs_twice_fires_once_at_its_first_occurrence() -> None:
    # 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    daily = cron("30 1 * * *", NEW_YORK)
    times = fire_times_between(daily, utc(2026, 10, 31), utc(2026, 11, 3), limit=10)
    assert times == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    # croniter itself fires the repeated time twice; this is where Dagy's rule differs.
    theirs = croniter("30 1 * * *", datetime(2026, 11, 1, 0, tzinfo=ZoneInfo(NEW_YORK)))
    assert [theirs.get_next(datetime) for _ in range(2)][1].astimezone(UTC) == utc(2026, 11, 1, 6, 30)


def test_asked_from_inside_the_repeated_hour_the_next_time_is_after_it() -> None:
    every_ten = cron("*/10 * * * *", NEW_YORK)
    inside_second_pass = utc(2026, 11, 1, 6, 5)  # 01:05 EST, the second 01:05
    assert next_fire_after(every_ten, inside_second_pass) == utc(2026, 11, 1, 7, 0)  # 02:00 EST
    hour = fire_times_between(every_ten, utc(2026, 11, 1, 4, 55), utc(2026, 11, 1, 7, 0), limit=50)
    assert [t.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M") for t in hour] == [
        "01:00", "01:10", "01:20", "01:30", "01:40", "01:50", "02:00"
    ]  # fmt: skip


def test_half_hour_dst_shift_lord_howe() -> None:
    # 2026-10-04 02:00 -> 02:30 in Lord Howe: 02:15 does not exist and fires at 02:30 (15:30 UTC).
    daily = cron("15 2 * * *", "Australia/Lord_Howe")
    assert next_fire_after(daily, utc(2026, 10, 2, 16)) == utc(2026, 10, 3, 15, 30)


def test_names_ranges_lists_steps_and_aliases() -> None:
    weekdays = cron("0 9 * JAN,FEB MON-FRI", "Europe/Paris")
    first = next_fire_after(weekdays, utc(2026, 1, 2, 12))  # a Friday afternoon
    assert first == utc(2026, 1, 5, 8)  # Monday 09:00 CET
    assert next_fire_after(cron("@hourly"), utc(2026, 5, 1, 10, 30)) == utc(2026, 5, 1, 11)
    assert next_fire_after(cron("@midnight", "Asia/Tokyo"), utc(2026, 5, 1, 10)) == utc(2026, 5, 1, 15)
    assert next_fire_after(cron("@yearly"), utc(2026, 5, 1)) == utc(2027, 1, 1)
    assert next_fire_after(cron("*/20 1-2 * * *"), utc(2026, 5, 1, 1, 45)) == utc(2026, 5, 1, 2)


@pytest.mark.parametrize(
    "expression", ["61 * * * *", "* * * * * *", "", "  ", "@reboot", "0 0 30 2 *", "x y z"]
)
def test_bad_cron_expressions_name_the_field(expression: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_cron(expression)
    assert "cron_expression" in raised.value.details


def test_interval_is_anchored_at_start_at_else_at_creation() -> None:
    anchored = Timing(
        mode="interval", created_at=CREATED, interval_seconds=3600, start_at=utc(2026, 2, 1, 0, 20)
    )
    assert next_fire_after(anchored, utc(2026, 1, 15)) == utc(2026, 2, 1, 0, 20)
    assert next_fire_after(anchored, utc(2026, 2, 1, 0, 20)) == utc(2026, 2, 1, 1, 20)
    assert next_fire_after(anchored, utc(2026, 2, 3, 7, 59)) == utc(2026, 2, 3, 8, 20)
    created = Timing(mode="interval", created_at=utc(2026, 1, 1, 0, 0, 7), interval_seconds=90)
    assert fire_times_between(created, utc(2026, 1, 1), utc(2026, 1, 1, 0, 4), limit=5) == [
        utc(2026, 1, 1, 0, 0, 7), utc(2026, 1, 1, 0, 1, 37), utc(2026, 1, 1, 0, 3, 7)
    ]  # fmt: skip


def test_window_and_one_time() -> None:
    windowed = cron("0 * * * *", start_at=utc(2026, 3, 1, 5, 30), end_at=utc(2026, 3, 1, 8))
    assert fire_times_between(windowed, utc(2026, 3, 1), utc(2026, 3, 2), limit=10) == [
        utc(2026, 3, 1, 6), utc(2026, 3, 1, 7), utc(2026, 3, 1, 8)
    ]  # fmt: skip
    once = Timing(mode="one_time", created_at=CREATED, one_time_at=utc(2026, 6, 1, 12))
    assert next_fire_after(once, utc(2026, 6, 1)) == utc(2026, 6, 1, 12)
    assert next_fire_after(once, utc(2026, 6, 1, 12)) is None
    assert next_fire_after(Timing(mode="manual", created_at=CREATED), utc(2026, 1, 1)) is None


def test_last_fire_before_an_instant_after_a_long_gap() -> None:
    minutely = cron("* * * * *")
    assert last_fire_at_or_before(minutely, utc(2027, 1, 1, 0, 0, 30), after=utc(2026, 1, 1)) == utc(
        2027, 1, 1
    )
    morning = cron("* 9 * * *", NEW_YORK)
    latest = last_fire_at_or_before(morning, utc(2026, 7, 1, 20), after=utc(2026, 1, 1))
    assert latest == utc(2026, 7, 1, 13, 59)
    assert last_fire_at_or_before(morning, utc(2026, 7, 1, 20), after=utc(2026, 7, 1, 14)) is None


def _random_expression(rng: random.Random) -> str:
    def field(low: int, high: int, names: list[str] | None = None) -> str:
        kind = rng.random()
        if kind < 0.3:
            return "*"
        if kind < 0.45:
            return f"*/{rng.randint(2, max(2, (high - low) // 2))}"
        if kind < 0.6:
            a = rng.randint(low, high - 1)
            return f"{a}-{rng.randint(a + 1, high)}"
        if kind < 0.75:
            return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), rng.randint(2, 3))))
        if names and kind < 0.85:
            return rng.choice(names)
        return str(rng.randint(low, high))

    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    return " ".join([field(0, 59), field(0, 23), field(1, 28), field(1, 12, months), field(0, 6, days)])


def _near_a_transition(zone: ZoneInfo, *instants: datetime) -> bool:
    """Within a day of a change of the zone's UTC offset."""
    for instant in instants:
        offsets = {(instant + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-26, 27)}
        if len(offsets) > 1:
            return True
    return False


def test_property_agrees_with_croniter_away_from_transitions_and_follows_the_rule_near_them() -> None:
    """Seeded random cron expressions, time zones and instants: away from a DST change, Dagy's next
    fire time is croniter's on a zone-aware datetime. Near one, Dagy states its own rule, checked
    directly: the answer is after the instant, it is the first occurrence of a matching wall time
    or the first instant after a gap that swallowed one, and no matching wall time lies between."""
    rng = random.Random(20261129)
    compared = ruled = 0
    for _ in range(3000):
        expression = _random_expression(rng)
        zone_name = rng.choice(ZONES)
        zone = ZoneInfo(zone_name)
        instant = utc(2026, 1, 1) + timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
        ours = next_fire_after(cron(expression, zone_name), instant)
        assert ours is not None and ours > instant
        theirs = croniter(expression, instant.astimezone(zone)).get_next(datetime).astimezone(UTC)
        if not _near_a_transition(zone, instant, ours, theirs):
            assert ours == theirs, (expression, zone_name, instant)
            compared += 1
            continue
        ruled += 1
        _check_rule(expression, zone, instant, ours)
    assert compared > 2000 and ruled > 0


def _check_rule(expression: str, zone: ZoneInfo, instant: datetime, ours: datetime) -> None:
    """Walk the wall clock from `instant` (day by day, then minute by minute within a matching
    day), matching the fields as cron does: each matching wall time maps, by the rule, to an
    instant; the first one after `instant` must be ours."""
    minutes, hours, days, months, weekdays = (set(f) for f in croniter(expression).expanded)
    day = instant.astimezone(zone).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(400):
        if _day_matches(day, days, months, weekdays):
            for hour in sorted(hours) if "*" not in hours else range(24):
                for minute in sorted(minutes) if "*" not in minutes else range(60):
                    mapped = local_instant(day.replace(hour=hour, minute=minute), zone)
                    if mapped > instant:
                        assert mapped == ours, (expression, zone, instant, day, hour, minute)
                        return
        day += timedelta(days=1)
    raise AssertionError(f"no match for {expression} after {instant}")


def _day_matches(day: datetime, days: set[object], months: set[object], weekdays: set[object]) -> bool:
    """Standard cron: when both day fields are restricted, either may match."""
    if "*" not in months and day.month not in months:
        return False
    by_date = "*" in days or day.day in days
    by_weekday = "*" in weekdays or (day.isoweekday() % 7) in weekdays
    if "*" not in days and "*" not in weekdays:
        return by_date or by_weekday
    return by_date and by_weekday

"""Counting usage: API calls and errors in memory, written every few seconds; daily roll-ups.

`UsageMeter` holds what one server process counted since its last flush, per org and day; the
flush adds it to `usage_counter` with one upsert per row, and the server flushes once more when it
stops. A process killed without stopping loses at most `usage.flush_seconds` of API calls; runs,
node runs and compute are never lost: they are the run rows themselves.

The roll-up (`rollup_day`) recomputes one day of every org from the run and node-run rows and
replaces that day's `usage_daily` rows: running it twice gives the same rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.domains.usage import repository as repo
from dagy.server.domains.usage.service import day_bounds


class UsageMeter:
    """API calls and errors counted in this process, not yet written (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, date], list[int]] = {}

    def count(self, org_id: str, day: date, *, api_calls: int = 0, errors: int = 0) -> None:
        with self._lock:
            counts = self._counts.setdefault((org_id, day), [0, 0])
            counts[0] += api_calls
            counts[1] += errors

    def take(self) -> list[dict[str, Any]]:
        """Everything counted so far, as `usage_counter` increments; the meter starts again empty."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return [
            {"org_id": org_id, "day": day, "api_calls": calls, "errors": errors}
            for (org_id, day), (calls, errors) in counts.items()
        ]

    def put_back(self, rows: Iterable[dict[str, Any]]) -> None:
        """Increments a failed flush did not write: counted again for the next one."""
        for row in rows:
            self.count(row["org_id"], row["day"], api_calls=row["api_calls"], errors=row["errors"])


def add_counts(session: Session, *, rows: list[dict[str, Any]]) -> None:
    """Add a meter's increments (API calls, errors) to the orgs' day counters."""
    repo.add_counts(session, rows)


def count_refusals(session: Session, *, org_id: str, refused: int, now: datetime) -> None:
    """Runs a schedule or sensor asked for and the quota refused: errors of the org, in the
    transaction that records the refusal on the schedule or sensor."""
    if refused:
        repo.add_counts(session, [{"org_id": org_id, "day": now.date(), "api_calls": 0, "errors": refused}])


def rollup_day(session: Session, *, day: date, now: datetime) -> int:
    """Recompute `day` for every org from the raw rows and replace its roll-up; rows written."""
    start, end = day_bounds(day)
    repo.mark_day_computed(session, day, now)  # first: a roll-up of the day elsewhere waits for this one
    return repo.replace_day(session, day, repo.live_day(session, None, day, start, end))


def days_to_roll_up(session: Session, *, now: datetime, recompute_days: int, catchup_days: int) -> list[date]:
    """Today and the `recompute_days` before it, and every earlier day of the last `catchup_days`
    never computed after it ended; oldest first."""
    today = now.date()
    recent = [today - timedelta(days=i) for i in range(recompute_days, -1, -1)]
    first = today - timedelta(days=catchup_days)
    computed = repo.rolled_up_days(session, first, today)
    earlier = [first + timedelta(days=i) for i in range((recent[0] - first).days)]
    return [day for day in earlier if day not in computed] + recent

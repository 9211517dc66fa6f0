"""Run quotas, checked where runs are created (`runs/trigger.py`), in the run's own transaction.

Monthly runs: the org's `usage_month` row is raised by a conditional UPDATE that admits runs only
while the count stays within the limit; the row lock it takes makes concurrent transactions (other
requests, other server processes) wait and re-check, so with one run left exactly one is admitted.
An org with neither limit keeps no counter (its triggers pay one lookup of its plan); its row, when
next needed, starts from the runs the org created this month.
Concurrent runs: counted from the org's queued and running runs after that row is locked, so the
count cannot move under the check. On SQLite every write transaction is `BEGIN IMMEDIATE` under
one writer lock, which serialises the same steps (docs/adr/0016-run-quota-counter.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from dagy.server.domains.billing.plans import DEFAULT_PLAN, limits_of
from dagy.server.domains.usage import repository as repo
from dagy.server.errors import QuotaExceeded

# A refusal for concurrent runs: how long to wait before trying again.
CONCURRENT_RETRY_SECONDS = 30


class RunQuotaExceeded(QuotaExceeded):
    """429 with the reference's body: `error`, `message`, `limit`, `current_usage`, `reset_at`, and
    `Retry-After`. `org_id` lets the API meter the refusal as the org's error."""

    def __init__(
        self, message: str, *, org_id: str, limit: int, current_usage: int, reset_at: datetime
    ) -> None:
        retry_after = max(1, int((reset_at - datetime.now(UTC)).total_seconds()))
        super().__init__(
            message,
            headers={"Retry-After": str(retry_after)},
            extra={
                "limit": limit,
                "current_usage": current_usage,
                "reset_at": reset_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        self.org_id = org_id


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def reset_at(moment: datetime) -> datetime:
    """When the month's run count starts again: the next month's first instant (UTC)."""
    following = next_month(month_of(moment))
    return datetime(following.year, following.month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Admission:
    """How many of the runs asked for may be created, and why the others may not."""

    admitted: int
    refusal: RunQuotaExceeded | None = None


def admit_runs(session: Session, *, org_id: str, count: int, now: datetime) -> Admission:
    """Count `count` new runs of the org against its quotas, in the caller's transaction: the first
    `admitted` may be created (the monthly counter already holds them), the rest are refused."""
    limits = _org_limits.get(session, org_id)
    concurrent = limits["concurrent_runs"]
    if limits["monthly_runs"] is None and concurrent is None:
        return Admission(count)  # nothing to enforce: no counter to raise (it is seeded when needed)
    month = month_of(now)
    admitted, refusal = _within_month(session, org_id, month, count, limit=limits["monthly_runs"], now=now)
    if concurrent is not None and admitted:
        active = repo.active_runs(session, org_id)
        room = max(0, concurrent - active)
        if admitted > room:
            repo.add_to_month(session, org_id, month, room - admitted, None)  # give the excess back
            admitted = room
            refusal = RunQuotaExceeded(
                "Concurrent run limit reached",
                org_id=org_id,
                limit=concurrent,
                current_usage=active,
                reset_at=now + timedelta(seconds=CONCURRENT_RETRY_SECONDS),
            )
    return Admission(admitted, refusal)


def _within_month(
    session: Session, org_id: str, month: date, count: int, *, limit: int | None, now: datetime
) -> tuple[int, RunQuotaExceeded | None]:
    if repo.add_to_month(session, org_id, month, count, limit):
        return count, None
    assert limit is not None  # an unlimited counter always takes the runs
    used = repo.month_runs(session, org_id, month, lock=True) or 0
    room = max(0, min(count, limit - used))
    if room:
        repo.add_to_month(session, org_id, month, room, None)
    refusal = RunQuotaExceeded(
        "Monthly run quota exhausted",
        org_id=org_id,
        limit=limit,
        current_usage=used + room,
        reset_at=reset_at(now),
    )
    return room, refusal


def admit_requeue(session: Session, *, org_id: str, now: datetime) -> None:
    """A run already counted goes back to the queue at a member's request (`POST /runs/{id}/retry`):
    not a new run for the monthly count, but one more active run, checked against the concurrent
    limit after taking the org's counter row as creations do. Raises `RunQuotaExceeded`."""
    concurrent = _org_limits.get(session, org_id)["concurrent_runs"]
    if concurrent is None:
        return
    repo.add_to_month(session, org_id, month_of(now), 0, None)  # the row's lock, nothing added
    active = repo.active_runs(session, org_id)
    if active >= concurrent:
        raise RunQuotaExceeded(
            "Concurrent run limit reached",
            org_id=org_id,
            limit=concurrent,
            current_usage=active,
            reset_at=now + timedelta(seconds=CONCURRENT_RETRY_SECONDS),
        )


def give_back(session: Session, *, org_id: str, count: int, now: datetime) -> None:
    """Runs counted by `admit_runs` that were not created after all."""
    repo.add_to_month(session, org_id, month_of(now), -count, None)


def monthly_runs(session: Session, org_id: str, now: datetime) -> int | None:
    """Runs the org created (to execute) this month: the counter, exact; None when the org has no
    counter this month (it has had no limit to enforce)."""
    return repo.month_runs(session, org_id, month_of(now))


def limits_changed(session: Session, org_id: str, now: datetime) -> None:
    """The org's plan or overrides changed: its counter of this month starts again from its runs
    when it is next needed (it was not kept while the org had no limit), and this process reads
    its limits again once the change is committed."""
    repo.forget_month(session, org_id, month_of(now))
    _org_limits.forget(org_id)
    event.listen(session, "after_commit", lambda _session: _org_limits.forget(org_id), once=True)


class _OrgLimits:
    """Each org's limits (plan and overrides) as this process last read them, for
    `LIMITS_CACHE_SECONDS`: a trigger then pays no lookup of its org. A change made in this process
    is seen at once; one made by another server process within that time. The counts the limits
    are checked against are never cached."""

    def __init__(self) -> None:
        self._limits: dict[str, tuple[float, dict[str, int | None]]] = {}

    def get(self, session: Session, org_id: str) -> dict[str, int | None]:
        now = time.monotonic()
        cached = self._limits.get(org_id)
        if cached is not None and now - cached[0] < LIMITS_CACHE_SECONDS:
            return cached[1]
        found = repo.org_plan(session, org_id)
        plan, overrides = found if found is not None else (DEFAULT_PLAN, {})
        limits = limits_of(plan, overrides)
        if len(self._limits) >= _MAX_CACHED_ORGS:
            self._limits.clear()
        self._limits[org_id] = (now, limits)
        return limits

    def forget(self, org_id: str) -> None:
        self._limits.pop(org_id, None)


LIMITS_CACHE_SECONDS = 5.0
_MAX_CACHED_ORGS = 10_000
_org_limits = _OrgLimits()

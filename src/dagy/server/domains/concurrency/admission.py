"""Which of the queued runs a claim looked at may start under their concurrency limits
(docs/concurrency.md, "How a claim applies limits").

The claim locks queued runs in queue order, then asks the `Gate`, in the same transaction, which of
them fit. The gate finds the limits each run falls under (its flow's, its deployment's, every pool
whose tags or node types it matches), locks those limits with `FOR UPDATE SKIP LOCKED`, counts the
slots running runs hold (the claim's own runs included as it admits them) and writes a slot per
admitted run and limit. Nothing is kept in memory between claims, so any number of API processes
enforce one count.

The limits of the first window of runs are locked in id order, waiting for a claim that holds one
(it commits in milliseconds); those first met in a later window are skipped when another claim
holds them (busy: their runs are passed over this time, and that claim, which sees the count,
decides for them), so no claim waits while holding a lock taken out of order, and claims cannot
deadlock. A run that finds a limit full is passed over
(`enqueue`), or refused (`cancel_new`, `fail`: the strictest of its full limits decides), which the
claim carries out through orchestration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.models import ConcurrencyLimit, FlowVersion, Run
from dagy.server.domains.concurrency import repository as repo
from dagy.server.domains.concurrency.schemas import CollisionStrategy, LimitKind
from dagy.server.orchestration import CONCURRENCY_LIMIT

# The order in which a full limit's strategy wins over another's.
_STRICTNESS = (CollisionStrategy.ENQUEUE, CollisionStrategy.CANCEL_NEW, CollisionStrategy.FAIL)


@dataclass(frozen=True)
class Refusal:
    """A run the claim must end instead of starting: `strategy` is cancel_new or fail."""

    run: Run
    strategy: CollisionStrategy
    limit: ConcurrencyLimit

    @property
    def error(self) -> dict[str, Any]:
        kind = LimitKind(self.limit.kind).value[:-1]
        return {
            "type": CONCURRENCY_LIMIT,
            "message": (
                f"The {kind} {self.limit.name} already runs {self.limit.slots} "
                f"run{'s' if self.limit.slots != 1 else ''} at once (collision_strategy {self.strategy})."
            ),
            "limit": {"kind": self.limit.kind, "name": self.limit.name, "slots": self.limit.slots},
        }


@dataclass
class Verdict:
    admitted: list[Run] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


class Gate:
    """The concurrency limits of one claim's transaction.

    Tentative admission (PostgreSQL): a limit's lock is held from the moment it is taken to the
    claim's commit, and the claim spends most of its time after admission, starting its runs. So
    when every run of the first window fits on the limits' unlocked counts, the gate admits them
    tentatively; the claim starts them under a savepoint, then `confirm()` locks the limits and
    counts again. If the runs still fit (the rule when limits are far from full), their slots are
    written and the locks are held only for that; if not (another claim took slots meanwhile), the
    claim rolls back to the savepoint and admits again on the locked counts. A window in which a
    run does not fit is decided on locked counts at once: passing over and refusing runs never rest
    on an unlocked count.
    """

    def __init__(self, session: Session, *, now: datetime) -> None:
        self._session = session
        self._now = now
        self._limits: dict[str, list[ConcurrencyLimit]] = {}  # by org id; loaded once per org
        self._counts: dict[str, int] = {}  # locked limits: slots held
        self._busy: set[str] = set()  # limits another claim holds
        self._may_guess = repo.locks_rows(session)
        self._unlocked: dict[str, int] = {}  # slots held, as the limits were read (unlocked)
        self._pending: list[tuple[ConcurrencyLimit, str]] = []  # a tentative admission's slots

    @property
    def tentative(self) -> bool:
        """The runs admitted so far rest on unlocked counts: `confirm()` before committing."""
        return bool(self._pending)

    def admit(self, runs: Sequence[Run], versions: Mapping[str, FlowVersion], *, room: int) -> Verdict:
        """Up to `room` of `runs`, in their order, that fit their limits; and the runs refused."""
        self._load({run.org_id for run in runs})
        if not any(self._limits[run.org_id] for run in runs):
            return Verdict(admitted=list(runs[:room]))
        under = {run.id: self._limits_of(run, versions[run.flow_version_id]) for run in runs}
        needed = {limit.id for limits in under.values() for limit in limits}
        if self._may_guess and not self._counts and not self._busy:
            self._may_guess = False
            counts = {limit_id: self._unlocked[limit_id] for limit_id in needed}
            verdict, slots = _decide(runs, under, counts, set(), room)
            if not verdict.refused and len(verdict.admitted) == min(room, len(runs)):
                self._pending = slots
                return verdict
        self._lock(needed)
        verdict, slots = _decide(runs, under, self._counts, self._busy, room)
        repo.add_slots(self._session, [(limit.id, run_id) for limit, run_id in slots], now=self._now)
        return verdict

    def confirm(self) -> bool:
        """Lock the limits a tentative admission counted on and count again: True (and the slots
        written) when its runs still fit; False when they do not, and the claim must admit again."""
        taken: dict[str, int] = {}
        for limit, _ in self._pending:
            taken[limit.id] = taken.get(limit.id, 0) + 1
        self._lock(set(taken), wait=True, excluding={run_id for _, run_id in self._pending})
        limits = {limit.id: limit for limit, _ in self._pending}
        pending, self._pending = self._pending, []
        if any(self._counts[limit_id] + n > limits[limit_id].slots for limit_id, n in taken.items()):
            # The claim rolls back to its savepoint, and with it these locks: admitting again locks anew.
            self._counts.clear()
            self._busy.clear()
            return False
        repo.add_slots(self._session, [(limit.id, run_id) for limit, run_id in pending], now=self._now)
        for limit_id, n in taken.items():
            self._counts[limit_id] += n
        return True

    def _load(self, org_ids: set[str]) -> None:
        missing = org_ids - self._limits.keys()
        if not missing:
            return
        by_org: dict[str, list[ConcurrencyLimit]] = defaultdict(list)
        for limit, held in repo.limits_of_orgs(self._session, missing, with_held=self._may_guess):
            by_org[limit.org_id].append(limit)
            self._unlocked[limit.id] = held or 0
        self._limits.update({org_id: by_org.get(org_id, []) for org_id in missing})

    def _lock(
        self, limit_ids: set[str], *, wait: bool | None = None, excluding: Collection[str] = ()
    ) -> None:
        """Lock and count the limits not yet seen. The first ones are waited for, in id order (a
        claim holding one finishes in milliseconds); those first met further down the queue are
        skipped when another claim holds them, so a claim never waits while holding a lock taken
        out of order, and claims cannot deadlock."""
        new = sorted(limit_ids - self._counts.keys() - self._busy)
        if not new:
            return
        if wait is None:
            wait = not self._counts and not self._busy
        locked = repo.lock_limits(self._session, new, wait=wait)
        self._busy.update(set(new) - locked)
        self._counts.update(repo.count_slots(self._session, sorted(locked), excluding=excluding))

    def _limits_of(self, run: Run, version: FlowVersion) -> list[ConcurrencyLimit]:
        return [limit for limit in self._limits[run.org_id] if _applies(limit, run, version)]


def _decide(
    runs: Sequence[Run],
    under: Mapping[str, list[ConcurrencyLimit]],
    counts: dict[str, int],
    busy: set[str],
    room: int,
) -> tuple[Verdict, list[tuple[ConcurrencyLimit, str]]]:
    """Admit runs in order while each of their limits has room (`counts` grows with them), pass over
    those under a busy or full limit, refuse those whose full limits' strictest strategy says so."""
    verdict = Verdict()
    slots: list[tuple[ConcurrencyLimit, str]] = []
    for run in runs:
        if len(verdict.admitted) >= room:
            break
        limits = under[run.id]
        if any(limit.id in busy for limit in limits):
            continue
        full = [limit for limit in limits if counts[limit.id] >= limit.slots]
        if not full:
            verdict.admitted.append(run)
            for limit in limits:
                counts[limit.id] += 1
                slots.append((limit, run.id))
            continue
        strictest = max(
            full, key=lambda limit: _STRICTNESS.index(CollisionStrategy(limit.collision_strategy))
        )
        strategy = CollisionStrategy(strictest.collision_strategy)
        if strategy != CollisionStrategy.ENQUEUE:
            verdict.refused.append(Refusal(run=run, strategy=strategy, limit=strictest))
    return verdict, slots


def _applies(limit: ConcurrencyLimit, run: Run, version: FlowVersion) -> bool:
    if limit.kind == LimitKind.FLOWS:
        return limit.flow_id == run.flow_id
    if limit.kind == LimitKind.DEPLOYMENTS:
        return run.deployment_name is not None and limit.name == run.deployment_name
    return bool(set(limit.tags).intersection(run.tags or ())) or bool(
        set(limit.node_types).intersection(node_types(version))
    )


def node_types(version: FlowVersion) -> set[str]:
    """The types of a DAG flow version's nodes (none for a code flow)."""
    nodes = (version.flow_spec or {}).get("nodes") if isinstance(version.flow_spec, dict) else None
    return {
        node["type"] for node in nodes or () if isinstance(node, dict) and isinstance(node.get("type"), str)
    }

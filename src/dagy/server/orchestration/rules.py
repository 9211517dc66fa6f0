"""Run state rules: each one small class, one decision, applied in order by `policy.set_run_state`.

A rule sees a `Transition` (the run, where it is, where it is asked to go) when the transition
matches its `FROM_STATES`/`TO_STATES`. It may refuse (raise `InvalidInput`, or `Conflict` for a
retry of a run that has nothing to retry) or redirect the transition (a failed attempt with retries
left becomes `queued`). Rules decide; `policy` then writes the run's fields for the state finally
chosen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from dagy.server.db.models import Run
from dagy.server.errors import Conflict, InvalidInput
from dagy.server.orchestration.states import (
    ALL_RUN_STATES,
    INITIAL_RUN_STATES,
    LEGAL_RUN_TRANSITIONS,
    RETRYABLE_RUN_STATES,
    TERMINAL_RUN_STATES,
    RunState,
)

LEASE_EXPIRED = "lease_expired"
# A run whose worker vanished did not fail by itself, so it is re-queued at least this many times
# even when the run allows no retries (docs/runs.md, "Leases and the reaper").
MIN_LEASE_EXPIRY_RETRIES = 1
# A claim whose answer never reached its worker: the worker went away while the claim was answered,
# or its connection dropped the answer. The run's code never ran, so the attempt uses no retry; at
# most this many such attempts per run, so a worker that dies on every claim cannot loop forever.
CLAIM_NOT_DELIVERED = "claim_not_delivered"
MAX_UNDELIVERED_CLAIMS = 3
# A run a concurrency limit refused at its claim (collision_strategy cancel_new or fail).
CONCURRENCY_LIMIT = "concurrency_limit"
SECRET_NOT_FOUND = "secret_not_found"  # noqa: S105 - an error type, not a password
SECRET_UNREADABLE = "secret_unreadable"  # noqa: S105 - an error type, not a password
# An approval node's decision ended the run: a member rejected it, or its timeout did.
APPROVAL_REJECTED = "approval_rejected"
APPROVAL_TIMED_OUT = "approval_timed_out"
APPROVAL_FAILURES = frozenset({APPROVAL_REJECTED, APPROVAL_TIMED_OUT})
# Failures another attempt cannot heal: the run fails at once, whatever retries it has left.
PERMANENT_FAILURES = frozenset({SECRET_NOT_FOUND, SECRET_UNREADABLE}) | APPROVAL_FAILURES


@dataclass
class Transition:
    """One proposed state change and what comes with it."""

    run: Run
    initial: RunState | None
    proposed: RunState
    now: datetime
    output: Any = None
    error: dict[str, Any] | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    retried: bool = False  # set by a retry rule: the failed attempt goes back to the queue
    requested: bool = False  # a member asked for it (`POST /runs/{id}/retry`), not a worker or the reaper

    @property
    def requested_retry(self) -> bool:
        """A member sends a run that failed or was cancelled back to the queue."""
        return self.requested and self.proposed == RunState.QUEUED and self.initial in RETRYABLE_RUN_STATES


class RunRule(ABC):
    FROM_STATES: ClassVar[frozenset[RunState | None]] = frozenset()
    TO_STATES: ClassVar[frozenset[RunState]] = frozenset()

    def applies(self, transition: Transition) -> bool:
        return transition.initial in self.FROM_STATES and transition.proposed in self.TO_STATES

    @abstractmethod
    def apply(self, transition: Transition) -> None:
        """Refuse (raise) or redirect `transition`."""


class OnlyNewRunsStartQueued(RunRule):
    """A run is born queued (or pending, recorded without being dispatched) and nothing else: every
    run that executes goes through the queue, so every run is claimed, leased and reaped the same way."""

    FROM_STATES = frozenset({None})
    TO_STATES = ALL_RUN_STATES

    def apply(self, transition: Transition) -> None:
        if transition.proposed not in INITIAL_RUN_STATES:
            raise InvalidInput(f"A new run starts queued or pending, not {transition.proposed}.")


class RetryUnfinishedRunsOnRequest(RunRule):
    """A member may send a run that failed or was cancelled back to the queue: its next attempt
    resumes after the nodes earlier attempts completed. A completed run is not retried (its result
    stands; a rerun is a new run), and a pending, queued or running one has nothing to retry: 409.
    The re-queue is a retry like the automatic ones (`retry_count + 1`, an `on_retry` event that
    carries the error the run ended with), so `retry_count` keeps counting every attempt re-queued."""

    FROM_STATES = ALL_RUN_STATES
    TO_STATES = frozenset({RunState.QUEUED})

    def applies(self, transition: Transition) -> bool:
        return transition.requested and super().applies(transition)

    def apply(self, transition: Transition) -> None:
        if transition.initial not in RETRYABLE_RUN_STATES:
            raise Conflict(
                f"A {transition.initial} run cannot be retried; only a failed or cancelled run can.",
                details={"status": str(transition.initial)},
            )
        # A run cancelled before any attempt spent nothing: it goes back without using a retry.
        transition.retried = transition.run.attempt > 0
        transition.error = transition.run.error


class KeepTerminalStatesTerminal(RunRule):
    """A finished run is history: users, alerts and billing have seen its outcome, and a worker that
    returns late must not rewrite it. The one way out is a member's retry of a run that did not
    complete (`RetryUnfinishedRunsOnRequest`)."""

    FROM_STATES = frozenset(TERMINAL_RUN_STATES)
    TO_STATES = ALL_RUN_STATES

    def applies(self, transition: Transition) -> bool:
        return super().applies(transition) and not transition.requested_retry

    def apply(self, transition: Transition) -> None:
        raise InvalidInput(
            f"Run is already {transition.initial}; it cannot become {transition.proposed}.",
            details={"status": str(transition.initial)},
        )


class FollowTheStateMachine(RunRule):
    """Only the edges of the state machine exist: a queued run cannot complete without having been
    claimed, a running run cannot be claimed twice, a pending run can only be cancelled."""

    FROM_STATES = frozenset(LEGAL_RUN_TRANSITIONS)
    TO_STATES = ALL_RUN_STATES

    def apply(self, transition: Transition) -> None:
        assert transition.initial is not None
        if transition.proposed not in LEGAL_RUN_TRANSITIONS[transition.initial]:
            raise InvalidInput(
                f"A {transition.initial} run cannot become {transition.proposed}.",
                details={"status": str(transition.initial)},
            )


class OnlyConcurrencyLimitsFailQueuedRuns(RunRule):
    """A queued run ran nothing, so nothing it did can fail: it fails without being claimed only when
    a concurrency limit with `collision_strategy: fail` refuses it (docs/concurrency.md)."""

    FROM_STATES = frozenset({RunState.QUEUED})
    TO_STATES = frozenset({RunState.FAILED})

    def apply(self, transition: Transition) -> None:
        if (transition.error or {}).get("type") != CONCURRENCY_LIMIT:
            raise InvalidInput(
                "A queued run cannot fail before it runs.", details={"status": str(transition.initial)}
            )


class MoveWaitingRunsOnlyByTheirDecision(RunRule):
    """A run waiting for a decision (an approval node's) has no attempt executing it: nothing can
    complete it, and it fails only by the decision (a rejection, or its timeout's). An approval
    sends it back to the queue, which is no retry: its next attempt resumes after the nodes it
    completed, and `retry_count` stays. A cancel ends it as it ends any run."""

    FROM_STATES = frozenset({RunState.RUNNING})
    TO_STATES = frozenset({RunState.QUEUED, RunState.COMPLETED, RunState.FAILED})

    def applies(self, transition: Transition) -> bool:
        return super().applies(transition) and transition.run.waiting_for is not None

    def apply(self, transition: Transition) -> None:
        error_type = (transition.error or {}).get("type")
        if transition.proposed == RunState.COMPLETED or (
            transition.proposed == RunState.FAILED and error_type not in APPROVAL_FAILURES
        ):
            raise InvalidInput(
                f"A run waiting for a decision cannot become {transition.proposed} but by that decision.",
                details={"status": str(transition.initial)},
            )
        transition.retried = False


class RequeueUndeliveredClaims(RunRule):
    """An attempt whose claim never reached its worker ran none of the run's code: it goes back to
    the queue without using one of the run's retries (up to `MAX_UNDELIVERED_CLAIMS` times)."""

    FROM_STATES = frozenset({RunState.RUNNING})
    TO_STATES = frozenset({RunState.FAILED})

    def applies(self, transition: Transition) -> bool:
        error_type = (transition.error or {}).get("type")
        return super().applies(transition) and error_type == CLAIM_NOT_DELIVERED

    def apply(self, transition: Transition) -> None:
        run = transition.run
        earlier_undelivered = run.attempt - 1 - run.retry_count
        if earlier_undelivered < MAX_UNDELIVERED_CLAIMS:
            transition.proposed = RunState.QUEUED


class RequeueExpiredLeases(RunRule):
    """A lease that expired means the worker died or lost the network, not that the flow failed: the
    run goes back to the queue, at least once even when it allows no retries."""

    FROM_STATES = frozenset({RunState.RUNNING})
    TO_STATES = frozenset({RunState.FAILED})

    def applies(self, transition: Transition) -> bool:
        error_type = (transition.error or {}).get("type")
        return super().applies(transition) and error_type == LEASE_EXPIRED

    def apply(self, transition: Transition) -> None:
        run = transition.run
        if run.retry_count < max(run.max_retries, MIN_LEASE_EXPIRY_RETRIES):
            transition.proposed = RunState.QUEUED
            transition.retried = True


class RetryFailedAttempts(RunRule):
    """A failed attempt with retries left goes back to the queue: transient failures (a flaky API,
    a restarted database) heal without anyone pressing a button. A permanent failure (a secret the
    flow names does not exist) is not retried: every attempt would fail the same way, and each
    would take a worker's slot for nothing."""

    FROM_STATES = frozenset({RunState.RUNNING})
    TO_STATES = frozenset({RunState.FAILED})

    def applies(self, transition: Transition) -> bool:
        error_type = (transition.error or {}).get("type")
        return super().applies(transition) and error_type not in PERMANENT_FAILURES

    def apply(self, transition: Transition) -> None:
        run = transition.run
        if run.retry_count < run.max_retries:
            transition.proposed = RunState.QUEUED
            transition.retried = True


# Order matters: refusals first, then the rules that redirect a failure back to the queue. A member's
# retry is decided before the finished states are kept finished.
RUN_POLICY: tuple[RunRule, ...] = (
    OnlyNewRunsStartQueued(),
    RetryUnfinishedRunsOnRequest(),
    KeepTerminalStatesTerminal(),
    FollowTheStateMachine(),
    OnlyConcurrencyLimitsFailQueuedRuns(),
    MoveWaitingRunsOnlyByTheirDecision(),
    RequeueUndeliveredClaims(),
    RequeueExpiredLeases(),
    RetryFailedAttempts(),
)

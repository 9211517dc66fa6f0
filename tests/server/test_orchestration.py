"""The run state machine without HTTP: each rule of the orchestration policy on `Run` rows built by
hand (what it allows, refuses with `InvalidInput`, or redirects), the fields `set_run_state` writes
for the state a run ends in, and `advance_node_run` for a worker's node reports.

`set_run_state` is given a real session on the test database; it never flushes or commits, so the
hand-made runs need no org or flow around them, and every test rolls its session back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from dagy.server.db.models import Run, RunEvent
from dagy.server.errors import Conflict, InvalidInput
from dagy.server.orchestration import (
    CLAIM_NOT_DELIVERED,
    LEASE_EXPIRED,
    ON_RETRY,
    SECRET_NOT_FOUND,
    SECRET_UNREADABLE,
    TERMINAL_NODE_RUN_STATES,
    TERMINAL_RUN_STATES,
    NodeRunState,
    RunQueueSignal,
    RunState,
    advance_node_run,
    set_run_state,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLAIMED_AT = NOW - timedelta(minutes=5)
LEASE_UNTIL = NOW + timedelta(seconds=30)
CRASH = {"type": "exception", "message": "ValueError: bad input"}
EXPIRED = {"type": LEASE_EXPIRED, "message": "the worker stopped renewing its lease"}


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(database_url)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def new_run(**fields: Any) -> Run:
    """A run as the trigger builds it before its first state: no status yet, nothing attempted."""
    values: dict[str, Any] = {
        "id": "run_orchestration",
        "org_id": "org_orchestration",
        "flow_id": "flow_orchestration",
        "flow_version_id": "fv_orchestration",
        "flow_name": "etl",
        "flow_version": "1",
        "run_slug": "etl-1",
        "status": None,
        "executor": "local",
        "parameters": {},
        "output": None,
        "error": None,
        "retry_count": 0,
        "max_retries": 0,
        "attempt": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "started_at": None,
        "completed_at": None,
        "cancelled_at": None,
    }
    return Run(**(values | fields))


def run_in(status: RunState, **fields: Any) -> Run:
    """A run in `status`, with the fields that state has: a running run holds worker w1's lease on
    its first attempt; a finished one has its completion time."""
    values: dict[str, Any] = {"status": str(status)}
    if status == RunState.RUNNING:
        values |= {
            "attempt": 1,
            "lease_owner": "w1",
            "lease_expires_at": LEASE_UNTIL,
            "started_at": CLAIMED_AT,
        }
    if status in TERMINAL_RUN_STATES:
        values |= {"attempt": 1, "lease_owner": "w1", "started_at": CLAIMED_AT, "completed_at": CLAIMED_AT}
    return new_run(**(values | fields))


def fields_of(run: Run) -> dict[str, Any]:
    names = (
        "status",
        "output",
        "error",
        "retry_count",
        "attempt",
        "lease_owner",
        "lease_expires_at",
        "cancel_requested",
        "started_at",
        "completed_at",
        "cancelled_at",
    )
    return {name: getattr(run, name) for name in names}


def retry_events(session: Session) -> list[RunEvent]:
    return [row for row in session.new if isinstance(row, RunEvent)]


def refused(session: Session, run: Run, proposed: RunState, **changes: Any) -> InvalidInput:
    """`set_run_state` refuses the transition and writes nothing to the run or the session."""
    before = fields_of(run)
    with pytest.raises(InvalidInput) as caught:
        set_run_state(session, run, proposed, now=NOW, **changes)
    assert fields_of(run) == before
    assert not session.new
    return caught.value


# --- OnlyNewRunsStartQueued -------------------------------------------------------------------


def test_a_new_run_is_born_queued_as_it_was_built(session: Session) -> None:
    run = new_run()
    assert set_run_state(session, run, RunState.QUEUED, now=NOW) == RunState.QUEUED
    assert fields_of(run) == fields_of(new_run()) | {"status": "queued"}
    assert retry_events(session) == []


def test_a_new_run_may_be_born_pending(session: Session) -> None:
    run = new_run()
    assert set_run_state(session, run, RunState.PENDING, now=NOW) == RunState.PENDING
    assert fields_of(run) == fields_of(new_run()) | {"status": "pending"}


@pytest.mark.parametrize(
    "proposed", [RunState.RUNNING, RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED]
)
def test_a_new_run_starts_nowhere_but_the_queue(session: Session, proposed: RunState) -> None:
    error = refused(session, new_run(), proposed, lease_owner="w1", lease_expires_at=LEASE_UNTIL)
    assert error.message == f"A new run starts queued or pending, not {proposed}."


# --- KeepTerminalStatesTerminal ---------------------------------------------------------------


@pytest.mark.parametrize("terminal", sorted(TERMINAL_RUN_STATES))
@pytest.mark.parametrize("proposed", list(RunState))
def test_a_finished_run_never_changes(session: Session, terminal: RunState, proposed: RunState) -> None:
    run = run_in(terminal, output={"rows": 3})
    error = refused(
        session, run, proposed, output={"rows": 4}, lease_owner="w2", lease_expires_at=LEASE_UNTIL
    )
    assert error.message == f"Run is already {terminal}; it cannot become {proposed}."
    assert error.details == {"status": str(terminal)}


def test_a_late_lease_expiry_does_not_requeue_a_finished_run(session: Session) -> None:
    """The refusal comes before the retry rules: a completed run with retries left stays completed."""
    run = run_in(RunState.COMPLETED, max_retries=3)
    refused(session, run, RunState.FAILED, error=EXPIRED)


# --- FollowTheStateMachine --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("initial", "proposed"),
    [
        (RunState.PENDING, RunState.CANCELLED),
        (RunState.QUEUED, RunState.RUNNING),
        (RunState.QUEUED, RunState.CANCELLED),
        (RunState.RUNNING, RunState.QUEUED),
        (RunState.RUNNING, RunState.COMPLETED),
        (RunState.RUNNING, RunState.FAILED),
        (RunState.RUNNING, RunState.CANCELLED),
    ],
)
def test_the_edges_of_the_state_machine_are_allowed(
    session: Session, initial: RunState, proposed: RunState
) -> None:
    run = run_in(initial)
    ended = set_run_state(session, run, proposed, now=NOW, lease_owner="w2", lease_expires_at=LEASE_UNTIL)
    assert ended == proposed and run.status == proposed


@pytest.mark.parametrize(
    ("initial", "proposed"),
    [
        (RunState.PENDING, RunState.PENDING),
        (RunState.PENDING, RunState.QUEUED),  # a recorded run is never dispatched
        (RunState.PENDING, RunState.RUNNING),
        (RunState.PENDING, RunState.COMPLETED),
        (RunState.PENDING, RunState.FAILED),
        (RunState.QUEUED, RunState.PENDING),
        (RunState.QUEUED, RunState.QUEUED),
        (RunState.QUEUED, RunState.COMPLETED),  # not without having been claimed
        (RunState.RUNNING, RunState.PENDING),
        (RunState.RUNNING, RunState.RUNNING),  # never claimed twice
    ],
)
def test_anything_off_the_edges_is_refused(session: Session, initial: RunState, proposed: RunState) -> None:
    run = run_in(initial)
    error = refused(session, run, proposed, lease_owner="w2", lease_expires_at=LEASE_UNTIL)
    assert error.message == f"A {initial} run cannot become {proposed}."
    assert error.details == {"status": str(initial)}


# --- OnlyConcurrencyLimitsFailQueuedRuns -------------------------------------------------------

LIMIT_FULL = {"type": "concurrency_limit", "message": "The flow f already runs 1 run at once."}


def test_a_queued_run_fails_only_for_a_concurrency_limit(session: Session) -> None:
    error = refused(session, run_in(RunState.QUEUED), RunState.FAILED, error={"type": "crashed"})
    assert error.message == "A queued run cannot fail before it runs."
    assert error.details == {"status": "queued"}
    run = run_in(RunState.QUEUED, max_retries=3)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=LIMIT_FULL) == RunState.FAILED
    assert (run.error, run.completed_at, run.retry_count, run.attempt) == (LIMIT_FULL, NOW, 0, 0)


def test_a_cancel_keeps_the_reason_it_is_given(session: Session) -> None:
    run = run_in(RunState.QUEUED)
    set_run_state(session, run, RunState.CANCELLED, now=NOW, error=LIMIT_FULL)
    assert (run.status, run.error, run.cancelled_at) == ("cancelled", LIMIT_FULL, NOW)


@pytest.mark.parametrize("missing", ["lease_owner", "lease_expires_at"])
def test_a_run_starts_running_only_under_a_lease(session: Session, missing: str) -> None:
    lease: dict[str, Any] = {"lease_owner": "w1", "lease_expires_at": LEASE_UNTIL}
    error = refused(session, run_in(RunState.QUEUED), RunState.RUNNING, **(lease | {missing: None}))
    assert error.message == "A run starts running only under a worker's lease."


# --- RequeueExpiredLeases ---------------------------------------------------------------------


def test_a_lease_expiry_requeues_once_even_without_retries(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=0)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=EXPIRED) == RunState.QUEUED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING)) | {
        "status": "queued",
        "retry_count": 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "error": EXPIRED,
    }
    [event] = retry_events(session)
    assert (event.type, event.run_id, event.org_id, event.node_id) == (ON_RETRY, run.id, run.org_id, None)
    assert (event.payload, event.created_at) == ({"attempt": 1, "retry_count": 1, "error": EXPIRED}, NOW)


def test_a_second_lease_expiry_without_retries_fails_the_run(session: Session) -> None:
    run = run_in(RunState.RUNNING, attempt=2, retry_count=1, max_retries=0)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=EXPIRED) == RunState.FAILED
    assert (run.status, run.error, run.retry_count, run.completed_at) == ("failed", EXPIRED, 1, NOW)
    assert retry_events(session) == []


@pytest.mark.parametrize(("retry_count", "ended"), [(2, RunState.QUEUED), (3, RunState.FAILED)])
def test_a_lease_expiry_spends_the_runs_own_retries_when_it_has_more(
    session: Session, retry_count: int, ended: RunState
) -> None:
    run = run_in(RunState.RUNNING, attempt=retry_count + 1, retry_count=retry_count, max_retries=3)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=EXPIRED) == ended
    assert run.retry_count == (retry_count + 1 if ended == RunState.QUEUED else retry_count)


def test_a_lease_expiry_spends_one_retry_not_two(session: Session) -> None:
    """Both retry rules match a failed running run; once one re-queued it, the other stands aside."""
    run = run_in(RunState.RUNNING, max_retries=5)
    set_run_state(session, run, RunState.FAILED, now=NOW, error=EXPIRED)
    assert (run.status, run.retry_count, len(retry_events(session))) == ("queued", 1, 1)


# --- RequeueUndeliveredClaims -----------------------------------------------------------------

UNDELIVERED = {"type": CLAIM_NOT_DELIVERED, "message": "the claim never reached its worker"}


def test_an_undelivered_claim_goes_back_to_the_queue_without_using_a_retry(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=0)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=UNDELIVERED) == RunState.QUEUED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING)) | {
        "status": "queued",
        "retry_count": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "error": UNDELIVERED,
    }
    assert retry_events(session) == []


def test_undelivered_claims_are_free_three_times_then_count_as_failures(session: Session) -> None:
    """Attempt 4 follows three free re-queues: its loss spends a retry, and without one it fails."""
    with_retry = run_in(RunState.RUNNING, attempt=4, retry_count=0, max_retries=1)
    assert set_run_state(session, with_retry, RunState.FAILED, now=NOW, error=UNDELIVERED) == RunState.QUEUED
    assert with_retry.retry_count == 1
    without = run_in(RunState.RUNNING, attempt=4, retry_count=0, max_retries=0)
    assert set_run_state(session, without, RunState.FAILED, now=NOW, error=UNDELIVERED) == RunState.FAILED
    assert (without.error, without.retry_count) == (UNDELIVERED, 0)


# --- RetryFailedAttempts ----------------------------------------------------------------------


def test_a_failed_attempt_with_retries_left_goes_back_to_the_queue(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=2)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=CRASH) == RunState.QUEUED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING)) | {
        "status": "queued",
        "retry_count": 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "error": CRASH,  # kept for whoever looks until the next attempt starts
    }
    [event] = retry_events(session)
    assert (event.type, event.payload) == (ON_RETRY, {"attempt": 1, "retry_count": 1, "error": CRASH})


@pytest.mark.parametrize(("retry_count", "max_retries"), [(0, 0), (2, 2)])
def test_a_failed_attempt_without_retries_left_fails_the_run(
    session: Session, retry_count: int, max_retries: int
) -> None:
    run = run_in(RunState.RUNNING, attempt=retry_count + 1, retry_count=retry_count, max_retries=max_retries)
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=CRASH) == RunState.FAILED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING, attempt=retry_count + 1)) | {
        "status": "failed",
        "retry_count": retry_count,
        "error": CRASH,
        "completed_at": NOW,
        "lease_expires_at": None,  # the lease stops counting; its owner stays to flush its last logs
    }
    assert retry_events(session) == []


@pytest.mark.parametrize("permanent", [SECRET_NOT_FOUND, SECRET_UNREADABLE])
def test_a_permanent_failure_never_retries(session: Session, permanent: str) -> None:
    run = run_in(RunState.RUNNING, max_retries=3)
    error = {"type": permanent, "message": "secret 'db' not found"}
    assert set_run_state(session, run, RunState.FAILED, now=NOW, error=error) == RunState.FAILED
    assert (run.status, run.error, run.retry_count, run.completed_at) == ("failed", error, 0, NOW)
    assert retry_events(session) == []


def test_a_failure_without_an_error_is_retried_then_recorded_as_unknown(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=1)
    assert set_run_state(session, run, RunState.FAILED, now=NOW) == RunState.QUEUED
    assert (run.retry_count, run.error) == (1, None)
    run = run_in(RunState.RUNNING, attempt=2, retry_count=1, max_retries=1)
    assert set_run_state(session, run, RunState.FAILED, now=NOW) == RunState.FAILED
    assert run.error == {"type": "unknown", "message": "The run failed."}


# --- RetryUnfinishedRunsOnRequest ------------------------------------------------------------


def test_a_members_retry_sends_a_failed_run_back_to_the_queue_unfinished(session: Session) -> None:
    run = run_in(RunState.FAILED, attempt=3, retry_count=2, max_retries=2, error=CRASH, lease_owner="w1")
    ended = set_run_state(session, run, RunState.QUEUED, now=NOW, requested=True)
    assert ended == RunState.QUEUED
    assert fields_of(run) == fields_of(run_in(RunState.FAILED)) | {
        "status": "queued",
        "attempt": 3,  # the next claim starts attempt 4, which resumes after attempts 1-3's nodes
        "retry_count": 3,
        "lease_owner": None,
        "started_at": None,
        "completed_at": None,
    }
    [event] = retry_events(session)
    assert (event.type, event.payload) == (
        ON_RETRY,
        {"attempt": 3, "retry_count": 3, "error": CRASH, "requested": True},
    )


def test_a_retry_undoes_a_cancellation(session: Session) -> None:
    run = run_in(RunState.CANCELLED, cancel_requested=True, cancelled_at=CLAIMED_AT)
    set_run_state(session, run, RunState.QUEUED, now=NOW, requested=True)
    assert (run.status, run.cancel_requested, run.cancelled_at, run.retry_count) == ("queued", False, None, 1)


def test_a_run_cancelled_before_any_attempt_goes_back_without_using_a_retry(session: Session) -> None:
    run = run_in(RunState.CANCELLED, attempt=0, lease_owner=None, started_at=None, cancel_requested=True)
    set_run_state(session, run, RunState.QUEUED, now=NOW, requested=True)
    assert (run.status, run.retry_count, run.cancel_requested) == ("queued", 0, False)
    assert retry_events(session) == []


@pytest.mark.parametrize("initial", [RunState.COMPLETED, RunState.PENDING, RunState.QUEUED, RunState.RUNNING])
def test_only_a_run_that_ended_without_completing_is_retried(session: Session, initial: RunState) -> None:
    run = run_in(initial, output={"rows": 3})
    before = fields_of(run)
    with pytest.raises(Conflict) as caught:
        set_run_state(session, run, RunState.QUEUED, now=NOW, requested=True)
    assert caught.value.message == f"A {initial} run cannot be retried; only a failed or cancelled run can."
    assert caught.value.details == {"status": str(initial)}
    assert fields_of(run) == before and not session.new


@pytest.mark.parametrize("proposed", [RunState.RUNNING, RunState.COMPLETED, RunState.CANCELLED])
def test_a_request_opens_no_other_way_out_of_a_finished_state(session: Session, proposed: RunState) -> None:
    run = run_in(RunState.FAILED, error=CRASH)
    error = refused(session, run, proposed, requested=True, lease_owner="w2", lease_expires_at=LEASE_UNTIL)
    assert error.message == f"Run is already failed; it cannot become {proposed}."


# --- the fields set_run_state writes ----------------------------------------------------------


def test_a_claim_starts_the_first_attempt_under_its_lease(session: Session) -> None:
    run = run_in(RunState.QUEUED)
    ended = set_run_state(
        session, run, RunState.RUNNING, now=NOW, lease_owner="w7", lease_expires_at=LEASE_UNTIL
    )
    assert ended == RunState.RUNNING
    assert fields_of(run) == fields_of(run_in(RunState.QUEUED)) | {
        "status": "running",
        "attempt": 1,
        "lease_owner": "w7",
        "lease_expires_at": LEASE_UNTIL,
        "started_at": NOW,
    }


def test_the_next_attempt_counts_on_keeps_the_first_start_and_clears_the_error(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=1)
    set_run_state(session, run, RunState.FAILED, now=NOW, error=CRASH)
    later = NOW + timedelta(minutes=1)
    set_run_state(session, run, RunState.RUNNING, now=later, lease_owner="w2", lease_expires_at=later)
    assert (run.status, run.attempt, run.retry_count) == ("running", 2, 1)
    assert (run.lease_owner, run.lease_expires_at, run.started_at, run.error) == (
        "w2",
        later,
        CLAIMED_AT,
        None,
    )


def test_completion_records_the_output_and_ends_the_lease(session: Session) -> None:
    run = run_in(RunState.RUNNING, error=CRASH)
    assert set_run_state(session, run, RunState.COMPLETED, now=NOW, output={"rows": 3}) == RunState.COMPLETED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING)) | {
        "status": "completed",
        "output": {"rows": 3},
        "error": None,
        "completed_at": NOW,
        "lease_expires_at": None,
    }


def test_cancelling_a_running_run_asks_its_worker_to_stop(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=3)
    assert set_run_state(session, run, RunState.CANCELLED, now=NOW) == RunState.CANCELLED
    assert fields_of(run) == fields_of(run_in(RunState.RUNNING)) | {
        "status": "cancelled",
        "cancel_requested": True,
        "cancelled_at": NOW,
        "completed_at": NOW,
        "lease_expires_at": None,
    }
    assert retry_events(session) == []


@pytest.mark.parametrize("initial", [RunState.QUEUED, RunState.PENDING])
def test_cancelling_a_run_no_worker_has_marks_it_the_same_way(session: Session, initial: RunState) -> None:
    run = run_in(initial)
    set_run_state(session, run, RunState.CANCELLED, now=NOW)
    assert fields_of(run) == fields_of(run_in(initial)) | {
        "status": "cancelled",
        "cancel_requested": True,
        "cancelled_at": NOW,
        "completed_at": NOW,
    }


def test_a_worker_may_hand_a_run_back_to_the_queue_without_spending_a_retry(session: Session) -> None:
    run = run_in(RunState.RUNNING, max_retries=0)
    assert set_run_state(session, run, RunState.QUEUED, now=NOW) == RunState.QUEUED
    assert (run.status, run.retry_count, run.lease_owner, run.lease_expires_at) == ("queued", 0, None, None)
    assert retry_events(session) == []


def test_a_run_entering_the_queue_wakes_the_claims_waiting_for_its_executor(
    sessions: sessionmaker[Session],
) -> None:
    """The wake-up goes with the commit: a run born queued wakes a claim waiting for its executor,
    a run born pending (never dispatched) wakes nobody."""
    signal = RunQueueSignal.attached_to(sessions)

    async def woken(run: Run, state: RunState) -> bool:
        with signal.listening(run.executor) as waiter:
            with sessions() as session:
                set_run_state(session, run, state, now=NOW)
                session.commit()
            return await waiter.wait(0.5)

    assert asyncio.run(woken(new_run(executor="gpu"), RunState.QUEUED))
    assert not asyncio.run(woken(new_run(executor="gpu"), RunState.PENDING))


# --- advance_node_run -------------------------------------------------------------------------


STARTED = NOW - timedelta(seconds=10)


def node_run(status: NodeRunState, **fields: Any) -> dict[str, Any]:
    """A node run's recorded fields, as the worker protocol reads them back."""
    recorded: dict[str, Any] = {
        "status": str(status),
        "tries": 1,
        "started_at": STARTED,
        "completed_at": None,
        "output": None,
        "error": None,
    }
    return recorded | fields


def test_a_first_report_records_the_node() -> None:
    assert advance_node_run(
        None, NodeRunState.RUNNING, tries=None, started_at=STARTED, completed_at=None
    ) == {
        "status": "running",
        "tries": 1,
        "started_at": STARTED,
        "completed_at": None,
        "output": None,
        "error": None,
    }


def test_a_node_that_finishes_keeps_its_start_and_its_tries_when_the_report_omits_them() -> None:
    current = node_run(NodeRunState.RETRYING, tries=2)
    assert advance_node_run(
        current, NodeRunState.COMPLETED, tries=None, started_at=NOW, completed_at=NOW, output={"rows": 3}
    ) == {
        "status": "completed",
        "tries": 2,
        "started_at": STARTED,
        "completed_at": NOW,
        "output": {"rows": 3},
        "error": None,
    }


def test_the_tries_a_report_gives_win_and_a_missing_start_is_filled() -> None:
    current = node_run(NodeRunState.RUNNING, started_at=None)
    fields = advance_node_run(
        current, NodeRunState.FAILED, tries=3, started_at=STARTED, completed_at=NOW, error=CRASH
    )
    assert fields == {
        "status": "failed",
        "tries": 3,
        "started_at": STARTED,
        "completed_at": NOW,
        "output": None,
        "error": CRASH,
    }


@pytest.mark.parametrize("proposed", [NodeRunState.RUNNING, NodeRunState.RETRYING])
def test_an_unfinished_node_has_no_completion_time(proposed: NodeRunState) -> None:
    fields = advance_node_run(
        node_run(NodeRunState.RUNNING), proposed, tries=2, started_at=None, completed_at=NOW
    )
    assert fields is not None
    assert (fields["status"], fields["tries"], fields["completed_at"]) == (str(proposed), 2, None)


@pytest.mark.parametrize("finished", sorted(TERMINAL_NODE_RUN_STATES))
@pytest.mark.parametrize("proposed", list(NodeRunState))
def test_a_finished_node_stays_finished(finished: NodeRunState, proposed: NodeRunState) -> None:
    """A repeated or late report is ignored (None: nothing to write), not refused."""
    current = node_run(finished, completed_at=STARTED, output={"first": True})
    assert (
        advance_node_run(
            current, proposed, tries=5, started_at=NOW, completed_at=NOW, output={"first": False}
        )
        is None
    )

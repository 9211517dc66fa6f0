"""The states a run and a node run can be in."""

from __future__ import annotations

from enum import StrEnum

from dagy.protocol import NodeRunState  # what a worker reports of a node: part of the wire contract


class RunState(StrEnum):
    PENDING = "pending"  # recorded with `execute: false`: never claimed, only cancelled
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_RUN_STATES: frozenset[RunState] = frozenset(
    {RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED}
)
ACTIVE_RUN_STATES: frozenset[RunState] = frozenset({RunState.QUEUED, RunState.RUNNING})
ALL_RUN_STATES: frozenset[RunState] = frozenset(RunState)
# The states a new run may be born in: queued for a worker, or pending (recorded, not dispatched).
INITIAL_RUN_STATES: frozenset[RunState] = frozenset({RunState.QUEUED, RunState.PENDING})

# The states a member may send back to the queue (`POST /runs/{id}/retry`): runs that ended without
# completing. A completed run's result stands; a new run of it is a rerun.
RETRYABLE_RUN_STATES: frozenset[RunState] = frozenset({RunState.FAILED, RunState.CANCELLED})

# The edges of the run state machine; anything else is an illegal transition (400).
LEGAL_RUN_TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.CANCELLED}),
    # Failed straight from the queue: only by a concurrency limit whose strategy is `fail`.
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.CANCELLED, RunState.FAILED}),
    RunState.RUNNING: frozenset({RunState.QUEUED, RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED}),
}


TERMINAL_NODE_RUN_STATES: frozenset[NodeRunState] = frozenset(
    {
        NodeRunState.COMPLETED,
        NodeRunState.FAILED,
        NodeRunState.SKIPPED,
        NodeRunState.CANCELLED,
        NodeRunState.ABANDONED,
    }
)
UNFINISHED_NODE_RUN_STATES: frozenset[NodeRunState] = frozenset(NodeRunState) - TERMINAL_NODE_RUN_STATES

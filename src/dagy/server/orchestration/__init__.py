"""Run state: the states, the ordered rules, and `set_run_state()`, the only writer of run status."""

from dagy.protocol import NodeRunState
from dagy.server.orchestration.alerts import (
    AlertTrigger,
    error_summary,
    record_alert_event,
    run_facts,
)
from dagy.server.orchestration.policy import (
    ON_RETRY,
    advance_node_run,
    extend_lease,
    hold_for_decision,
    set_run_state,
    unfinished_node_run_end,
)
from dagy.server.orchestration.rules import (
    APPROVAL_REJECTED,
    APPROVAL_TIMED_OUT,
    CLAIM_NOT_DELIVERED,
    CONCURRENCY_LIMIT,
    LEASE_EXPIRED,
    SECRET_NOT_FOUND,
    SECRET_UNREADABLE,
)
from dagy.server.orchestration.states import (
    ACTIVE_RUN_STATES,
    RETRYABLE_RUN_STATES,
    TERMINAL_NODE_RUN_STATES,
    TERMINAL_RUN_STATES,
    UNFINISHED_NODE_RUN_STATES,
    RunState,
)
from dagy.server.orchestration.wakeup import RunQueueSignal, listen_for_queued_runs

__all__ = [
    "ACTIVE_RUN_STATES",
    "APPROVAL_REJECTED",
    "APPROVAL_TIMED_OUT",
    "CLAIM_NOT_DELIVERED",
    "CONCURRENCY_LIMIT",
    "LEASE_EXPIRED",
    "ON_RETRY",
    "RETRYABLE_RUN_STATES",
    "SECRET_NOT_FOUND",
    "SECRET_UNREADABLE",
    "TERMINAL_NODE_RUN_STATES",
    "TERMINAL_RUN_STATES",
    "UNFINISHED_NODE_RUN_STATES",
    "AlertTrigger",
    "NodeRunState",
    "RunQueueSignal",
    "RunState",
    "advance_node_run",
    "error_summary",
    "extend_lease",
    "hold_for_decision",
    "listen_for_queued_runs",
    "record_alert_event",
    "run_facts",
    "set_run_state",
    "unfinished_node_run_end",
]

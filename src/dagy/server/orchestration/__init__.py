"""Run state: the states, the ordered rules, and `set_run_state()`, the only writer of run status."""

from dagy.server.orchestration.policy import set_node_run_state, set_run_state
from dagy.server.orchestration.rules import LEASE_EXPIRED
from dagy.server.orchestration.states import (
    ACTIVE_RUN_STATES,
    TERMINAL_NODE_RUN_STATES,
    TERMINAL_RUN_STATES,
    NodeRunState,
    RunState,
)
from dagy.server.orchestration.wakeup import RunQueueSignal

__all__ = [
    "ACTIVE_RUN_STATES",
    "LEASE_EXPIRED",
    "TERMINAL_NODE_RUN_STATES",
    "TERMINAL_RUN_STATES",
    "NodeRunState",
    "RunQueueSignal",
    "RunState",
    "set_node_run_state",
    "set_run_state",
]

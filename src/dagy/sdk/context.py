"""Where the SDK keeps "the current run": context variables, so threads and nested calls each see
their own flow run and task run.

`hooks` is how the runtime listens: it opens `listening(...)` around the flow call, and the flow
run started inside takes the run id and the task-run callback from it. Locally nothing listens and
the hot path pays one `None` check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagy.sdk.records import FlowRun, TaskRun

# Called with a task run and the state it just entered: running, retrying, completed, failed, skipped.
TaskRunListener = Callable[["TaskRun", str], None]

current_flow_run: ContextVar[FlowRun[Any] | None] = ContextVar("dagy_flow_run", default=None)
current_task_run: ContextVar[TaskRun | None] = ContextVar("dagy_task_run", default=None)


class RunHooks:
    """What a host (the runtime on a worker) gives the next top-level flow run. (A plain class: a
    dataclass would load `dataclasses` and `inspect`, a third of the SDK's import time.)"""

    __slots__ = ("on_task_run", "run_id")

    def __init__(self, run_id: str, on_task_run: TaskRunListener) -> None:
        self.run_id = run_id
        self.on_task_run = on_task_run


current_hooks: ContextVar[RunHooks | None] = ContextVar("dagy_run_hooks", default=None)


@contextmanager
def listening(run_id: str, on_task_run: TaskRunListener) -> Iterator[None]:
    """Flow runs started inside take `run_id` as their id and report every task run's state changes
    to `on_task_run` (called from the thread the task runs in; it must be thread-safe)."""
    token = current_hooks.set(RunHooks(run_id=run_id, on_task_run=on_task_run))
    try:
        yield
    finally:
        current_hooks.reset(token)

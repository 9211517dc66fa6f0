"""What a flow run and its task runs leave behind: plain records, cheap to make.

Times are `time.time()` floats (seconds since the epoch): formatting a date costs more than a
trivial task, so it happens only when someone reads it (`started`, the runtime's events).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from dagy.sdk.context import TaskRunListener
    from dagy.sdk.futures import TaskFuture

R = TypeVar("R")

RUNNING = "running"
RETRYING = "retrying"
COMPLETED = "completed"
FAILED = "failed"
SKIPPED = "skipped"


def _as_datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


class _Timed:
    """`started_at`/`ended_at` floats, read as a duration or as datetimes."""

    __slots__ = ()
    started_at: float | None
    ended_at: float | None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def started(self) -> datetime | None:
        return _as_datetime(self.started_at)

    @property
    def ended(self) -> datetime | None:
        return _as_datetime(self.ended_at)


class TaskRun(_Timed):
    """One call of a task inside a flow run: `name` is `<task name>-<n>`, n counting that task's runs
    in this flow run from 1 (in call order, or submission order for `submit`/`map`)."""

    __slots__ = (
        "cached",
        "ended_at",
        "exception",
        "name",
        "result",
        "retry_in_seconds",
        "started_at",
        "status",
        "task_name",
        "tries",
    )

    def __init__(self, name: str, task_name: str) -> None:
        self.name = name
        self.task_name = task_name
        self.status = RUNNING
        self.tries = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.result: Any = None
        self.exception: BaseException | None = None
        self.cached = False  # the result came from the flow run's cache (`cache_key_fn`)
        self.retry_in_seconds = 0.0  # while retrying: the wait before the next try

    def __repr__(self) -> str:
        return f"TaskRun(name={self.name!r}, status={self.status!r}, tries={self.tries})"


class FlowRun(_Timed, Generic[R]):
    """One call of a flow: its task runs (in the order they started), its outcome, and the state the
    tasks share while it runs (counters, cache, the thread pool of submitted tasks)."""

    def __init__(
        self,
        *,
        run_id: str,
        flow_name: str,
        flow_version: str | None,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        listener: TaskRunListener | None,
        prefix: str,
        max_workers: int,
    ) -> None:
        self.id = run_id
        self.flow_name = flow_name
        self.flow_version = flow_version
        self.status = RUNNING
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.task_runs: list[TaskRun] = []
        self.return_value: R | None = None
        self.exception: BaseException | None = None
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        # Engine state, shared by the tasks of this run (`dagy.sdk.engine`).
        self.listener = listener
        self.prefix = prefix  # a subflow's task runs are named `<subflow>-<n>/<task>-<m>`
        self.max_workers = max_workers
        self.counters: dict[object, itertools.count[int]] = {}
        self.cache: dict[tuple[object, Any], Any] = {}
        self.futures: list[TaskFuture[Any]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.lock = threading.Lock()

    @property
    def parameters(self) -> dict[str, Any]:
        """The flow function's arguments by parameter name."""
        import inspect  # noqa: PLC0415 - only when someone asks; it is a slow import

        bound = inspect.signature(self._fn).bind(*self._args, **self._kwargs)
        return dict(bound.arguments)

    @property
    def failed_task_run(self) -> TaskRun | None:
        """The task run whose exception failed this flow run (directly, or as the cause or context of
        the exception the flow raised); None when the flow's own code failed, or nothing did."""
        seen: set[int] = set()
        exc = self.exception
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            for task_run in reversed(self.task_runs):
                if task_run.exception is exc and task_run.status == FAILED:
                    return task_run
            exc = exc.__cause__ or exc.__context__
        return None

    def result(self) -> R:
        """The flow's return value, or its exception raised again."""
        if self.exception is not None:
            raise self.exception
        return self.return_value  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (
            f"FlowRun(id={self.id!r}, flow_name={self.flow_name!r}, status={self.status!r}, "
            f"task_runs={len(self.task_runs)})"
        )

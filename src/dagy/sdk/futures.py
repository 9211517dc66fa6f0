"""`TaskFuture`: the handle `task.submit()` and `task.map()` return.

A future wraps a `concurrent.futures.Future`. A submitted task whose arguments hold futures is
queued on the pool only once those are done (a callback counts them down), so no pool thread ever
blocks waiting for another task: a flow cannot deadlock its own pool by passing futures around.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

    from dagy.sdk.records import TaskRun

R = TypeVar("R")


class TaskFuture(Generic[R]):
    """The result-to-be of one submitted task run.

    A failure is *handled* once `result()` raised it, `exception()` returned it, or a task that took
    this future as an argument consumed it. When a flow function returns while a submitted task's
    failure is unhandled, the flow run fails with that exception: errors never vanish silently.
    """

    __slots__ = ("_inner", "handled", "task_run")

    def __init__(self, task_run: TaskRun, inner: Future[R]) -> None:
        self.task_run = task_run
        self._inner = inner
        self.handled = False

    @property
    def name(self) -> str:
        """The task run's name, `<task name>-<n>`."""
        return self.task_run.name

    def result(self, timeout: float | None = None) -> R:
        """Wait for the task run and return its result, or raise its exception (`TimeoutError` when
        `timeout` seconds pass first)."""
        try:
            return self._inner.result(timeout)
        except BaseException:
            if self._inner.done():
                self.handled = True
            raise

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait for the task run and return its exception, None when it succeeded."""
        exc = self._inner.exception(timeout)
        self.handled = True
        return exc

    def done(self) -> bool:
        return self._inner.done()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the task run finished (or `timeout` passed); True when it did. Never raises the
        task's exception."""
        from concurrent.futures import wait  # noqa: PLC0415 - loaded with the pool, on first submit

        done, _ = wait([self._inner], timeout)
        return bool(done)

    def add_done_callback(self, callback: Any) -> None:
        """Call `callback(self)` once the task run finished (at once when it already has)."""
        self._inner.add_done_callback(lambda _inner: callback(self))

    def __repr__(self) -> str:
        state = "done" if self._inner.done() else "pending"
        return f"TaskFuture(name={self.name!r}, {state})"


class DoneAndNotDone(NamedTuple):
    done: list[TaskFuture[Any]]
    not_done: list[TaskFuture[Any]]


def wait(futures: Iterable[TaskFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Wait until every future is done, or `timeout` seconds passed; never raises a task's exception.
    Returns the futures that finished and those that did not, each in the order given."""
    from concurrent.futures import wait as wait_all  # noqa: PLC0415 - loaded with the pool

    futures = list(futures)
    wait_all([future._inner for future in futures], timeout)
    done = [future for future in futures if future.done()]
    return DoneAndNotDone(done, [future for future in futures if not future.done()])

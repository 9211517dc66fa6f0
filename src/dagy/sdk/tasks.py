"""`@task`: a function whose calls inside a flow run become task runs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, overload

from dagy.sdk import engine
from dagy.sdk.context import current_flow_run
from dagy.sdk.futures import TaskFuture
from dagy.sdk.records import COMPLETED, FAILED, TaskRun

P = ParamSpec("P")
R = TypeVar("R")

_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect
_CO_ASYNC_GENERATOR = 0x200


def reject_async(fn: Callable[..., Any], what: str) -> None:
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR):
        raise TypeError(f"@{what} takes a regular function; {fn.__qualname__} is async, not supported yet.")


class Task(Generic[P, R]):
    """A decorated function. Outside a flow run, calling it just calls the function (no record, no
    retries). Inside one, each call is a task run: recorded, retried, timed out and cached as the
    task says, and run in the caller's thread; `submit` and `map` run it on the flow run's pool."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float | Sequence[float] = 0,
        timeout_seconds: float | None = None,
        cache_key_fn: Callable[..., Hashable | None] | None = None,
    ) -> None:
        reject_async(fn, "task")
        delays = (
            (float(retry_delay_seconds),)
            if isinstance(retry_delay_seconds, int | float)
            else tuple(float(d) for d in retry_delay_seconds)
        )
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
        if not delays or any(d < 0 for d in delays):
            message = "retry_delay_seconds must be >= 0 (one value, or one per retry)"
            raise ValueError(f"{message}, not {retry_delay_seconds!r}")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, not {timeout_seconds!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = retries
        self.retry_delays = delays
        self.timeout_seconds = timeout_seconds
        self.cache_key_fn = cache_key_fn

    def retry_delay(self, tries: int) -> float:
        """Seconds to wait after try number `tries` failed: the list's entry for that retry, its last
        entry once the list runs out."""
        return self.retry_delays[min(tries, len(self.retry_delays)) - 1]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        run = current_flow_run.get()
        if run is None:
            return self.fn(*args, **kwargs)
        result: R = engine.call_task(run, self, args, kwargs)
        return result

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> TaskFuture[R]:
        """Run the task on the flow run's thread pool and return its future at once. Futures among the
        arguments (also inside lists, tuples, sets and dict values) are waited for and replaced by
        their results first. Outside a flow run the function runs now and the future is done."""
        run = current_flow_run.get()
        if run is None:
            return _done_future(self, args, kwargs)
        future: TaskFuture[R] = engine.submit_task(run, self, args, kwargs)
        return future

    def map(self, *iterables: Iterable[Any], **kwargs: Any) -> list[TaskFuture[R]]:
        """Submit one task run per element, like the builtin `map`: the n-th run gets the n-th element
        of every iterable as its positional arguments (the iterables must have the same length) and
        `kwargs` unchanged. A future given as an iterable is waited for first."""
        if not iterables:
            raise TypeError(f"{self.name}.map() needs at least one iterable")
        columns = [it.result() if isinstance(it, TaskFuture) else it for it in iterables]
        return [self.submit(*args, **kwargs) for args in zip(*columns, strict=True)]

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


def _done_future(task: Task[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskFuture[R]:
    from concurrent.futures import Future  # noqa: PLC0415 - only when submitting

    inner: Future[R] = Future()
    record = TaskRun(f"{task.name}-1", task.name)
    try:
        inner.set_result(task.fn(*args, **kwargs))
        record.status = COMPLETED
    except Exception as exc:
        inner.set_exception(exc)
        record.status, record.exception = FAILED, exc
    return TaskFuture(record, inner)


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | Sequence[float] = 0,
    timeout_seconds: float | None = None,
    cache_key_fn: Callable[..., Hashable | None] | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | Sequence[float] = 0,
    timeout_seconds: float | None = None,
    cache_key_fn: Callable[..., Hashable | None] | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Make a function a task: `@task` or `@task(name=..., retries=..., ...)`.

    - `name`: the task's name (default: the function's); its runs are named `<name>-<n>`.
    - `retries`, `retry_delay_seconds`: tries after a failed one (an `Exception`; `KeyboardInterrupt`
      and the like are never retried), and the seconds to wait before each (one value, or one per
      retry with the last one repeating).
    - `timeout_seconds`: a try that takes longer fails with `TaskTimeoutError` (and may be retried).
      Such a task runs each try in a thread of its own and stops waiting for it at the timeout; the
      thread cannot be killed and keeps running in the background until it returns.
    - `cache_key_fn`: called with the task's arguments; within one flow run, a call whose key equals
      that of an earlier successful call returns that call's result without running. None: no cache.
    """
    options = {
        "name": name,
        "retries": retries,
        "retry_delay_seconds": retry_delay_seconds,
        "timeout_seconds": timeout_seconds,
        "cache_key_fn": cache_key_fn,
    }
    if fn is not None:
        return Task(fn, **options)  # type: ignore[arg-type]

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return Task(function, **options)  # type: ignore[arg-type]

    return decorate

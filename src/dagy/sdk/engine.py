"""Running tasks inside a flow run: the SDK's hot path.

A plain task call runs in the caller's thread: one context-variable lookup, a counter, a small
record, two clock reads. Nothing is copied, no thread is involved, and no date is formatted unless a
listener (the runtime on a worker) is attached. `submit` adds a future and a hop to the flow run's
bounded thread pool; `timeout_seconds` adds a thread per try (a thread cannot be killed, so a task
over its timeout is abandoned, not stopped).
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import copy_context
from typing import TYPE_CHECKING, Any

from dagy.sdk.context import current_task_run
from dagy.sdk.futures import TaskFuture
from dagy.sdk.records import COMPLETED, FAILED, RETRYING, RUNNING, SKIPPED, FlowRun, TaskRun

if TYPE_CHECKING:
    from dagy.sdk.tasks import Task

_MISSING = object()
# Set on the first submit in this process: until then no argument can hold a future, and plain calls
# skip looking for them. (Per process, not per flow run: a subflow may be handed its parent's futures.)
_futures_exist = False


class TaskTimeoutError(TimeoutError):
    """A task run's try took longer than the task's `timeout_seconds`."""


def call_task(run: FlowRun[Any], task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run one task call to the end in this thread: its result, or its exception raised."""
    record = _new_task_run(run, task.name)
    if _futures_exist and _holds_futures(args, kwargs):
        try:
            args, kwargs = _resolved(args, kwargs)
        except BaseException as exc:
            _skip(run, record, exc)
            raise
    return _execute(run, task, record, args, kwargs)


def submit_task(
    run: FlowRun[Any], task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> TaskFuture[Any]:
    """Queue one task run on the flow run's pool, once the futures among its arguments are done."""
    from concurrent.futures import Future  # noqa: PLC0415 - only flows that submit pay for it

    global _futures_exist  # noqa: PLW0603 - a one-way switch, set once per process
    upstream = [future for future in _futures_in(args, kwargs) if not future.done()] if _futures_exist else []
    _futures_exist = True
    record = _new_task_run(run, task.name)
    future: TaskFuture[Any] = TaskFuture(record, Future())
    run.futures.append(future)
    job = functools.partial(copy_context().run, _run_submitted, run, task, args, kwargs, future)
    if not upstream:
        _pool(run).submit(job)
        return future
    countdown = _Countdown(len(upstream), lambda: _pool(run).submit(job))
    for dependency in upstream:
        dependency._inner.add_done_callback(countdown.tick)
    return future


def finish(run: FlowRun[Any]) -> BaseException | None:
    """Wait for every submitted task run (none outlives its flow run), stop the pool, and return the
    first failure nobody handled, in submission order."""
    if not run.futures:
        return None
    from concurrent.futures import wait  # noqa: PLC0415 - the pool loaded it already

    waited = 0
    while waited < len(run.futures):  # tasks may submit tasks while we wait
        batch = run.futures[waited:]
        waited += len(batch)
        wait([future._inner for future in batch])
    if run.pool is not None:
        run.pool.shutdown(wait=True)
    for future in run.futures:
        if not future.handled and future._inner.exception() is not None:
            return future._inner.exception()
    return None


def _new_task_run(run: FlowRun[Any], name: str) -> TaskRun:
    counter = run.counters.get(name)
    if counter is None:
        counter = run.counters.setdefault(name, itertools.count(1))
    record = TaskRun(f"{run.prefix}{name}-{next(counter)}", name)
    run.task_runs.append(record)
    return record


def _execute(
    run: FlowRun[Any], task: Task[..., Any], record: TaskRun, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    listener = run.listener
    cache_key: Any = _MISSING
    if task.cache_key_fn is not None:
        try:
            cache_key = task.cache_key_fn(*args, **kwargs)
        except BaseException as exc:
            _fail(run, record, exc)
            raise
        hit = _MISSING if cache_key is None else run.cache.get((task, cache_key), _MISSING)
        if hit is not _MISSING:
            return _complete_from_cache(run, record, hit)
    record.started_at = time.time()
    record.tries = 1
    if listener is not None:
        listener(record, RUNNING)
    token = current_task_run.set(record)
    try:
        result = _tries(run, task, record, args, kwargs)
    except BaseException as exc:
        _fail(run, record, exc)
        raise
    finally:
        current_task_run.reset(token)
    record.ended_at = time.time()
    record.status = COMPLETED
    record.result = result
    if cache_key is not _MISSING and cache_key is not None:
        run.cache[(task, cache_key)] = result
    if listener is not None:
        listener(record, COMPLETED)
    return result


def _tries(
    run: FlowRun[Any], task: Task[..., Any], record: TaskRun, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    while True:
        try:
            if task.timeout_seconds is None:
                return task.fn(*args, **kwargs)
            return _call_with_timeout(task, record, args, kwargs)
        except Exception as exc:
            if record.tries > task.retries:
                raise
            record.exception = exc
        record.status = RETRYING
        record.retry_in_seconds = delay = task.retry_delay(record.tries)
        if run.listener is not None:
            run.listener(record, RETRYING)
        if delay > 0:
            time.sleep(delay)
        record.status = RUNNING
        record.exception = None
        record.tries += 1


def _call_with_timeout(
    task: Task[..., Any], record: TaskRun, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """One try in a daemon thread; past the timeout, stop waiting and fail. The thread keeps running
    (Python cannot kill a thread) and dies with the process."""
    outcome: list[Any] = []
    done = threading.Event()
    context = copy_context()

    def target() -> None:
        try:
            outcome.append((True, context.run(task.fn, *args, **kwargs)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=target, name=f"dagy-{record.name}-try-{record.tries}", daemon=True).start()
    if not done.wait(task.timeout_seconds):
        raise TaskTimeoutError(
            f"Task run {record.name!r} did not finish within its timeout of {task.timeout_seconds:g} s "
            f"(try {record.tries}); its thread was abandoned, not stopped."
        )
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def _fail(run: FlowRun[Any], record: TaskRun, exc: BaseException) -> None:
    record.ended_at = time.time()
    record.started_at = record.started_at or record.ended_at
    record.status = FAILED
    record.exception = exc
    if run.listener is not None:
        run.listener(record, FAILED)


def _complete_from_cache(run: FlowRun[Any], record: TaskRun, result: Any) -> Any:
    record.started_at = record.ended_at = time.time()
    record.status = COMPLETED
    record.result = result
    record.cached = True
    if run.listener is not None:
        run.listener(record, COMPLETED)
    return result


def _skip(run: FlowRun[Any], record: TaskRun, upstream_exception: BaseException) -> None:
    """An argument's task run failed: this one never runs and carries that exception on."""
    record.started_at = record.ended_at = time.time()
    record.status = SKIPPED
    record.exception = upstream_exception
    if run.listener is not None:
        run.listener(record, SKIPPED)


def _run_submitted(
    run: FlowRun[Any],
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    future: TaskFuture[Any],
) -> None:
    record, inner = future.task_run, future._inner
    if not inner.set_running_or_notify_cancel():
        return
    try:
        args, kwargs = _resolved(args, kwargs)
    except BaseException as exc:
        _skip(run, record, exc)
        inner.set_exception(exc)
        return
    try:
        result = _execute(run, task, record, args, kwargs)
    except BaseException as exc:
        inner.set_exception(exc)
    else:
        inner.set_result(result)


def _pool(run: FlowRun[Any]) -> Any:
    if run.pool is None:
        with run.lock:
            if run.pool is None:
                from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - on the first submit

                run.pool = ThreadPoolExecutor(run.max_workers, thread_name_prefix=f"dagy-{run.flow_name}")
    return run.pool


class _Countdown:
    """Calls `action` once `count` dependencies have finished."""

    def __init__(self, count: int, action: Any) -> None:
        self._count = count
        self._action = action
        self._lock = threading.Lock()

    def tick(self, _finished: object) -> None:
        with self._lock:
            self._count -= 1
            ready = self._count == 0
        if ready:
            self._action()


# Futures are looked for in arguments and, recursively, in lists, tuples, sets and dict values.
_CONTAINERS = (list, tuple, set, frozenset)


def _futures_in_value(value: Any) -> Iterator[TaskFuture[Any]]:
    cls = type(value)
    if cls is TaskFuture:
        yield value
    elif cls in _CONTAINERS:
        for item in value:
            yield from _futures_in_value(item)
    elif cls is dict:
        for item in value.values():
            yield from _futures_in_value(item)


def _futures_in(args: Iterable[Any], kwargs: dict[str, Any]) -> Iterator[TaskFuture[Any]]:
    for value in itertools.chain(args, kwargs.values()):
        yield from _futures_in_value(value)


def _holds_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return next(_futures_in(args, kwargs), None) is not None


def _resolved_value(value: Any) -> Any:
    cls = type(value)
    if cls is TaskFuture:
        return value.result()
    if cls in _CONTAINERS:
        return cls(_resolved_value(item) for item in value)
    if cls is dict:
        return {key: _resolved_value(item) for key, item in value.items()}
    return value


def _resolved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments with every future replaced by its result (a failed one raises its exception)."""
    if not _holds_futures(args, kwargs):
        return args, kwargs
    return tuple(_resolved_value(value) for value in args), {
        key: _resolved_value(value) for key, value in kwargs.items()
    }

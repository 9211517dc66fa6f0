"""`@flow`: a function whose call is a flow run, the scope its task runs are recorded in."""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from dagy.sdk import engine
from dagy.sdk.context import current_flow_run, current_hooks
from dagy.sdk.records import COMPLETED, FAILED, FlowRun
from dagy.sdk.tasks import reject_async

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_WORKERS = min(32, (os.cpu_count() or 1) + 4)  # what ThreadPoolExecutor picks by default


class Flow(Generic[P, R]):
    """A decorated function. Calling it runs it here and now as a flow run and returns what the
    function returns (or raises what it raised); `run()` returns the `FlowRun` record instead, and
    `last_run` is the record of the latest run this flow started."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        version: str | None = None,
        max_workers: int | None = None,
    ) -> None:
        reject_async(fn, "flow")
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, not {max_workers!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.version = version
        self.max_workers = max_workers or DEFAULT_MAX_WORKERS
        self.last_run: FlowRun[R] | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.run(*args, **kwargs).result()

    def run(self, *args: P.args, **kwargs: P.kwargs) -> FlowRun[R]:
        """Run the flow and return its record, failed or not: the exception the flow raised (or the
        first unhandled failure of a submitted task) is in `exception`, and `result()` raises it.
        Only `KeyboardInterrupt` and other non-`Exception` signals propagate from here."""
        flow_run = self._new_run(args, kwargs)
        self.last_run = flow_run
        flow_run.started_at = time.time()
        token = current_flow_run.set(flow_run)
        try:
            try:
                flow_run.return_value = self.fn(*args, **kwargs)
            except (Exception, SystemExit) as exc:
                flow_run.exception = exc
            unhandled = engine.finish(flow_run)
        except BaseException as exc:
            flow_run.exception, flow_run.status = exc, FAILED
            raise
        finally:
            current_flow_run.reset(token)
            flow_run.ended_at = time.time()
        if flow_run.exception is None and unhandled is not None:
            flow_run.exception = unhandled
        flow_run.status = FAILED if flow_run.exception is not None else COMPLETED
        return flow_run

    def _new_run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> FlowRun[R]:
        parent = current_flow_run.get()
        if parent is not None:  # a subflow: its task runs are reported with its parent's, under its name
            number = next(parent.counters.setdefault(("flow", self.name), itertools.count(1)))
            run_id, listener = os.urandom(16).hex(), parent.listener
            prefix = f"{parent.prefix}{self.name}-{number}/"
        else:
            hooks = current_hooks.get()
            run_id = hooks.run_id if hooks is not None else os.urandom(16).hex()
            listener, prefix = (hooks.on_task_run if hooks is not None else None), ""
        return FlowRun(
            run_id=run_id,
            flow_name=self.name,
            flow_version=self.version,
            fn=self.fn,
            args=args,
            kwargs=kwargs,
            listener=listener,
            prefix=prefix,
            max_workers=self.max_workers,
        )

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, version={self.version!r})"


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *, name: str | None = None, version: str | None = None, max_workers: int | None = None
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    version: str | None = None,
    max_workers: int | None = None,
) -> Flow[P, R] | Callable[[Callable[P, R]], Flow[P, R]]:
    """Make a function a flow: `@flow` or `@flow(name=..., version=..., max_workers=...)`.

    - `name`: the flow's name (default: the function's).
    - `version`: a label kept on its runs' records.
    - `max_workers`: threads of the pool that runs the flow run's submitted tasks (default: the
      machine's CPUs + 4, at most 32); a flow run that never submits starts no thread.
    """
    if fn is not None:
        return Flow(fn, name=name, version=version, max_workers=max_workers)

    def decorate(function: Callable[P, R]) -> Flow[P, R]:
        return Flow(function, name=name, version=version, max_workers=max_workers)

    return decorate

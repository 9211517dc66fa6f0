"""Group commit: concurrent write requests share one transaction (docs/adr/0005-group-commit.md).

A request hands its unit of work (a service function taking `session=`) to `GroupCommit.run`.
While one batch is being written, the units that arrive wait; then they go together in the next
batch: one thread hop, one transaction (on SQLite one `BEGIN IMMEDIATE` under the writer lock),
one commit. Nothing waits on a timer: a lone request starts its batch at once, and batches grow
only as long as the database is busy.

Each unit runs inside its own SAVEPOINT, so a unit that raises is rolled back alone and answers its
own error while the others commit. A caller gets its result only after the commit that made its
rows durable; when that commit fails, each unit that had succeeded is written again in a
transaction of its own. So from the caller's side a request is still one transaction: all or
nothing, answered after it committed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from dagy.server.db.engine import Database

DEFAULT_MAX_BATCH = 64


@dataclass(eq=False)
class _Unit:
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """One writer per event loop: it takes the units waiting (up to `max_batch`) and writes them in
    one transaction, then the next ones."""

    def __init__(self, db: Database, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._waiting: deque[_Unit] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def run(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """`fn(session=..., **kwargs)` in a SAVEPOINT of the next batch; its result once committed."""
        loop = asyncio.get_running_loop()
        unit = _Unit(fn=fn, kwargs=kwargs, future=loop.create_future())
        self._waiting.append(unit)
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_batches())
        return await unit.future

    async def _write_batches(self) -> None:
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self._max_batch))]
            try:
                await anyio.to_thread.run_sync(self._write, batch)
            except BaseException as exc:  # every caller must hear how its batch ended
                for unit in batch:
                    unit.error = unit.error or exc
                raise
            finally:
                for unit in batch:
                    _settle(unit)

    def _write(self, batch: list[_Unit]) -> None:
        """In a worker thread: the batch in one transaction; if its commit fails, each unit that had
        succeeded alone in its own."""
        try:
            with self._db.transaction(write=True) as session:
                for unit in batch:
                    _apply(session, unit)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = batch[0].error or exc
                return
            for unit in [unit for unit in batch if unit.error is None]:
                unit.result = None
                self._write_alone(unit)

    def _write_alone(self, unit: _Unit) -> None:
        try:
            with self._db.transaction(write=True) as session:
                _apply(session, unit)
        except Exception as exc:  # the commit itself failed: the caller hears it
            unit.error = exc


def _apply(session: Session, unit: _Unit) -> None:
    try:
        with session.begin_nested():
            unit.result = unit.fn(session=session, **unit.kwargs)
    except Exception as exc:  # the unit's own error, answered to its own caller
        unit.error = exc


def _settle(unit: _Unit) -> None:
    if unit.future.done():  # the caller went away (client disconnected); its rows stand
        return
    if unit.error is not None:
        unit.future.set_exception(unit.error)
    else:
        unit.future.set_result(unit.result)

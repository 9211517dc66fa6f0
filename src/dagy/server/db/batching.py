"""Group commit: concurrent write requests share one transaction (docs/adr/0005-group-commit.md).

A request hands its unit of work (a service function taking the session first) to `GroupCommit.run`.
While a batch is being written, the units that arrive wait; then they go together in the next
batch: one thread hop, one transaction (on SQLite one `BEGIN IMMEDIATE` under the writer lock),
one commit. Nothing waits on a timer: a lone request starts its batch at once, and batches grow
only as long as the database is busy.

Each unit is all or nothing on its own. A batch first runs its units one after the other without
savepoints: a unit that raises before writing anything (the common refusal: validation, a missing
flow) changed nothing and answers its error while the batch goes on. A unit that raises after
writing, or with a database error (which aborts a PostgreSQL transaction), makes the batch roll
back and run again with each unit in its own SAVEPOINT, so the failing unit is rolled back alone.
A caller gets its result only after the commit that made its rows durable; when that commit
fails, each unit that had succeeded is written again in a transaction of its own. So from the
caller's side a request is still one transaction: all or nothing, answered after it committed.
A unit may therefore run more than once before it commits: it must only touch the database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from dagy.server.db.engine import Database

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_BATCH = 64
_WRITES = "dagy.statements_written"  # per DBAPI connection: INSERT/UPDATE/DELETE statements so far


@dataclass(eq=False)
class _Unit(Generic[R]):
    call: Callable[[Session], R]  # the service function with its arguments, given the session
    future: asyncio.Future[R]
    result: R | None = None
    error: BaseException | None = None

    def reset(self) -> None:
        self.result, self.error = None, None


class _RunAgainWithSavepoints(Exception):
    """A unit failed after writing: the batch's transaction no longer holds only committed work."""


class GroupCommit:
    """Up to `writers` batches in flight (one for SQLite, whose writes are serial anyway; a few for
    PostgreSQL, so one batch's round trips overlap another's work). A writer takes every unit
    waiting (up to `max_batch`), writes them in one transaction, then takes the next ones."""

    def __init__(self, db: Database, *, writers: int = 1, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self._db = db
        self._max_writers = writers
        self._max_batch = max_batch
        self._waiting: deque[_Unit[Any]] = deque()
        self._writers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        _count_writes(db.engine)

    async def run(self, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`fn(session, *args, **kwargs)` in the next batch; its result once committed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (an app restarted in the same process)
            self._loop, self._waiting, self._writers = loop, deque(), set()
        future: asyncio.Future[R] = loop.create_future()
        unit = _Unit(call=lambda session: fn(session, *args, **kwargs), future=future)
        self._waiting.append(unit)
        if len(self._writers) < self._max_writers:
            self._writers.add(loop.create_task(self._write_batches()))
        return await unit.future

    async def _write_batches(self) -> None:
        writers = self._writers
        try:
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
        finally:
            # In the same step as the loop's last check: a unit added after it starts a new writer.
            writers.difference_update({asyncio.current_task()})

    def _write(self, batch: list[_Unit[Any]]) -> None:
        """In a worker thread: the batch in one transaction; if its commit fails, each unit that had
        succeeded alone in its own. A batch of one is simply that unit's transaction."""
        if len(batch) == 1:
            self._write_alone(batch[0])
            return
        try:
            try:
                self._commit(batch, savepoints=False)
            except _RunAgainWithSavepoints:
                for unit in batch:
                    unit.reset()
                self._commit(batch, savepoints=True)
        except Exception:  # the shared commit failed: nothing of the batch was written
            for unit in [unit for unit in batch if unit.error is None]:
                unit.reset()
                self._write_alone(unit)

    def _commit(self, batch: list[_Unit[Any]], *, savepoints: bool) -> None:
        with self._db.transaction(write=True) as session:
            for unit in batch:
                if savepoints:
                    _in_savepoint(session, unit)
                else:
                    _as_is(session, unit)

    def _write_alone(self, unit: _Unit[Any]) -> None:
        """The unit in a transaction of its own (no savepoint needed): committed or rolled back."""
        try:
            with self._db.transaction(write=True) as session:
                unit.result = unit.call(session)
        except Exception as exc:  # the unit's error or its commit's: the caller hears it
            unit.error = exc


def _as_is(session: Session, unit: _Unit[Any]) -> None:
    """The unit without a savepoint. Its error is its own answer only when it left the transaction
    as it found it: no statement written, nothing added to the session, no database error.

    Rows the units add to the session stay pending until the commit flushes them together (the
    audit rows of a batch: one multi-row INSERT instead of one per unit)."""
    written, pending = _writes_so_far(session), _pending(session)
    try:
        unit.result = unit.call(session)
    except Exception as exc:
        changed = _writes_so_far(session) != written or _pending(session) != pending
        if isinstance(exc, SQLAlchemyError) or changed:
            raise _RunAgainWithSavepoints from exc
        unit.error = exc


def _pending(session: Session) -> tuple[int, int, int]:
    return len(session.new), len(session.dirty), len(session.deleted)


def _in_savepoint(session: Session, unit: _Unit[Any]) -> None:
    try:
        with session.begin_nested():
            unit.result = unit.call(session)
    except Exception as exc:  # the unit's own error, answered to its own caller
        unit.error = exc


def _writes_so_far(session: Session) -> int:
    written: int = session.connection().info.get(_WRITES, 0)
    return written


def _count_writes(engine: Engine) -> None:
    if event.contains(engine, "before_cursor_execute", _on_statement):
        return
    event.listen(engine, "before_cursor_execute", _on_statement)


def _on_statement(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if not statement.lstrip()[:6].upper().startswith(("SELECT", "SAVEPO", "RELEAS", "ROLLBA", "PRAGMA")):
        conn.info[_WRITES] = conn.info.get(_WRITES, 0) + 1


def _settle(unit: _Unit[Any]) -> None:
    if unit.future.done():  # the caller went away (client disconnected); its rows stand
        return
    if unit.error is not None:
        unit.future.set_exception(unit.error)
    else:
        unit.future.set_result(unit.result)

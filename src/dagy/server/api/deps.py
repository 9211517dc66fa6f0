"""Typed dependencies: the unit of work every handler runs its one service call in.

Handlers are `async def`; the service call and its commit run together in one worker thread
(sync SQLAlchemy), so a request costs one thread hop. `Tx` opens a read transaction for GET and
HEAD and a write transaction otherwise; `WriteTx` forces a write (a GET that records an audit row);
`ReadTx` forces a read (a POST that only answers a question, such as a validation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import Depends, Request

from dagy.server.db.engine import Database
from dagy.server.db.reads import ReadDatabase
from dagy.server.identity import IDENTITY_CHANGED
from dagy.server.settings import Settings

if TYPE_CHECKING:
    from dagy.server.api.security import PrincipalCache

P = ParamSpec("P")
R = TypeVar("R")


class UnitOfWork:
    """Runs one service function in one transaction: commit on return, roll back on error."""

    def __init__(self, db: Database, *, write: bool, principal_cache: PrincipalCache | None) -> None:
        self._db = db
        self._write = write
        self._principal_cache = principal_cache

    async def run(self, fn: Callable[..., R], /, **kwargs: Any) -> R:
        return await anyio.to_thread.run_sync(self._run_sync, fn, kwargs)

    def _run_sync(self, fn: Callable[..., R], kwargs: dict[str, Any]) -> R:
        with self._db.transaction(write=self._write) as session:
            result = fn(session=session, **kwargs)
            identity_changed = session.info.get(IDENTITY_CHANGED, False)
        if identity_changed and self._principal_cache is not None:
            self._principal_cache.clear()
        return result


class GroupedUnitOfWork(UnitOfWork):
    """A write whose transaction concurrent requests share (group commit, db/batching.py): still all
    or nothing for this request, answered after the commit. Not for writes that change identity."""

    async def run(self, fn: Callable[..., R], /, **kwargs: Any) -> R:
        result: R = await self._db.group_commit.run(fn, **kwargs)
        return result


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _unit_of_work(request: Request) -> UnitOfWork:
    write = request.method not in ("GET", "HEAD")
    return UnitOfWork(request.app.state.db, write=write, principal_cache=request.app.state.principal_cache)


async def _write_unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.db, write=True, principal_cache=request.app.state.principal_cache)


async def _read_unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.db, write=False, principal_cache=request.app.state.principal_cache)


async def _grouped_unit_of_work(request: Request) -> GroupedUnitOfWork:
    return GroupedUnitOfWork(request.app.state.db, write=True, principal_cache=None)


async def get_read_database(request: Request) -> ReadDatabase:
    """The list read path's connections (db/reads.py), made on first use beside the app's database
    and disposed with it."""
    state = request.app.state
    reads: ReadDatabase | None = getattr(state, "read_database", None)
    if reads is None:
        db: Database = state.db
        reads = state.read_database = ReadDatabase(db.engine.url).dispose_with(db.engine)
    return reads


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
Tx = Annotated[UnitOfWork, Depends(_unit_of_work)]
WriteTx = Annotated[UnitOfWork, Depends(_write_unit_of_work)]
ReadTx = Annotated[UnitOfWork, Depends(_read_unit_of_work)]
# Lists: `await reads.run(service.list_x, ...)` gives the service `connection=`, read-only, no
# session and no transaction (docs/adr/0007-list-read-path.md).
Reads = Annotated[ReadDatabase, Depends(get_read_database)]
GroupWriteTx = Annotated[GroupedUnitOfWork, Depends(_grouped_unit_of_work)]

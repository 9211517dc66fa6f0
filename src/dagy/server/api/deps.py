"""Typed dependencies. `Tx` is the one way a handler opens a unit of work.

A handler is `async def` and makes one service call through `tx`. The service is synchronous,
takes the session (or, for a list page, the read connection) as its first argument and the rest
by keyword; `tx` passes the handler's arguments on unchanged, and the type checker holds them to
the service's signature. Which method:

- `await tx.run(service.f, ...)`: the usual case. One transaction in one worker thread (one
  thread hop, commit on return, roll back on error): a read transaction for GET and HEAD, a write
  transaction for every other method (docs/adr/0001-sync-sqlalchemy-one-thread-hop.md).
- `await tx.write(service.f, ...)`: a write transaction whatever the method, for a GET that
  writes (one that records an audit row).
- `await tx.read(service.f, ...)`: a read transaction whatever the method, for a POST or PUT
  that only answers a question (a validation, a check before streaming a body).
- `await tx.grouped(service.f, ...)`: a write whose transaction concurrent requests share
  (group commit, docs/adr/0005-group-commit.md), for hot writes whose effects stay inside the
  transaction; not for a write that changes identity (it would not clear the principal cache).
- `await tx.list(service.list_x, ...)`: a list page on the read path
  (docs/adr/0007-list-read-path.md): the service takes `connection: Connection`, read-only, with
  no session and no transaction, and returns `KeysetPage[dict]` for `page_response()`.

A write through `run`, `write` or `read` that changes identity (`session.info[IDENTITY_CHANGED]`)
clears the principal cache after its commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.datastructures import State

from dagy.server.db.engine import Database
from dagy.server.db.reads import ReadDatabase
from dagy.server.identity import IDENTITY_CHANGED
from dagy.server.settings import Settings
from dagy.storage import ArtifactStore

if TYPE_CHECKING:
    from dagy.server.api.security import PrincipalCache

P = ParamSpec("P")
R = TypeVar("R")


class UnitOfWork:
    """One request's way to the database: each method runs one service function (module docstring)."""

    __slots__ = ("_db", "_principal_cache", "_state", "_write")

    def __init__(self, state: State, *, write: bool) -> None:
        self._state = state
        self._db: Database = state.db
        self._principal_cache: PrincipalCache = state.principal_cache
        self._write = write

    async def run(self, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`fn(session, ...)` in a read transaction for GET and HEAD, a write transaction otherwise."""
        return await self._transaction(self._write, fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`fn(session, ...)` in a write transaction, whatever the request's method."""
        return await self._transaction(True, fn, *args, **kwargs)

    async def read(self, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """`fn(session, ...)` in a read transaction, whatever the request's method."""
        return await self._transaction(False, fn, *args, **kwargs)

    async def grouped(
        self, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`fn(session, ...)` in a write transaction that concurrent requests share (db/batching.py):
        still all or nothing for this request, answered after the commit. It may run more than
        once before it commits, so it must only touch the database."""
        return await self._db.group_commit.run(fn, *args, **kwargs)

    async def list(
        self, fn: Callable[Concatenate[Connection, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`fn(connection, ...)` on the list read path (db/reads.py): one read-only connection in
        autocommit, no session, no transaction."""
        return await _read_database(self._state).run(fn, *args, **kwargs)

    async def _transaction(
        self, write: bool, fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        def unit() -> R:  # in the worker thread: the service and its commit together
            with self._db.transaction(write=write) as session:
                result = fn(session, *args, **kwargs)
                identity_changed = session.info.get(IDENTITY_CHANGED, False)
            if identity_changed:
                self._principal_cache.clear()
            return result

        return await anyio.to_thread.run_sync(unit)


def _read_database(state: State) -> ReadDatabase:
    """The list read path's connections, made on first use beside the app's database and disposed
    with it."""
    reads: ReadDatabase | None = getattr(state, "read_database", None)
    if reads is None:
        db: Database = state.db
        reads = state.read_database = ReadDatabase(db.engine.url).dispose_with(db.engine)
    return reads


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_artifact_store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifact_store
    return store


async def _unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state, write=request.method not in ("GET", "HEAD"))


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ArtifactStoreDep = Annotated[ArtifactStore, Depends(get_artifact_store)]  # domains/artifacts/store.py
# The unit of work: `await tx.run(service.f, ...)`, or one of its explicit methods (module docstring).
Tx = Annotated[UnitOfWork, Depends(_unit_of_work)]

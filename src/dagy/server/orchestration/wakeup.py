"""Waking the claims that wait for work when a run is queued (DESIGN.md §3).

`set_run_state` notes on the session the executor of every run that enters `queued`. When that
session commits, the signal wakes this process's claims waiting for those executors (they re-check
the database). On PostgreSQL the same transaction also sends `NOTIFY dagy_run_queued, '<executor>'`
(just before it commits: PostgreSQL delivers it with the commit, never for a rollback), and every
server process LISTENs on a dedicated connection (`listen_for_queued_runs`) and wakes its own
claims for that executor: a run triggered on one replica reaches a claim held by another in
milliseconds. SQLite is one process's database: the in-process wake-up is the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("dagy.server.wakeup")

RUNS_QUEUED = "dagy.runs_queued"
NOTIFY_CHANNEL = "dagy_run_queued"
LISTENER_APPLICATION_NAME = "dagy-run-queue-listener"  # how the connection shows in pg_stat_activity
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0


def mark_runs_queued(session: Session, executor: str) -> None:
    executors: set[str] = session.info.setdefault(RUNS_QUEUED, set())
    executors.add(executor)


@dataclass(eq=False)
class Waiter:
    loop: asyncio.AbstractEventLoop
    executor: str | None  # None: woken by a run queued for any executor
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> bool:
        """True when woken, False when `timeout` passed first."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class RunQueueSignal:
    """Thread-safe: commits happen in worker threads, waiters live on the event loop.

    `cross_process` (PostgreSQL): a committing transaction that queued runs also NOTIFYs every
    server process listening on the database.
    """

    def __init__(self, *, cross_process: bool = False) -> None:
        self.cross_process = cross_process
        self.stopping = False  # the server is shutting down: waiting claims answer empty
        self._waiters: set[Waiter] = set()
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, sessions: sessionmaker[Session], *, cross_process: bool = False) -> RunQueueSignal:
        signal = cls(cross_process=cross_process)
        signal.attach(sessions)
        return signal

    def attach(self, sessions: sessionmaker[Session]) -> None:
        if self.cross_process:
            event.listen(sessions, "before_commit", self._before_commit)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    def _before_commit(self, session: Session) -> None:
        executors = session.info.get(RUNS_QUEUED)
        if not executors:
            return
        connection = session.connection()  # the statement as psycopg takes it: no ORM execution
        for executor in sorted(executors):
            connection.exec_driver_sql("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, executor))

    def _after_commit(self, session: Session) -> None:
        for executor in session.info.pop(RUNS_QUEUED, ()):
            self.notify(executor)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(RUNS_QUEUED, None)

    def notify(self, executor: str | None = None) -> None:
        """Wake the claims waiting for `executor` (every waiting claim when None)."""
        with self._lock:
            waiters = [w for w in self._waiters if executor is None or w.executor in (None, executor)]
        for waiter in waiters:
            waiter.loop.call_soon_threadsafe(waiter.event.set)

    def stop(self) -> None:
        """The server is shutting down: every waiting claim is woken to answer (empty)."""
        self.stopping = True
        self.notify()

    @contextmanager
    def listening(self, executor: str | None = None) -> Iterator[Waiter]:
        """Register before looking at the queue, so a run queued in between is not missed."""
        waiter = Waiter(loop=asyncio.get_running_loop(), executor=executor)
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.discard(waiter)


def libpq_url(database_url: str | URL) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://...`) as psycopg itself takes it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_queued_runs(database_url: str | URL, signal: RunQueueSignal) -> None:
    """LISTEN on a dedicated connection until cancelled, waking `signal`'s claims for each NOTIFY.

    A lost connection is re-opened with a growing pause (up to 10 s); each (re)connection wakes
    every waiting claim once, since a run may have been queued while nobody listened. Meanwhile
    the claims' once-a-second re-check keeps dispatch going, only slower.
    """
    pause = RECONNECT_MIN_SECONDS
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True, application_name=LISTENER_APPLICATION_NAME
            )
        except (psycopg.Error, OSError) as exc:
            log.warning("run queue listener cannot connect (%s); retrying in %.1fs", exc, pause)
        else:
            try:
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    pause = RECONNECT_MIN_SECONDS
                    signal.notify()
                    async for notice in conn.notifies():
                        signal.notify(notice.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("run queue listener lost its connection (%s); reconnecting in %.1fs", exc, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, RECONNECT_MAX_SECONDS)

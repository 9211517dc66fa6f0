"""Waking the claims that wait for work in this process when a run is queued (DESIGN.md §3).

`set_run_state` marks the session whenever a run enters `queued`; when that session commits, the
signal wakes every waiting claim of this process (they re-check the database). Across replicas the
same wake-up will travel over PostgreSQL `LISTEN/NOTIFY`; until then claims re-check each second.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

RUNS_QUEUED = "dagy.runs_queued"


def mark_runs_queued(session: Session) -> None:
    session.info[RUNS_QUEUED] = True


@dataclass(eq=False)
class Waiter:
    loop: asyncio.AbstractEventLoop
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
    """Thread-safe: commits happen in worker threads, waiters live on the event loop."""

    def __init__(self) -> None:
        self._waiters: set[Waiter] = set()
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, sessions: sessionmaker[Session]) -> RunQueueSignal:
        signal = cls()
        signal.attach(sessions)
        return signal

    def attach(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(RUNS_QUEUED, False):
            self.notify()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(RUNS_QUEUED, None)

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.loop.call_soon_threadsafe(waiter.event.set)

    @contextmanager
    def listening(self) -> Iterator[Waiter]:
        """Register before looking at the queue, so a run queued in between is not missed."""
        waiter = Waiter(loop=asyncio.get_running_loop())
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.discard(waiter)

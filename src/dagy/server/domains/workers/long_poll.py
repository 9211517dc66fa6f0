"""The claim long poll: hold a worker's claim until a run is queued for it, or the wait is over.

Dispatch is pushed, not polled (DESIGN.md §3): a run queued in this process wakes the waiting
claims waiting for its executor at once, and on PostgreSQL so does a run queued by another server
process (`LISTEN/NOTIFY`, orchestration/wakeup.py). The claim also re-checks the database at least
once a second, which covers a listener that is reconnecting.

A claim whose worker has gone (it stopped and closed the connection while its claim waited) takes
no run: the connection is checked before every attempt, so a run is never handed to a claim
nobody will read (it would show `running` until its lease expired). A connection gone while the
claim was answered gets its runs given back to the queue at once, without using a retry; an answer
lost after that is found by the reaper (docs/runs.md, "Claims that never reach their worker"). A server that
is shutting down answers its waiting claims empty at once (the workers claim again elsewhere).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from dagy.protocol import ClaimedRun, ClaimRequest
from dagy.server.api.deps import UnitOfWork
from dagy.server.domains.runs import queue
from dagy.server.domains.runs.queue import WorkerScope
from dagy.server.orchestration import RunQueueSignal
from dagy.server.settings import Settings
from dagy.tracing import Tracing

RECHECK_SECONDS = 1.0


async def claim(
    tx: UnitOfWork,
    signal: RunQueueSignal,
    *,
    scope: WorkerScope,
    data: ClaimRequest,
    lease_seconds: float,
    max_wait_seconds: float,
    settings: Settings,
    disconnected: Callable[[], Awaitable[bool]],
    tracing: Tracing | None = None,
) -> list[ClaimedRun]:
    deadline = time.monotonic() + min(data.wait_seconds, max_wait_seconds)
    with signal.listening(data.executor) as waiter:
        while True:
            if signal.stopping or await disconnected():
                return []
            runs = await tx.run(
                queue.claim_runs,
                scope=scope,
                data=data,
                lease_seconds=lease_seconds,
                settings=settings,
                tracing=tracing,
            )
            if runs and await disconnected():  # gone while the claim was answered: give the runs back
                await tx.run(queue.give_back_claims, scope=scope, worker_id=data.worker_id, runs=runs)
                return []
            remaining = deadline - time.monotonic()
            if runs or remaining <= 0:
                return runs
            await waiter.wait(min(RECHECK_SECONDS, remaining))

"""A message turn end to end: reserve it, let the planner answer in a worker thread (outside any
transaction: an LLM may take a minute), then store and charge the answer, or release the turn when
the planner failed. The synchronous route awaits `take_turn`; the streamed one forwards the
planner's events as SSE while the turn is answered (`turn_events`).

A streamed turn whose client disconnects is still answered, stored and charged, and nothing is
left pending: the answer is in the session's history, and a retry with the same `turn_id`
replays it rather than paying twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
from fastapi.sse import format_sse_event

from dagy.server.api.deps import UnitOfWork
from dagy.server.api.errors import error_body
from dagy.server.domains.ai_studio import turns
from dagy.server.domains.ai_studio.planner.base import Emit, Planner, PlannerUnavailable
from dagy.server.domains.ai_studio.schemas import TurnCreate
from dagy.server.domains.ai_studio.turns import StoredAnswer, TurnStart
from dagy.server.errors import DagyError, ServiceUnavailable
from dagy.server.identity import Actor

log = logging.getLogger("dagy.server.ai_studio")

# The planner's event types a stream forwards (planner/base.py); `done` and `error` are ours.
PLANNER_EVENTS = ("status", "token", "canvas", "validation")
# Turns planned at once in this process. Planners get threads of their own: a minute-long LLM call
# must not hold one of the threads every request's database work runs in.
PLANNER_THREADS = anyio.CapacityLimiter(32)
# A stream quiet this long (an LLM thinking) gets an SSE comment, so proxies keep it open.
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = b": keep-alive\n\n"


async def open_turn(
    tx: UnitOfWork, *, actor: Actor, session_id: str, data: TurnCreate, idempotency_key: str | None
) -> TurnStart:
    """Reserve the turn (or find the answer to replay); raises the refusals (404, 409, 429, 402)
    before anything is planned or streamed."""
    return await tx.write(
        turns.begin_turn, actor=actor, session_id=session_id, data=data, idempotency_key=idempotency_key
    )


async def take_turn(
    tx: UnitOfWork,
    planner: Planner,
    *,
    actor: Actor,
    session_id: str,
    data: TurnCreate,
    idempotency_key: str | None,
) -> StoredAnswer:
    """The synchronous turn: reserved, planned, stored."""
    start = await open_turn(
        tx, actor=actor, session_id=session_id, data=data, idempotency_key=idempotency_key
    )
    return await answer_turn(tx, planner, start, actor=actor, emit=_ignore)


async def answer_turn(
    tx: UnitOfWork, planner: Planner, start: TurnStart, *, actor: Actor, emit: Emit
) -> StoredAnswer:
    """Plan a reserved turn and store its answer; on any failure release it (503 for an
    unavailable planner), so nothing is charged and nothing stays pending."""
    if start.replay is not None:
        return start.replay
    assert start.row_id is not None and start.request is not None
    try:
        result = await anyio.to_thread.run_sync(planner.plan, start.request, emit, limiter=PLANNER_THREADS)
        return await tx.write(
            turns.finish_turn, actor=actor, session_id=start.session_id, row_id=start.row_id, result=result
        )
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await _release(tx, start, actor)
        if isinstance(exc, PlannerUnavailable):
            raise ServiceUnavailable(
                "The AI Studio planner is unavailable; the turn was not charged. Retry later.",
                details={"planner": str(exc)[:500] or type(exc).__name__},
                headers={"Retry-After": "5"},
            ) from exc
        raise


async def turn_events(
    tx: UnitOfWork, planner: Planner, start: TurnStart, *, actor: Actor
) -> AsyncIterator[bytes]:
    """The streamed turn as SSE: `status` at once, the planner's `status`, `token`, `canvas` and
    `validation` events as it emits them, then `done` with the synchronous answer's body (a 422's
    body too: its `workflow_status` says invalid) or `error` with the error body."""
    if start.replay is not None:
        yield _event("done", start.replay.body)
        return
    yield _event("status", {"stage": "received", "message": "Working on it."})
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    def emit(event: str, data: dict[str, Any]) -> None:  # in the planner's thread
        loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    task = asyncio.ensure_future(answer_turn(tx, planner, start, actor=actor, emit=emit))
    task.add_done_callback(lambda _task: queue.put_nowait(None))  # after every event emitted before
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield KEEPALIVE
                continue
            if item is None:
                break
            if item[0] in PLANNER_EVENTS:
                yield _event(*item)
        yield _outcome(task)
    finally:
        if not task.done():  # the client left: the turn is still answered and stored
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: it was sent as an `error` event, or nobody is listening


def _outcome(task: asyncio.Future[StoredAnswer]) -> bytes:
    error = task.exception()
    if error is None:
        return _event("done", task.result().body)
    if isinstance(error, DagyError):
        return _event("error", error_body(error.code, error.message, error.details))
    log.error("AI Studio turn failed", exc_info=error)
    return _event("error", error_body("internal_error", "Internal server error."))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return format_sse_event(event=name, data_str=json.dumps(data, separators=(",", ":"), default=str))


async def _release(tx: UnitOfWork, start: TurnStart, actor: Actor) -> None:
    assert start.row_id is not None
    try:
        await tx.write(turns.release_turn, actor=actor, session_id=start.session_id, row_id=start.row_id)
    except Exception:  # the database is gone too: the turn goes stale and a retry replaces it
        log.exception("could not release AI Studio turn %s", start.row_id)


def _ignore(_event: str, _data: dict[str, Any]) -> None:
    """A synchronous turn's planner events go nowhere."""

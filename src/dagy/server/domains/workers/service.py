"""The fleet as the server sees it: which workers asked for runs, for which executor, how many at
once, under which isolation, and when they were last heard from (a claim or a heartbeat).

`GET /v1/workers` lists those that serve the caller's org (its own, and the installation's) heard
from within `seen_within_seconds`; a worker is `online` when heard from in the last minute. A run
queued for an executor no such worker has asked for in that minute says so (`status_detail`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Worker
from dagy.server.domains.workers import repository as repo
from dagy.server.domains.workers.schemas import WorkerList, WorkerRead
from dagy.server.identity import Actor

ONLINE = timedelta(minutes=1)
# The container executors (executors/dispatch.py) and the setting that turns each on.
CONTAINER_SETTINGS = {"kubernetes": "DAGY_K8S_NAMESPACE", "docker": "DAGY_DOCKER_URL"}


def worker_key(org_id: str | None, worker_id: str) -> str:
    return f"{org_id or '*'}/{worker_id}"


def heard_from_claim(
    session: Session,
    *,
    org_id: str | None,
    worker_id: str,
    executor: str,
    concurrency: int,
    isolation: str | None,
    now: datetime,
) -> None:
    """A worker asked for runs: record it, or what it says of itself now."""
    repo.upsert(
        session,
        {
            "id": worker_key(org_id, worker_id),
            "worker_id": worker_id,
            "org_id": org_id,
            "executor": executor,
            "concurrency": concurrency,
            "isolation": isolation,
            "first_seen_at": now,
            "last_seen_at": now,
        },
    )


def heard_from(session: Session, *, org_id: str | None, worker_id: str, now: datetime) -> None:
    """A worker heartbeated one of its runs: it is alive (a full worker does not claim)."""
    repo.touch(session, worker_key(org_id, worker_id), now)


def list_workers(session: Session, *, actor: Actor, seen_within_seconds: int) -> WorkerList:
    now = utcnow()
    workers = repo.seen_since(session, actor.org_id, now - timedelta(seconds=seen_within_seconds))
    return WorkerList(items=[_read(worker, now) for worker in workers])


def unserved_detail(session: Session, org_id: str, executor: str) -> str | None:
    """Why a queued run of `executor` may wait: no worker serving the org asked for that executor's
    runs in the last minute. None when one did."""
    if repo.seen_since(session, org_id, utcnow() - ONLINE, executor=executor):
        return None
    if executor in CONTAINER_SETTINGS:
        return (
            f"No background services have launched executor {executor}'s runs in the last minute; "
            f"set {CONTAINER_SETTINGS[executor]} and DAGY_CONTAINER_IMAGE for `dagy services` (or "
            "`dagy server`)."
        )
    return (
        f"No worker has asked for executor {executor}'s runs in the last minute; start one with "
        f"`dagy worker --executor {executor}` (GET /v1/workers lists those the server hears from)."
    )


def online_by_executor(session: Session, org_id: str) -> dict[str, tuple[int, int]]:
    """Per executor, the workers serving the org heard from in the last minute, and the runs they
    take at once: `{executor: (workers, concurrency)}`."""
    online: dict[str, tuple[int, int]] = {}
    for worker in repo.seen_since(session, org_id, utcnow() - ONLINE):
        count, concurrency = online.get(worker.executor, (0, 0))
        online[worker.executor] = (count + 1, concurrency + worker.concurrency)
    return online


def _read(worker: Worker, now: datetime) -> WorkerRead:
    return WorkerRead(
        worker_id=worker.worker_id,
        scope="org" if worker.org_id else "installation",
        executor=worker.executor,
        concurrency=worker.concurrency,
        isolation=worker.isolation,
        status="online" if now - worker.last_seen_at <= ONLINE else "offline",
        first_seen_at=worker.first_seen_at,
        last_seen_at=worker.last_seen_at,
    )

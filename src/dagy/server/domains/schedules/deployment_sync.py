"""A deployment's `schedule` field is a schedule: `deploy-<deployment name>`, kept in step with it.

Setting the field (`POST /deployments`, `PUT /deployments/{name}/settings`, `POST /flows` with a
deployment, a promotion) creates or changes the schedule: a cron expression makes a cron schedule,
an interval such as `30m` an interval schedule anchored at the schedule's creation. `""` (or
`null`) removes it; deleting the deployment deletes it. The schedule runs the deployment (its
current version, executor, execution mode and environment). It starts in UTC with catch-up `skip`;
its time zone, catch-up policy, parameters, description, window and `enabled` are its own, set with
`PATCH /schedules/deploy-<name>`, and survive later changes of the deployment's schedule.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Deployment, Flow, Schedule
from dagy.server.domains.audit_logs.service import Action, diff
from dagy.server.domains.deployments.schedule import interval_seconds
from dagy.server.domains.schedules import repository as repo
from dagy.server.domains.schedules.audit import audit, audit_state
from dagy.server.domains.schedules.rules import settle
from dagy.server.errors import InvalidInput
from dagy.server.identity import Actor

DEPLOYMENT_PREFIX = "deploy-"
_MAX_ID = 128


def sync_deployment_schedule(session: Session, *, actor: Actor, deployment: Deployment) -> None:
    """Make the deployment's schedule match its `schedule` field (already checked by deployments)."""
    existing = repo.get_for_deployment(session, deployment.org_id, deployment.id)
    if not deployment.schedule:
        if existing is not None:
            before = audit_state(existing)
            repo.delete(session, existing)
            audit(session, actor, existing, Action.DELETE, diff(before, {}))
        return
    seconds = interval_seconds(deployment.schedule)
    mode, cron, interval = ("interval", None, seconds) if seconds else ("cron", deployment.schedule, None)
    if existing is not None and (existing.mode, existing.cron_expression, existing.interval_seconds) == (
        mode,
        cron,
        interval,
    ):
        return
    now = utcnow()
    schedule = existing or _new(session, deployment, now)
    before = audit_state(existing) if existing is not None else {}
    schedule.mode, schedule.cron_expression, schedule.interval_seconds = mode, cron, interval
    try:
        settle(schedule, now=now)
    except InvalidInput as exc:  # a cron expression croniter parses but that never fires
        raise InvalidInput(
            exc.message, details={"schedule": "; ".join(map(str, exc.details.values()))}
        ) from exc
    schedule.updated_at = now
    if existing is None:
        repo.add(session, schedule)
    else:
        session.flush()
    action = Action.UPDATE if existing else Action.CREATE
    audit(session, actor, schedule, action, diff(before, audit_state(schedule)))


def deployment_schedule_id(deployment_name: str) -> str:
    """`deploy-<name>`; a name too long for that keeps its start and gains a digest of the whole."""
    schedule_id = DEPLOYMENT_PREFIX + deployment_name
    if len(schedule_id) <= _MAX_ID:
        return schedule_id
    digest = hashlib.sha256(deployment_name.encode()).hexdigest()[:12]
    return f"{schedule_id[: _MAX_ID - len(digest) - 1]}-{digest}"


def _new(session: Session, deployment: Deployment, now: Any) -> Schedule:
    flow = session.get(Flow, deployment.flow_id)
    assert flow is not None  # a deployment's flow goes with it (ON DELETE CASCADE)
    return Schedule(
        org_id=deployment.org_id,
        schedule_id=deployment_schedule_id(deployment.name),
        flow_id=flow.id,
        flow_name=flow.name,
        flow_version=None,
        deployment_id=deployment.id,
        enabled=True,
        timezone="UTC",
        catchup_policy="skip",
        parameters={},
        created_at=now,
        updated_at=now,
    )

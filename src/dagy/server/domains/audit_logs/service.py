"""Recording audit rows, in the transaction of the change they describe."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.models import AuditLog
from dagy.server.identity import Actor

REDACTED_CHANGE = "value changed"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXECUTE = "execute"
    READ = "read"  # reads worth a trail, such as a secret's value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for every field whose value differs."""
    keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def record(
    session: Session,
    *,
    actor: Actor,
    action: Action,
    resource_type: str,
    resource_id: str,
    resource_name: str | None = None,
    changes: Mapping[str, Any] | None = None,
    org_id: str | None = None,
) -> None:
    """Add one audit row. `org_id` defaults to the actor's org; callers pass it for org-less actors."""
    session.add(
        AuditLog(
            org_id=org_id if org_id is not None else actor.org_id,
            actor_email=actor.email,
            actor_type=actor.actor_type,
            action=str(action),
            resource_type=resource_type,
            resource_id=resource_id,
            resource_name=resource_name,
            changes=dict(changes or {}),
            ip_address=actor.ip_address,
            user_agent=actor.user_agent,
        )
    )

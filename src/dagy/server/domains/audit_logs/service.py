"""Recording audit rows, in the transaction of the change they describe, and reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import new_id, utcnow
from dagy.server.domains.audit_logs import repository as repo
from dagy.server.domains.audit_logs.schemas import AuditLogQuery
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor

REDACTED_CHANGE = "value changed"
IMPERSONATING = "impersonating"  # the changes' key marking an impersonated action


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


class AuditEntry(TypedDict, total=False):
    """One audit row as services describe it. `org_id` defaults to the actor's org; callers pass it
    for org-less actors (None: a platform-wide action of a super admin)."""

    actor: Required[Actor]
    action: Required[Action]
    resource_type: Required[str]
    resource_id: Required[str]
    resource_name: str | None
    changes: Mapping[str, Any] | None
    org_id: str | None


def record(session: Session, **entry: Unpack[AuditEntry]) -> None:
    """Add one audit row, in the caller's transaction.

    Written at once with a Core INSERT, not added to the session: an audit row is never read back
    in the transaction that writes it, and the unit-of-work flush of a batch of them cost more
    than the statements themselves on the busiest path (`POST /runs`)."""
    record_many(session, [entry])


def record_many(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Add audit rows: one statement, executed once per row."""
    if entries:
        repo.insert_many(session, [_row(entry) for entry in entries])


def _row(entry: AuditEntry) -> dict[str, Any]:
    """The row of `entry`. A super admin acting through `X-Impersonate-Org` is recorded under their
    own email, with `"impersonating": true` among the changes (docs/admin.md)."""
    actor = entry["actor"]
    # Not `entry.get("org_id", actor.org_id)`: an org-less actor's `org_id` raises.
    org_id = entry["org_id"] if "org_id" in entry else actor.org_id  # noqa: SIM401 - see above
    changes = dict(entry.get("changes") or {})
    if actor.principal is not None and actor.principal.impersonating:
        changes[IMPERSONATING] = True
    return {
        "id": new_id("audit"),
        "timestamp": utcnow(),
        "org_id": org_id,
        "actor_email": actor.email,
        "actor_type": actor.actor_type,
        "action": str(entry["action"]),
        "resource_type": entry["resource_type"],
        "resource_id": entry["resource_id"],
        "resource_name": entry.get("resource_name"),
        "changes": changes,
        "ip_address": actor.ip_address,
        "user_agent": actor.user_agent,
    }


def list_audit_logs(
    connection: Connection, *, actor: Actor, filters: AuditLogQuery, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """The org's trail, newest first, narrowed by every filter given.

    Read path (docs/adr/0007-list-read-path.md): the items are `AuditLogRead`'s fields as plain
    values, rendered once by the router."""
    if filters.start_date and filters.end_date and filters.start_date > filters.end_date:
        raise InvalidInput(
            "start_date is after end_date.", details={"start_date": "must not be after end_date"}
        )
    return repo.list_page(
        connection,
        actor.org_id,
        page=page,
        to_item=_list_item,
        resource_type=filters.resource_type,
        action=filters.action,
        actor_email=filters.actor_email.strip().lower() if filters.actor_email else None,
        start=filters.start_date,
        end=filters.end_date,
    )


def get_resource_trail(
    connection: Connection, *, actor: Actor, resource_type: str, resource_id: str, page: PageRequest
) -> dict[str, Any]:
    """One resource's history, newest first; a resource the org never recorded is a 404.

    Read path: `AuditTrailRead`'s fields as plain values, rendered once by the router. The name
    and the page are two statements; rows are only ever added, so the name is at worst a row
    older than the newest item."""
    found, name = repo.latest_resource_name(connection, actor.org_id, resource_type, resource_id)
    if not found:
        raise NotFound("No audit trail for this resource.")
    result = repo.resource_page(
        connection, actor.org_id, resource_type, resource_id, page=page, to_item=_trail_item
    )
    return {
        "resource_id": resource_id,
        "resource_type": resource_type,
        "resource_name": name,
        "items": result.items,
        "next_token": result.next_token,
    }


def _list_item(row: ListRow) -> dict[str, Any]:
    """An `AuditLogRead`'s fields from a `repo.LIST_PAGES` row."""
    (
        audit_id,
        timestamp,
        actor_email,
        action,
        resource_type,
        resource_id,
        resource_name,
        changes,
        ip_address,
        user_agent,
    ) = row
    return {
        "audit_id": audit_id,
        "timestamp": timestamp,
        "actor_email": actor_email,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "resource_name": resource_name,
        "changes": changes,
        "ip_address": ip_address,
        "user_agent": user_agent,
    }


def _trail_item(row: ListRow) -> dict[str, Any]:
    """An `AuditTrailItem`'s fields from a `repo.RESOURCE_PAGES` row."""
    audit_id, timestamp, actor_email, action, changes = row
    return {
        "audit_id": audit_id,
        "timestamp": timestamp,
        "actor_email": actor_email,
        "action": action,
        "changes": changes,
    }

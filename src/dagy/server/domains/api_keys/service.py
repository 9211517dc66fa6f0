"""Minting, listing and deleting API keys.

A key is `dagy_sk_<environment>_<40 random alphanumerics>`; only its SHA-256 and a short clear
prefix are stored, so a database dump cannot be replayed. Authentication with a key lives in
`domains.auth.service.resolve_principal`: permissions there are the key's scopes intersected
with its creator's current role, which is why minting refuses scopes the creator lacks.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.models import ApiKey
from dagy.server.domains.api_keys import repository as repo
from dagy.server.domains.api_keys.schemas import ApiKeyCreate, ApiKeyCreated
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.auth.service import API_KEY_PREFIX, sha256_hex
from dagy.server.errors import InvalidInput, NotFound, PermissionDenied
from dagy.server.identity import Actor, PrincipalKind, mark_identity_changed
from dagy.server.rbac import ALL_PERMISSIONS

RESOURCE_TYPE = "api_key"
SECRET_LENGTH = 40  # ~238 bits over [A-Za-z0-9]; alphanumerics keep the key one "word" to copy
_ALPHABET = string.ascii_letters + string.digits
_PREFIX_CHARS = 4


def create_api_key(session: Session, *, actor: Actor, data: ApiKeyCreate) -> ApiKeyCreated:
    """Only a signed-in user mints keys: a key minting keys could outlive every human's access."""
    principal = actor.principal
    if principal is None or principal.kind != PrincipalKind.SESSION or principal.user_id is None:
        raise PermissionDenied("Only a signed-in user can create API keys.")
    scopes = _checked_scopes(data.scopes, principal.permissions)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    full_key = f"{API_KEY_PREFIX}{data.environment}_{secret}"
    key = ApiKey(
        org_id=actor.org_id,
        created_by_user_id=principal.user_id,
        name=data.name,
        key_hash=sha256_hex(full_key),
        key_prefix=f"{API_KEY_PREFIX}{data.environment}_{secret[:_PREFIX_CHARS]}***",
        environment=data.environment,
        scopes=scopes,
    )
    repo.add(session, key)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type=RESOURCE_TYPE,
        resource_id=key.id,
        resource_name=key.name,
        changes=diff({}, _audited(key)),
    )
    return ApiKeyCreated(
        key_id=key.id,
        name=key.name,
        key=full_key,
        key_prefix=key.key_prefix,
        environment=key.environment,
        scopes=scopes,
        created_at=key.created_at,
    )


def _checked_scopes(requested: list[str], held: frozenset[str]) -> list[str]:
    scopes = list(dict.fromkeys(requested))
    unknown = [s for s in scopes if s not in ALL_PERMISSIONS]
    if unknown:
        raise InvalidInput(
            f"Unknown scopes: {', '.join(unknown)}.",
            details={"scopes": f"not permissions of the role matrix: {', '.join(unknown)}"},
        )
    beyond = [s for s in scopes if s not in held]
    if beyond:
        raise PermissionDenied(
            "An API key cannot have scopes its creator does not hold.",
            details={"scopes": f"not held by the caller: {', '.join(beyond)}"},
        )
    return scopes


def list_api_keys(connection: Connection, *, actor: Actor, page: PageRequest) -> KeysetPage[dict[str, Any]]:
    """Newest first. Read path (docs/adr/0007-list-read-path.md): the items are `ApiKeyRead`'s
    fields as plain values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, to_item=_list_item)


def delete_api_key(session: Session, *, actor: Actor, key_id: str) -> None:
    """The key stops working at once in this process (cache dropped on commit), within the
    principal cache's TTL elsewhere."""
    key = repo.get(session, actor.org_id, key_id)
    if key is None:
        raise NotFound("API key not found.")
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE_TYPE,
        resource_id=key.id,
        resource_name=key.name,
        changes=diff(_audited(key), {}),
    )
    repo.delete(session, key)
    mark_identity_changed(session)


def _audited(key: ApiKey) -> dict[str, object]:
    """What the trail keeps of a key: never the key or its hash."""
    return {"name": key.name, "environment": key.environment, "scopes": list(key.scopes)}


def _list_item(row: ListRow) -> dict[str, Any]:
    """An `ApiKeyRead`'s fields from a `repo.LIST_PAGES` row."""
    key_id, name, key_prefix, environment, scopes, created_at, last_used_at = row
    return {
        "key_id": key_id,
        "name": name,
        "key_prefix": key_prefix,
        "environment": environment,
        "scopes": list(scopes),
        "created_at": created_at,
        "last_used_at": last_used_at,
    }

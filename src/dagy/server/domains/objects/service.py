"""The org's objects: put, list, delete. Writes and deletes leave an audit row, recorded in the
transaction the file change ends (the change last, so an error before it leaves no trace on disk
and none in the log)."""

from __future__ import annotations

import hashlib
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest, keyset_token, token_values
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.objects import files
from dagy.server.domains.objects.files import Upload
from dagy.server.domains.objects.schemas import ObjectWritten
from dagy.server.errors import InvalidInput
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "object"
_MAX_RESOURCE_ID = 128  # the audit log's columns
_MAX_RESOURCE_NAME = 255


def put_object(session: Session, *, actor: Actor, upload: Upload, overwrite: bool) -> ObjectWritten:
    """Put a received upload in place (409 when it exists and `overwrite` is false)."""
    before = upload.path.stat().st_size if upload.path.is_file() else None
    action = Action.CREATE if before is None else Action.UPDATE
    _record(session, actor=actor, action=action, key=upload.key, size=[before, upload.size])
    status = files.place(upload, overwrite=overwrite)
    return ObjectWritten(
        key=upload.key, size=status.st_size, etag=upload.etag, modified_at=files.modified_at(status)
    )


def delete_object(session: Session, *, actor: Actor, key: str, settings: Settings) -> None:
    """Remove an object (404 `object_not_found` when absent) and the folders it leaves empty."""
    store = files.org_store(settings, actor.org_id)
    path = files.object_path(store, key)
    size = path.stat().st_size if path.is_file() else None
    _record(session, actor=actor, action=Action.DELETE, key=key, size=[size, None])
    with files.key_errors():
        store.delete(key)


def list_objects(
    *, actor: Actor, settings: Settings, prefix: str, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """The org's objects whose keys start with `prefix`, in key order (keyset by key). Reads the
    folder, not the database: called in a worker thread, no transaction."""
    store = files.org_store(settings, actor.org_id)
    if prefix:
        files.check_prefix(store, prefix)
    after = token_values(page.next_token, 1)[0] if page.next_token else None
    if after is not None and not isinstance(after, str):
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"})
    with files.key_errors("prefix"):
        found = list(islice(store.scan(prefix, after=after), page.limit + 1))
    items = [
        {"key": key, "size": status.st_size, "modified_at": files.modified_at(status)}
        for key, status in found[: page.limit]
    ]
    token = keyset_token([found[page.limit - 1][0]]) if len(found) > page.limit else None
    return KeysetPage(items=items, next_token=token)


def _record(session: Session, *, actor: Actor, action: Action, key: str, size: list[int | None]) -> None:
    changes: dict[str, Any] = {"size": size}
    if len(key) > _MAX_RESOURCE_NAME:
        changes["key"] = [None, key] if action != Action.DELETE else [key, None]
    record(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=key
        if len(key) <= _MAX_RESOURCE_ID
        else "sha256:" + hashlib.sha256(key.encode()).hexdigest(),
        resource_name=key[:_MAX_RESOURCE_NAME],
        changes=changes,
    )

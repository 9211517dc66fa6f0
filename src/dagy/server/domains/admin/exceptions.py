"""The traces of unhandled server errors (api/traces.py), for super admins: list, read, download
and delete. The store is the installation's object store, so these read files or S3 objects."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dagy.server.api.traces import TraceStore
from dagy.server.domains.admin.schemas import DownloadRead, ExceptionItem, ExceptionList, ExceptionsDeleted
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.errors import NotFound
from dagy.server.identity import Actor

_MISSING = "No exception trace with this key."


def list_exceptions(store: TraceStore, *, limit: int) -> ExceptionList:
    """The newest traces first."""
    return ExceptionList(
        items=[
            ExceptionItem(key=t.key, size_bytes=t.size_bytes, created_at=t.created_at)
            for t in store.list(limit)
        ]
    )


def exception_content(store: TraceStore, *, key: str) -> dict[str, Any]:
    trace = store.get(key)
    if trace is None:
        raise NotFound(_MISSING)
    return trace


def exception_download(store: TraceStore, *, key: str, base_url: str) -> DownloadRead:
    url = store.download_url(key, base_url)
    if url is None:
        raise NotFound(_MISSING)
    return DownloadRead(download_url=url)


def delete_exceptions(
    session: Session, *, actor: Actor, store: TraceStore, keys: list[str]
) -> ExceptionsDeleted:
    """Delete the traces of `keys` (those that exist); audited as one platform-wide action."""
    deleted = store.delete(keys)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type="exception_trace",
        resource_id=f"{len(keys)} keys",
        changes={"keys": [list(keys)[:100], None], "deleted": deleted},
        org_id=None,
    )
    return ExceptionsDeleted(deleted=deleted)

"""The object store over the worker protocol: a run on a remote worker reads and writes the server's
local object folder (`DAGY_HOME/objects`) as a run on the embedded worker reads the folder itself.

Who may: the worker holding the run's lease, with its own credential (the worker token, or its
org's key: another org's run is 404), or the run's process with the run's object token. That token
is signed by the server for one (run, attempt, worker) and handed out with the claim, so the run's
process never holds the worker's credential (which may serve every org). A caller whose attempt is
not the run's current one, or whose worker lost the lease, gets 409 `lease_lost`.

What: the keys `DirectoryObjectStore` allows a run (its org's data, its flows' artifacts
read-only, its org's run folders read-only but its own), with the same errors rendered as domain
errors: `forbidden_key` (403), `object_not_found` (404), `object_too_large` (413).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from dagy.nodes.base import NodeError
from dagy.runtime.objects import DirectoryObjectStore
from dagy.server.domains.runs.queue import OBJECTS_DIR, WorkerScope, current_attempt
from dagy.server.domains.runs.tokens import is_run_object_token
from dagy.server.errors import DagyError, NotFound, PayloadTooLarge, PermissionDenied, Unauthorized
from dagy.server.settings import Settings


@dataclass(frozen=True)
class ObjectCaller:
    """A worker acting with its credential (`scope`), or a run's process with its object token."""

    scope: WorkerScope | None = None
    run_token: str | None = None


def run_store(
    session: Session, *, caller: ObjectCaller, run_id: str, worker_id: str, attempt: int, settings: Settings
) -> DirectoryObjectStore:
    """The run's view of the object folder, for a caller entitled to it now."""
    if caller.run_token is not None:
        if not is_run_object_token(
            caller.run_token, settings, run_id=run_id, attempt=attempt, worker_id=worker_id
        ):
            raise Unauthorized("The run's object token does not match this run, attempt and worker.")
        scope = WorkerScope(org_id=None)
    else:
        assert caller.scope is not None
        scope = caller.scope
    run = current_attempt(session, scope, run_id, worker_id, attempt, lock=False)
    return DirectoryObjectStore(settings.home / OBJECTS_DIR, run.org_id, run.id)


def object_key(store: DirectoryObjectStore, key: str, *, write: bool) -> str:
    """The full key, or the domain error for a key the run may not use that way."""
    with _store_errors():
        return store.writable_key(key) if write else store.key(key)


def object_file(store: DirectoryObjectStore, key: str) -> Path:
    with _store_errors():
        return store.file(key)


def write_object(store: DirectoryObjectStore, key: str, data: bytes) -> str:
    with _store_errors():
        return store.put(key, data)


def list_objects(store: DirectoryObjectStore, prefix: str) -> list[str]:
    with _store_errors():
        return store.list(prefix)


def object_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"An object is at most {limit} bytes.",
        details={"body": f"at most {limit} bytes (DAGY_MAX_OBJECT_BYTES)"},
        code="object_too_large",
    )


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except NodeError as exc:
        error: DagyError
        if exc.error_type == "object_not_found":
            error = NotFound(exc.message, code="object_not_found")
        else:
            error = PermissionDenied(exc.message, code=exc.error_type)
        raise error from exc

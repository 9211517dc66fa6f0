"""The org's data folder on disk: key checks as the API's errors, uploads streamed into place,
downloads from one open file, and the MD5 `ETag`s of both.

Keys are `DirectoryObjectStore`'s, relative to the org's data (`dagy/data/<org_id>/`): the same
keys a `file_read` node of the org reads. A key starting with `dagy/` names a full key to a node,
so the API refuses it rather than answering for a different file.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from dagy.nodes.base import NodeError
from dagy.runtime.objects import ROOT_PREFIX, DirectoryObjectStore
from dagy.server.domains.runs.queue import OBJECTS_DIR
from dagy.server.domains.workers.objects import object_too_large
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.settings import Settings
from dagy.worker.isolation import RUN_GID

CHUNK_BYTES = 1024 * 1024  # a write to disk while receiving, a read while sending
_ETAG_CACHE_SIZE = 4096


def org_store(settings: Settings, org_id: str) -> DirectoryObjectStore:
    """The org's view of the object folder (no run's: it writes the org's data only). A server
    running as root writes for runs that run as their own users, in the runs' group
    (docs/isolation.md): they read and replace the objects it stores, and write beside them."""
    group = RUN_GID if os.geteuid() == 0 else None
    return DirectoryObjectStore(settings.home / OBJECTS_DIR, org_id, group=group)


def object_path(store: DirectoryObjectStore, key: str) -> Path:
    """Where the object `key` lives (it may not exist); 400 naming `key` for a key that does not
    name an object of the org's data."""
    _refuse_full_key(key, "key")
    with key_errors("key"):
        return store.path(key, write=True)


def check_prefix(store: DirectoryObjectStore, prefix: str) -> None:
    """400 naming `prefix` for a prefix outside the org's data."""
    _refuse_full_key(prefix, "prefix")
    with key_errors("prefix"):
        store.key(prefix)


def _refuse_full_key(key: str, field: str) -> None:
    if key.startswith(ROOT_PREFIX):
        raise InvalidInput(
            f"{key!r}: keys starting with {ROOT_PREFIX} are reserved.",
            details={field: f"relative to the org's data; not starting with {ROOT_PREFIX}"},
        )


@contextmanager
def key_errors(field: str = "key") -> Iterator[None]:
    """The store's refusals as the API's: a key that is not the org's is a bad request (400
    naming `field`), a missing object 404 `object_not_found`."""
    try:
        yield
    except NodeError as exc:
        if exc.error_type == "object_not_found":
            raise NotFound(exc.message, code="object_not_found") from exc
        raise InvalidInput(exc.message, details={field: exc.message}) from exc


def modified_at(status: os.stat_result) -> datetime:
    return datetime.fromtimestamp(status.st_mtime, UTC)


# --- upload --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A request body received into a partial file beside its object, not yet in place."""

    key: str
    path: Path
    temp: Path
    size: int
    etag: str

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


async def receive(
    store: DirectoryObjectStore,
    key: str,
    body: AsyncIterable[bytes],
    *,
    overwrite: bool,
    declared: str | None,
    limit: int,
) -> Upload:
    """Stream `body` into a partial file beside the object, at most `limit` bytes (413
    `object_too_large` as soon as the declared length or the bytes received pass it). Refuses
    before reading the body a key that is not one, or an object that exists when not `overwrite`
    (`place` checks that again, atomically)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise object_too_large(limit)
    path, file, temp = await anyio.to_thread.run_sync(_start_upload, store, key, overwrite)
    digest, size, buffer = hashlib.md5(usedforsecurity=False), 0, bytearray()
    try:
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise object_too_large(limit)
            digest.update(chunk)
            buffer += chunk
            if len(buffer) >= CHUNK_BYTES:
                await anyio.to_thread.run_sync(file.write, bytes(buffer))
                buffer.clear()
        await anyio.to_thread.run_sync(_complete, file, bytes(buffer))
    except BaseException:
        file.close()
        temp.unlink(missing_ok=True)
        raise
    return Upload(key=key, path=path, temp=temp, size=size, etag=digest.hexdigest())


def place(upload: Upload, *, overwrite: bool) -> os.stat_result:
    """Put a received upload in place atomically (a reader sees the old object or the new one);
    409 when `overwrite` is false and the object exists, or when the key is a folder's."""
    try:
        if overwrite:
            os.replace(upload.temp, upload.path)
        else:
            os.link(upload.temp, upload.path)  # fails, atomically, when the object exists
            upload.temp.unlink()
    except FileExistsError as exc:
        if upload.path.is_dir():
            raise _folder_conflict(upload.key) from exc
        raise _exists(upload.key) from exc
    except IsADirectoryError as exc:
        raise _folder_conflict(upload.key) from exc
    status = upload.path.stat()
    _ETAGS.put(status, upload.etag)
    return status


def _start_upload(store: DirectoryObjectStore, key: str, overwrite: bool) -> tuple[Path, BinaryIO, Path]:
    path = object_path(store, key)
    if not overwrite and path.exists():
        raise _folder_conflict(key) if path.is_dir() else _exists(key)
    try:
        return path, *store.partial_file(path)
    except (FileExistsError, NotADirectoryError) as exc:  # a folder of the key is an object
        raise Conflict(
            f"A folder of {path.name!r} is an object.", details={"key": "a parent folder is an object"}
        ) from exc


def _complete(file: BinaryIO, rest: bytes) -> None:
    with file:
        file.write(rest)
        file.flush()
        os.fsync(file.fileno())


def _exists(key: str) -> Conflict:
    return Conflict(f"The object {key!r} exists.", details={"key": "exists; overwrite=true replaces it"})


def _folder_conflict(key: str) -> Conflict:
    return Conflict(f"{key!r} is a folder of other objects.", details={"key": "a folder of other objects"})


# --- download ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """An object opened for reading: what is sent is what was measured, whatever replaces or
    deletes the object meanwhile."""

    file: BinaryIO
    size: int
    etag: str
    modified_at: datetime
    media_type: str


def open_object(store: DirectoryObjectStore, key: str) -> Download:
    """Open a stored object (404 `object_not_found` when absent)."""
    object_path(store, key)
    with key_errors():
        path = store.file(key)
    try:
        file = path.open("rb")
    except (FileNotFoundError, IsADirectoryError) as exc:  # deleted or replaced by a folder since
        raise NotFound(f"No object {key!r} in the object store.", code="object_not_found") from exc
    try:
        status = os.fstat(file.fileno())
        etag = _ETAGS.get(status) or _ETAGS.put(status, _md5(file))
        file.seek(0)
    except BaseException:
        file.close()
        raise
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Download(file, status.st_size, etag, modified_at(status), media_type)


async def send(file: BinaryIO) -> AsyncIterator[bytes]:
    """The open file's content, a chunk per thread hop; closes it at the end or on disconnect."""
    try:
        while chunk := await anyio.to_thread.run_sync(file.read, CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


def _md5(file: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := file.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


class _EtagCache:
    """MD5s by file identity and version (device, inode, size, modification time): an object is
    hashed once per process, by its upload or its first download. Replacing an object (a rename
    onto it) makes a new inode."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._etags: OrderedDict[tuple[int, int, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, status: os.stat_result) -> str | None:
        with self._lock:
            etag = self._etags.get(_identity(status))
            if etag is not None:
                self._etags.move_to_end(_identity(status))
            return etag

    def put(self, status: os.stat_result, etag: str) -> str:
        with self._lock:
            self._etags[_identity(status)] = etag
            while len(self._etags) > self._size:
                self._etags.popitem(last=False)
        return etag


def _identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


_ETAGS = _EtagCache(_ETAG_CACHE_SIZE)

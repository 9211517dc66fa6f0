"""The object store's interface and what its operations answer.

An upload names its object by a key the server built; the store never takes a key from a client.
A part's ETag is the quoted MD5 hex digest of its bytes, as S3 answers it, so a client handles
both stores the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

CHUNK_BYTES = 1024 * 1024


class StorageError(Exception):
    """A store refused an operation; `details` names what, by field, for the API's error body."""

    def __init__(self, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class PartProblem(StorageError):
    """A part is missing, has another ETag than the client says, or has the wrong size."""


class ObjectExists(StorageError):
    """The key already holds an object: a completed upload never replaces one."""


@dataclass(frozen=True)
class PartSpec:
    """A part as the completing client names it, with the size the upload planned for it."""

    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class StoredObject:
    """An assembled object: its URI as flow versions store it, its size and SHA-256 hex digest."""

    uri: str
    size: int
    sha256: str
    key: str = field(default="")


class ArtifactStore(Protocol):
    """Multipart uploads into the store, and reading and removing what it holds."""

    kind: str

    def create_multipart(self, *, upload_id: str, key: str) -> str | None:
        """Begin an upload of `key`; answers the store's own upload id (None: the store has none)."""

    def part_url(
        self,
        *,
        upload_id: str,
        backend_id: str | None,
        key: str,
        part_number: int,
        size: int,
        expires_at: datetime,
        base_url: str,
    ) -> str:
        """Where the client PUTs part `part_number` (exactly `size` bytes) until `expires_at`."""

    def complete(
        self, *, upload_id: str, backend_id: str | None, key: str, parts: Sequence[PartSpec]
    ) -> StoredObject:
        """Assemble the parts, in order, into `key`: PartProblem when a part is missing or differs,
        ObjectExists when the key holds an object already. The staged parts stay until
        `discard_parts` (local) or are consumed (S3)."""

    def discard_parts(self, *, upload_id: str, backend_id: str | None, key: str) -> None:
        """Remove an upload's staged parts (after it completed, or to abort it)."""

    def remove(self, key: str) -> None:
        """Remove the object `key` (nothing when there is none)."""

    def uri(self, key: str) -> str:
        """The reference a flow version stores for `key`."""

    def key_of(self, uri: str) -> str | None:
        """The key of a reference to this store; None when `uri` names another store."""

    def exists(self, key: str) -> bool:
        """Whether `key` holds an object."""

    def chunks(self, key: str) -> Iterator[bytes]:
        """The object's bytes, streamed."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under `prefix`."""

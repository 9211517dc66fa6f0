"""`LocalStore`: artifacts in a folder (`DAGY_HOME/objects`), parts staged per upload.

The server receives the parts itself, at URLs it signs (`PartSigner`): an HMAC-SHA256 over the
upload id, the part number, the part's size and the URL's expiry, so a URL lets its holder put
that one part, of that size, until then. A part is streamed to a temporary file in the upload's
staging folder (`DAGY_HOME/uploads/<upload_id>/`) while its MD5 is computed, and renamed to
`part-<n>.<md5 hex>` when its size is right: the name carries the ETag, and a part is either
wholly there or absent. Completing streams the parts in order into a temporary file beside the
final key (hashing SHA-256 on the way) and links it into place, which fails when the key holds an
object already: nothing is ever replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from dagy.storage.base import CHUNK_BYTES, ObjectExists, PartProblem, PartSpec, StorageError, StoredObject

_PARTIAL = ".partial"


class PartSigner:
    """Signs and checks the part URLs of the local store."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def signature(self, upload_id: str, part_number: int, size: int, expires: int) -> str:
        message = f"{upload_id}\n{part_number}\n{size}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(
        self, upload_id: str, part_number: int, *, size: int, expires: int, signature: str, now: float
    ) -> bool:
        """Whether `signature` is this URL's and it has not expired (compared in constant time)."""
        expected = self.signature(upload_id, part_number, size, expires)
        return hmac.compare_digest(expected, signature) and now < expires


class PartSink:
    """One part being received: bytes go to a temporary file and into its MD5 as they arrive."""

    def __init__(self, folder: Path, part_number: int) -> None:
        self.folder = folder
        self.part_number = part_number
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._path = folder / f"{_part_stem(part_number)}.{secrets.token_hex(6)}{_PARTIAL}"
        self._file: BinaryIO = self._path.open("xb")

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._md5.update(data)
        self.size += len(data)

    def commit(self) -> str:
        """Keep the part (replacing an earlier copy of it); answers its ETag."""
        self._file.close()
        digest = self._md5.hexdigest()
        for earlier in self.folder.glob(f"{_part_stem(self.part_number)}.*"):
            if not earlier.name.endswith(_PARTIAL):
                earlier.unlink(missing_ok=True)
        self._path.rename(self.folder / f"{_part_stem(self.part_number)}.{digest}")
        return f'"{digest}"'

    def discard(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


class LocalStore:
    kind = "local"

    def __init__(self, objects: Path, uploads: Path, signer: PartSigner) -> None:
        self.objects = objects
        self.uploads = uploads
        self.signer = signer

    # Uploads

    def create_multipart(self, *, upload_id: str, key: str) -> str | None:
        self._staging(upload_id).mkdir(parents=True, exist_ok=False)
        return None

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
        expires = int(expires_at.timestamp())
        signature = self.signer.signature(upload_id, part_number, size, expires)
        return (
            f"{base_url.rstrip('/')}/v1/artifacts/uploads/{upload_id}/parts/{part_number}"
            f"?size={size}&expires={expires}&signature={signature}"
        )

    def receiving(self, upload_id: str) -> bool:
        """Whether the upload is open for parts (begun, neither completed nor aborted)."""
        return _is_segment(upload_id) and self._staging(upload_id).is_dir()

    def part_sink(self, upload_id: str, part_number: int) -> PartSink:
        return PartSink(self._staging(upload_id), part_number)

    def complete(
        self, *, upload_id: str, backend_id: str | None, key: str, parts: Sequence[PartSpec]
    ) -> StoredObject:
        files = [self._checked_part(upload_id, part) for part in parts]
        final = self._path(key)
        if final.exists():
            raise ObjectExists(f"The store holds {key} already.", {"artifact_key": "already exists"})
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f".{final.name}.{secrets.token_hex(6)}{_PARTIAL}"
        sha256, size = hashlib.sha256(), 0
        try:
            with temp.open("xb") as out:
                for path in files:
                    with path.open("rb") as part:
                        while chunk := part.read(CHUNK_BYTES):
                            out.write(chunk)
                            sha256.update(chunk)
                            size += len(chunk)
            os.link(temp, final)  # fails when the key holds an object: never replaced
        except FileExistsError as exc:
            raise ObjectExists(f"The store holds {key} already.", {"artifact_key": "already exists"}) from exc
        finally:
            temp.unlink(missing_ok=True)
        return StoredObject(uri=key, size=size, sha256=sha256.hexdigest(), key=key)

    def discard_parts(self, *, upload_id: str, backend_id: str | None, key: str) -> None:
        if _is_segment(upload_id):
            shutil.rmtree(self._staging(upload_id), ignore_errors=True)

    # Objects

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return key

    def key_of(self, uri: str) -> str | None:
        return None if "://" in uri else uri

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def path(self, key: str) -> Path:
        """The file holding `key` (served as it is, with sendfile)."""
        return self._path(key)

    def chunks(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix.rstrip("/")), ignore_errors=True)

    def _checked_part(self, upload_id: str, part: PartSpec) -> Path:
        stem = _part_stem(part.part_number)
        found = [p for p in self._staging(upload_id).glob(f"{stem}.*") if not p.name.endswith(_PARTIAL)]
        field = f"parts.{part.part_number}"
        if not found:
            raise PartProblem(f"Part {part.part_number} was not uploaded.", {field: "not uploaded"})
        path = found[0]
        if f'"{path.name.split(".", 1)[1]}"' != _quoted(part.etag):
            raise PartProblem(
                f"Part {part.part_number} has another ETag.", {field: "the ETag does not match"}
            )
        if path.stat().st_size != part.size:
            raise PartProblem(
                f"Part {part.part_number} has the wrong size.", {field: f"must be {part.size} bytes"}
            )
        return path

    def _staging(self, upload_id: str) -> Path:
        return self.uploads / upload_id

    def _path(self, key: str) -> Path:
        """The file of `key`; a key that would leave the folder is refused."""
        parts = PurePosixPath(key).parts
        if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"{key!r} is not an object key.", {"artifact_key": "not an object key"})
        return self.objects.joinpath(*parts)


def _part_stem(part_number: int) -> str:
    return f"part-{part_number:05d}"


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _is_segment(value: str) -> bool:
    return bool(value) and value.replace("_", "").isalnum()

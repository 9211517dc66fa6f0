"""What a sensor watches, read from outside the database: an S3 (or S3-compatible) prefix, the org's
part of Dagy's local object store, or a URL. No database here: the sensor loop and the test endpoint
call these outside any transaction and record what they answer.

Every failure is a `SourceUnreachable` whose message names the cause (the bucket that does not
exist, the address the SSRF guard refused) and never a credential.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from dagy.nodes.base import NodeError
from dagy.nodes.net import blocked_reason
from dagy.runtime.objects import DirectoryObjectStore
from dagy.server.domains.sensors.config import S3Config

MAX_LISTED_OBJECTS = 10_000  # objects one check of an s3 sensor looks at, in key order
MAX_POLL_BYTES = 10 * 1024 * 1024  # a polled answer larger than this is a failure
MAX_EVENT_BODY_BYTES = 256 * 1024  # a polled JSON answer up to this size travels in the event
POLL_TIMEOUT_SECONDS = 10.0
S3_TIMEOUT_SECONDS = 10


class SourceUnreachable(Exception):
    """The source could not be read; the message says why, for the sensor's events and the API."""


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def dedup_key(self) -> str:
        """What makes it one event: the key and its version (a new upload under the same key fires)."""
        return f"{self.key}#{self.etag}"


@dataclass(frozen=True)
class S3Credentials:
    """Resolved from the sensor's secret references; never shown by a repr."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class PollAnswer:
    status_code: int
    digest: str
    size: int
    document: Any  # the parsed JSON answer, or None when it is not JSON


# --- S3 -----------------------------------------------------------------------------------------


def list_s3(
    config: S3Config,
    credentials: S3Credentials | None,
    *,
    allow_private: bool,
    limit: int = MAX_LISTED_OBJECTS,
) -> list[ListedObject]:
    """The objects under the prefix in key order (at most `limit`); folder markers are not objects."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto3 loads on first use

    client = _s3_client(config, credentials, allow_private=allow_private)
    found: list[ListedObject] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=config.bucket, Prefix=config.prefix, PaginationConfig={"PageSize": min(limit, 1000)}
        )
        for page in pages:
            for item in page.get("Contents", ()):
                if not item["Key"].endswith("/"):
                    found.append(_listed(item))
            if len(found) >= limit:
                return found[:limit]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', '')} {error.get('Message') or ''}".strip()
        raise SourceUnreachable(f"s3://{config.bucket}/{config.prefix}: {reason}") from None
    except BotoCoreError as exc:
        raise SourceUnreachable(f"s3://{config.bucket}/{config.prefix}: {exc}") from None
    return found


def _listed(item: Mapping[str, Any]) -> ListedObject:
    modified = item["LastModified"]
    return ListedObject(
        key=str(item["Key"]),
        size=int(item.get("Size", 0)),
        etag=str(item.get("ETag", "")).strip('"'),
        last_modified=modified.astimezone(UTC) if modified.tzinfo else modified.replace(tzinfo=UTC),
    )


def _s3_client(config: S3Config, credentials: S3Credentials | None, *, allow_private: bool) -> Any:
    """A boto3 client for the sensor. Without credentials its requests are unsigned (public buckets):
    the server never lends its own AWS identity to an org's sensor. An `endpoint_url` passes the SSRF
    guard; S3-compatible stores get path-style addressing."""
    from botocore import UNSIGNED  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    endpoint = config.endpoint_url
    if endpoint is not None:
        reason = blocked_reason(endpoint, allow_private=allow_private)
        if reason is not None:
            raise SourceUnreachable(f"endpoint_url refused by the SSRF guard: {reason}")
    settings = Config(
        connect_timeout=S3_TIMEOUT_SECONDS,
        read_timeout=S3_TIMEOUT_SECONDS,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else {},
        signature_version=UNSIGNED if credentials is None else None,
    )
    with _BOTO_LOCK:  # a boto3 session is not thread-safe; the clients it makes are
        return _boto_session().client(
            "s3",
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            region_name=config.region or "us-east-1",
            endpoint_url=endpoint,
            config=settings,
        )


_BOTO_LOCK = threading.Lock()


@functools.cache
def _boto_session() -> Any:
    """One boto3 session per process: it loads S3's service model once."""
    import boto3  # noqa: PLC0415 - imported when a sensor first lists S3

    return boto3.session.Session()


# --- Dagy's local object store ---------------------------------------------------------------


def list_local(
    objects_dir: Path, org_id: str, prefix: str, *, limit: int = MAX_LISTED_OBJECTS
) -> list[ListedObject]:
    """The org's objects under `prefix` (relative to its data, as runs name keys), in key order. The
    etag is the file's size and modification time: a rewrite is a new version."""
    store = DirectoryObjectStore(objects_dir, org_id)
    try:
        keys = store.list(prefix)
    except NodeError as exc:
        raise SourceUnreachable(f"prefix {prefix!r}: {exc}") from None
    except OSError as exc:
        raise SourceUnreachable(f"the local object store cannot be read: {exc.strerror}") from None
    found: list[ListedObject] = []
    for key in keys[:limit]:
        try:
            stat = (objects_dir / key).stat()
        except FileNotFoundError:  # removed since it was listed
            continue
        found.append(
            ListedObject(
                key=key.removeprefix(store.data_prefix),
                size=stat.st_size,
                etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
                last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            )
        )
    return found


# --- Polling ------------------------------------------------------------------------------------


def poll(url: str, headers: Mapping[str, str], *, allow_private: bool) -> PollAnswer:
    """GET `url`: its body's SHA-256, and the body itself when it is JSON of at most
    `MAX_EVENT_BODY_BYTES`. A non-2xx answer, a refused address (redirects included) or a body over
    `MAX_POLL_BYTES` is `SourceUnreachable`."""

    def guard(request: httpx.Request) -> None:
        reason = blocked_reason(str(request.url), allow_private=allow_private)
        if reason is not None:
            raise SourceUnreachable(f"refused by the SSRF guard: {reason}")

    try:
        with (
            httpx.Client(
                timeout=POLL_TIMEOUT_SECONDS,
                follow_redirects=True,
                event_hooks={"request": [guard]},
                headers={"User-Agent": "dagy-sensor"},
            ) as client,
            client.stream("GET", url, headers=dict(headers)) as response,
        ):
            body = b"".join(_capped(response.iter_bytes()))
            status = response.status_code
    except httpx.HTTPError as exc:
        raise SourceUnreachable(f"GET {url}: {type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise SourceUnreachable(f"GET {url} answered HTTP {status}")
    return PollAnswer(
        status_code=status, digest=hashlib.sha256(body).hexdigest(), size=len(body), document=_json(body)
    )


def _capped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > MAX_POLL_BYTES:
            raise SourceUnreachable(f"the answer is larger than {MAX_POLL_BYTES} bytes")
        yield chunk


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def event_document(answer: PollAnswer) -> Any:
    """The answer as a polling event carries it: small JSON answers whole, others not at all."""
    return answer.document if answer.size <= MAX_EVENT_BODY_BYTES else None

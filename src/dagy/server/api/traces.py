"""Traces of unhandled errors, kept for operators and the super-admin exceptions endpoints.

The client gets a 500 with a request id and no stack trace; the trace is written to the object
store as one JSON object per error under `exceptions/`, named by a key that sorts by time: the
folder `DAGY_HOME/objects/exceptions/` by default, the `DAGY_S3_BUCKET` bucket when one is set.

A trace holds the request id, method, route template (never the raw path, which may carry a
webhook token, nor the query string), the org and user of the caller when known, the exception's
type, message and stack. It holds no request headers and no body; the caller's bearer token, API
keys and the values of the server's secret settings are replaced by `[REDACTED]` wherever they
appear in the message or the stack.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dagy.server.db.base import new_id, utcnow
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.traces")

PREFIX = "exceptions/"
REDACTED = "[REDACTED]"
KEY_PATTERN = r"^trace_[0-9a-z]{26}$"
_KEY = re.compile(KEY_PATTERN)
_API_KEY = re.compile(r"dagy_sk_[A-Za-z0-9_\-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+")
_MAX_TEXT = 256 * 1024  # a stack past this is cut, so one error cannot fill the store
DOWNLOAD_URL_SECONDS = 900


@dataclass(frozen=True)
class TraceInfo:
    """One stored trace as a listing sees it."""

    key: str
    size_bytes: int
    created_at: datetime


@dataclass(frozen=True)
class ErrorContext:
    """What the error handler knows about the failed request."""

    request_id: str
    method: str
    route: str | None
    org_id: str | None
    user_email: str | None
    impersonating: bool
    bearer_token: str | None


class TraceBackend(Protocol):
    """Where traces are kept: a folder, or a bucket."""

    def put(self, key: str, body: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def delete(self, key: str) -> bool: ...
    def list(self) -> list[TraceInfo]: ...
    def download_url(self, key: str, base_url: str) -> str: ...


def is_trace_key(key: str) -> bool:
    return bool(_KEY.match(key))


class TraceStore:
    """Records traces with secrets removed, and lists, reads and deletes them."""

    def __init__(self, backend: TraceBackend, secret_values: Iterable[str] = ()) -> None:
        self.backend = backend
        # Longest first, so a value that contains another is replaced whole.
        self._secrets = sorted({v for v in secret_values if len(v) >= 8}, key=len, reverse=True)

    def record(self, context: ErrorContext, exc_type: str, message: str, stack: str) -> str:
        """Write one trace; answer its key. Never raises: a full disk must not hide the original error."""
        key = new_id("trace")
        secrets = [context.bearer_token, *self._secrets] if context.bearer_token else self._secrets
        body = {
            "key": key,
            "timestamp": utcnow().isoformat(),
            "request_id": context.request_id,
            "method": context.method,
            "route": context.route,
            "org_id": context.org_id,
            "user_email": context.user_email,
            "impersonating": context.impersonating,
            "exception_type": exc_type,
            "message": redact(message, secrets)[:_MAX_TEXT],
            "traceback": redact(stack, secrets)[:_MAX_TEXT],
        }
        try:
            self.backend.put(key, json.dumps(body).encode())
        except Exception as exc:
            log.error("could not store the trace of request %s: %s", context.request_id, exc)
        return key

    def list(self, limit: int) -> list[TraceInfo]:
        """The newest `limit` traces, newest first (keys sort by time)."""
        return sorted(self.backend.list(), key=lambda t: t.key, reverse=True)[:limit]

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.backend.get(key) if is_trace_key(key) else None
        if raw is None:
            return None
        loaded: dict[str, Any] = json.loads(raw)
        return loaded

    def delete(self, keys: Sequence[str]) -> int:
        """Delete the traces of `keys`; answers how many existed."""
        return sum(1 for key in dict.fromkeys(keys) if is_trace_key(key) and self.backend.delete(key))

    def download_url(self, key: str, base_url: str) -> str | None:
        if not is_trace_key(key) or self.backend.get(key) is None:
            return None
        return self.backend.download_url(key, base_url)


def redact(text: str, secrets: Sequence[str]) -> str:
    for value in secrets:
        text = text.replace(value, REDACTED)
    text = _API_KEY.sub(REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


class FolderTraces:
    """Traces as files under a folder (`DAGY_HOME/objects/exceptions/`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, key: str, body: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{key}.json").write_bytes(body)

    def get(self, key: str) -> bytes | None:
        try:
            return (self.folder / f"{key}.json").read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        path = self.folder / f"{key}.json"
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

    def list(self) -> list[TraceInfo]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("trace_*.json"):
            stat = path.stat()
            created = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(TraceInfo(key=path.stem, size_bytes=stat.st_size, created_at=created))
        return found

    def download_url(self, key: str, base_url: str) -> str:
        """The server's own content URL: a local folder has no presigned URLs, so the download
        needs the super admin's bearer token."""
        return f"{base_url.rstrip('/')}/v1/admin/exceptions/content?key={quote(key)}"


class BucketTraces:
    """Traces as objects under `exceptions/` in an S3-compatible bucket."""

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str | None) -> None:
        import boto3  # noqa: PLC0415 - boto3 loads only on an installation that uses S3
        from botocore.config import Config  # noqa: PLC0415 - as above

        self.bucket = bucket
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"} if endpoint_url else {})
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    def put(self, key: str, body: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket, Key=PREFIX + key + ".json", Body=body, ContentType="application/json"
        )

    def get(self, key: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=PREFIX + key + ".json")
        except self._client.exceptions.NoSuchKey:
            return None
        data: bytes = answer["Body"].read()
        return data

    def delete(self, key: str) -> bool:
        if self.get(key) is None:
            return False
        self._client.delete_object(Bucket=self.bucket, Key=PREFIX + key + ".json")
        return True

    def list(self) -> list[TraceInfo]:
        found = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX):
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(PREFIX) :].removesuffix(".json")
                if is_trace_key(name):
                    found.append(
                        TraceInfo(key=name, size_bytes=int(item["Size"]), created_at=item["LastModified"])
                    )
        return found

    def download_url(self, key: str, base_url: str) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": PREFIX + key + ".json"},
            ExpiresIn=int(timedelta(seconds=DOWNLOAD_URL_SECONDS).total_seconds()),
        )
        return url


def trace_store(settings: Settings) -> TraceStore:
    """The installation's trace store: the S3 bucket when one is configured, else the local folder."""
    backend: TraceBackend
    if settings.s3_bucket:
        backend = BucketTraces(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    else:
        backend = FolderTraces(settings.home / "objects" / PREFIX.rstrip("/"))
    return TraceStore(backend, [*secret_values(settings), *url_passwords(settings)])


def url_passwords(settings: Settings) -> list[str]:
    """The passwords inside the database and Redis URLs."""
    found = []
    for url in (settings.database_url, settings.redis_url):
        try:
            password = make_url(url).password if url else None
        except ArgumentError:  # not a URL SQLAlchemy reads: nothing to take from it
            password = None
        if password:
            found.append(str(password))
    return found


def secret_values(model: BaseModel) -> list[str]:
    """Every `SecretStr` value of the settings, nested groups included."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return found

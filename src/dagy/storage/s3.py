"""`S3Store`: artifacts in an S3-compatible bucket through boto3.

The client PUTs each part to a presigned `upload_part` URL; completing checks the parts S3 holds
against the ones the client names (number, ETag, size), asks S3 to assemble them
(`complete_multipart_upload`), then reads the object back once for its SHA-256. Credentials come
from boto3's usual chain (environment, shared files, instance roles).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from dagy.storage.base import CHUNK_BYTES, ObjectExists, PartProblem, PartSpec, StoredObject

_MISSING = ("404", "NoSuchKey", "NotFound")


class S3Store:
    kind = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3  # noqa: PLC0415 - boto3 loads only on an installation that uses S3
        from botocore.config import Config  # noqa: PLC0415 - as above

        self.bucket = bucket
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"} if endpoint_url else {})
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    def create_multipart(self, *, upload_id: str, key: str) -> str | None:
        answer = self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="application/zip"
        )
        return str(answer["UploadId"])

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
        seconds = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        params = {"Bucket": self.bucket, "Key": key, "UploadId": backend_id, "PartNumber": part_number}
        return str(self._client.generate_presigned_url("upload_part", Params=params, ExpiresIn=seconds))

    def complete(
        self, *, upload_id: str, backend_id: str | None, key: str, parts: Sequence[PartSpec]
    ) -> StoredObject:
        held = self._held_parts(key, backend_id)
        for part in parts:
            _check_part(part, held.get(part.part_number))
        if self.exists(key):
            raise ObjectExists(f"The bucket holds {key} already.", {"artifact_key": "already exists"})
        self._client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=backend_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p.part_number, "ETag": _quoted(p.etag)} for p in parts]
            },
        )
        sha256, size = hashlib.sha256(), 0
        for chunk in self.chunks(key):
            sha256.update(chunk)
            size += len(chunk)
        return StoredObject(uri=self.uri(key), size=size, sha256=sha256.hexdigest(), key=key)

    def discard_parts(self, *, upload_id: str, backend_id: str | None, key: str) -> None:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - boto3 loads on first use

        if backend_id is None:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=backend_id)
        except ClientError as exc:  # completed or aborted already: nothing is left to remove
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
                raise

    def remove(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key_of(self, uri: str) -> str | None:
        prefix = f"s3://{self.bucket}/"
        return uri.removeprefix(prefix) if uri.startswith(prefix) else None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - boto3 loads on first use

        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def chunks(self, key: str) -> Iterator[bytes]:
        body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def delete_prefix(self, prefix: str) -> None:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def _held_parts(self, key: str, backend_id: str | None) -> dict[int, dict[str, Any]]:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - boto3 loads on first use

        held: dict[int, dict[str, Any]] = {}
        try:
            pages = self._client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=backend_id
            )
            for page in pages:
                held |= {int(p["PartNumber"]): p for p in page.get("Parts", [])}
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise PartProblem("The bucket has no such upload.", {"upload_id": "no parts held"}) from exc
            raise
        return held


def _check_part(part: PartSpec, held: dict[str, Any] | None) -> None:
    field = f"parts.{part.part_number}"
    if held is None:
        raise PartProblem(f"Part {part.part_number} was not uploaded.", {field: "not uploaded"})
    if _quoted(str(held["ETag"])) != _quoted(part.etag):
        raise PartProblem(f"Part {part.part_number} has another ETag.", {field: "the ETag does not match"})
    if int(held["Size"]) != part.size:
        raise PartProblem(
            f"Part {part.part_number} has the wrong size.", {field: f"must be {part.size} bytes"}
        )


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'

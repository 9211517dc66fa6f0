"""Bodies of `/objects`: an object's metadata; its content travels as the raw request and response
body."""

from __future__ import annotations

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel


class ObjectRead(ResponseModel):
    key: str = Field(description="The key relative to the org's data, as a `file_read` node names it.")
    size: int = Field(description="Bytes.")
    modified_at: Timestamp


class ObjectWritten(ObjectRead):
    etag: str = Field(description="The content's MD5, hex; the `ETag` a download answers.")


class ObjectList(ResponseModel):
    items: list[ObjectRead]
    next_token: str | None = None

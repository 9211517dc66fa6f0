"""`/objects`, `/objects/{key}`: the org's data files, the ones its flows read and write (docs/objects.md).

Reading and listing take `flows.read`, writing and deleting `flows.write`. The content is the raw
body both ways: an upload is streamed to a partial file beside the object and renamed into place,
at most `max_object_bytes` (`DAGY_MAX_OBJECT_BYTES`); a download is streamed from the one file it
opened, so its `Content-Length` and `ETag` (the MD5) hold whatever replaces the object meanwhile.
"""

from __future__ import annotations

import functools
from email.utils import format_datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.objects import files, service
from dagy.server.domains.objects.schemas import ObjectList, ObjectWritten

router = APIRouter(prefix="/objects", tags=["Objects"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]

Paging = Annotated[PageRequest, Depends(page_params(default=100, maximum=1000))]
Prefix = Annotated[str, Query(max_length=1024, description="Only the keys starting with this.")]
_CONTENT = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@router.get("", response_model=ObjectList, response_class=JSONBytesResponse, dependencies=_read)
async def list_objects(
    actor: CurrentActor, settings: SettingsDep, page: Paging, prefix: Prefix = ""
) -> JSONBytesResponse:
    """The org's objects in key order."""
    list_page = functools.partial(
        service.list_objects, actor=actor, settings=settings, prefix=prefix, page=page
    )
    return page_response(await anyio.to_thread.run_sync(list_page))


@router.get(
    "/{key:path}",
    response_class=StreamingResponse,
    responses={200: _CONTENT},
    dependencies=_read,
)
async def get_object(key: str, actor: CurrentActor, settings: SettingsDep) -> StreamingResponse:
    """The object's content, with its `Content-Type` guessed from its name and its MD5 as `ETag`."""
    store = files.org_store(settings, actor.org_id)
    found = await anyio.to_thread.run_sync(files.open_object, store, key)
    headers = {
        "Content-Length": str(found.size),
        "ETag": f'"{found.etag}"',
        "Last-Modified": format_datetime(found.modified_at, usegmt=True),
    }
    return StreamingResponse(files.send(found.file), media_type=found.media_type, headers=headers)


@router.put(
    "/{key:path}",
    status_code=201,
    response_model=ObjectWritten,
    openapi_extra={"requestBody": {"required": True, **_CONTENT}},
    dependencies=_write,
)
async def put_object(
    key: str,
    request: Request,
    *,
    tx: Tx,
    actor: CurrentActor,
    settings: SettingsDep,
    overwrite: Annotated[bool, Query(description="false: 409 when the object exists.")] = True,
) -> ObjectWritten:
    """Store the request body (any content type) under `key`, replacing the object atomically."""
    store = files.org_store(settings, actor.org_id)
    upload = await files.receive(
        store,
        key,
        request.stream(),
        overwrite=overwrite,
        declared=request.headers.get("content-length"),
        limit=settings.max_object_bytes,
    )
    try:
        return await tx.run(service.put_object, actor=actor, upload=upload, overwrite=overwrite)
    finally:
        upload.discard()


@router.delete("/{key:path}", status_code=204, response_class=Response, dependencies=_write)
async def delete_object(key: str, tx: Tx, actor: CurrentActor, settings: SettingsDep) -> Response:
    await tx.run(service.delete_object, actor=actor, key=key, settings=settings)
    return Response(status_code=204)

"""`/artifacts`: multipart uploads of flow artifacts (docs/artifacts.md).

Initiate, complete and abort take the caller's bearer token (`flows.write`). The part URLs of the
local store (`PUT /artifacts/uploads/{upload_id}/parts/{n}`) take none: their signature is the
credential, as a presigned S3 URL's is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from dagy.server.api.deps import ArtifactStoreDep, SettingsDep, Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.artifacts import parts, service
from dagy.server.domains.artifacts.schemas import (
    MAX_PART_BYTES,
    MAX_PARTS,
    ArtifactUploadAbort,
    ArtifactUploadComplete,
    ArtifactUploadCompleted,
    ArtifactUploadCreate,
    ArtifactUploadInitiated,
)
from dagy.server.errors import NotFound
from dagy.storage import LocalStore

router = APIRouter(prefix="/artifacts", tags=["Artifacts"])

_write = [Depends(require_permission("flows.write"))]


@router.post("/initiate", response_model=ArtifactUploadInitiated, dependencies=_write)
async def initiate_upload(
    body: ArtifactUploadCreate,
    request: Request,
    tx: Tx,
    actor: CurrentActor,
    *,
    settings: SettingsDep,
    store: ArtifactStoreDep,
) -> ArtifactUploadInitiated:
    """Plan the parts and answer one URL per part; PUT each part there and keep its ETag."""
    return await tx.run(
        service.initiate_upload,
        actor=actor,
        data=body,
        settings=settings,
        store=store,
        base_url=str(request.base_url),
    )


@router.post("/complete", response_model=ArtifactUploadCompleted, dependencies=_write)
async def complete_upload(
    body: ArtifactUploadComplete, tx: Tx, actor: CurrentActor, settings: SettingsDep, store: ArtifactStoreDep
) -> ArtifactUploadCompleted:
    """Assemble the parts in order, verify them, register the flow version and place the deployment."""
    return await tx.run(service.complete_upload, actor=actor, data=body, settings=settings, store=store)


@router.post("/abort", status_code=204, response_class=Response, dependencies=_write)
async def abort_upload(
    body: ArtifactUploadAbort, tx: Tx, actor: CurrentActor, store: ArtifactStoreDep
) -> Response:
    """Abort the upload; its parts are removed."""
    await tx.run(service.abort_upload, actor=actor, data=body, store=store)
    return Response(status_code=204)


@router.put(
    "/uploads/{upload_id}/parts/{part_number}",
    response_class=Response,
    responses={
        200: {
            "headers": {
                "ETag": {"description": "The part's ETag (quoted MD5 hex)", "schema": {"type": "string"}}
            }
        }
    },
)
async def upload_part(
    request: Request,
    store: ArtifactStoreDep,
    upload_id: Annotated[str, Path(max_length=40)],
    part_number: Annotated[int, Path(ge=1, le=MAX_PARTS)],
    *,
    size: Annotated[int, Query(ge=1, le=MAX_PART_BYTES)],
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """A part of a local-store upload, at the signed URL `initiate` gave (no bearer token): exactly
    `size` bytes. 403 for a bad or expired signature, 400 for another size."""
    if not isinstance(store, LocalStore):
        raise NotFound("This server stores artifacts in S3: PUT the parts to the URLs initiate gave.")
    etag = await parts.receive_part(
        request,
        store,
        upload_id=upload_id,
        part_number=part_number,
        size=size,
        expires=expires,
        signature=signature,
    )
    return Response(status_code=200, headers={"ETag": etag})

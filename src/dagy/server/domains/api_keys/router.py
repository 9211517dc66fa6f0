"""`/api-keys`: create (the full key is returned once), list, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from dagy.server.api.deps import Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import Page, page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.api_keys import service
from dagy.server.domains.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

router = APIRouter(prefix="/api-keys", tags=["API Keys"])

_admin = [Depends(require_permission("admin.api_keys"))]
KeysPage = Annotated[PageRequest, Depends(page_params(default=100, maximum=100))]


@router.post("", status_code=201, response_model=ApiKeyCreated, dependencies=_admin)
async def create_api_key(body: ApiKeyCreate, tx: Tx, actor: CurrentActor) -> ApiKeyCreated:
    """Only users mint keys, with scopes they hold themselves; the full key is in this answer only."""
    return await tx.run(service.create_api_key, actor=actor, data=body)


@router.get("", response_model=Page[ApiKeyRead], response_class=JSONBytesResponse, dependencies=_admin)
async def list_api_keys(tx: Tx, actor: CurrentActor, page: KeysPage) -> JSONBytesResponse:
    """The org's keys, newest first, with `last_used_at`; never the key or its hash."""
    return page_response(await tx.list(service.list_api_keys, actor=actor, page=page))


@router.delete("/{key_id}", status_code=204, response_class=Response, dependencies=_admin)
async def delete_api_key(key_id: str, tx: Tx, actor: CurrentActor) -> Response:
    await tx.run(service.delete_api_key, actor=actor, key_id=key_id)
    return Response(status_code=204)

"""`/secrets`, `/secrets/{secret_name}`, `/secrets/{secret_name}/value`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.secrets import service
from dagy.server.domains.secrets.schemas import (
    SecretCreate,
    SecretCreated,
    SecretList,
    SecretRead,
    SecretUpdate,
    SecretUpdated,
    SecretValueRead,
)

router = APIRouter(prefix="/secrets", tags=["Secrets Management"])

_read = [Depends(require_permission("secrets.read"))]
_write = [Depends(require_permission("secrets.write"))]

Environment = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="The secret's environment; empty selects the secret without one. When omitted: "
        "the secret without an environment, else the only environment that has this name.",
    ),
]
Paging = Annotated[PageRequest, Depends(page_params(default=100, maximum=500))]


@router.post("", status_code=201, response_model=SecretCreated, dependencies=_write)
async def create_secret(
    body: SecretCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> SecretCreated:
    return await tx.run(service.create_secret, actor=actor, data=body, settings=settings)


@router.get("", response_model=SecretList, response_class=JSONBytesResponse, dependencies=_read)
async def list_secrets(
    tx: Tx, actor: CurrentActor, page: Paging, environment: Environment = None
) -> JSONBytesResponse:
    """Metadata only, never values."""
    return page_response(await tx.list(service.list_secrets, actor=actor, environment=environment, page=page))


@router.get("/{secret_name}", response_model=SecretRead, dependencies=_read)
async def get_secret(
    secret_name: str, tx: Tx, actor: CurrentActor, environment: Environment = None
) -> SecretRead:
    return await tx.run(service.get_secret, actor=actor, name=secret_name, environment=environment)


@router.get("/{secret_name}/value", response_model=SecretValueRead, dependencies=_read)
async def read_secret_value(
    secret_name: str,
    *,
    tx: Tx,
    actor: CurrentActor,
    settings: SettingsDep,
    response: Response,
    environment: Environment = None,
) -> SecretValueRead:
    """The decrypted value. Writes an audit row, hence a write transaction; never cached."""
    response.headers["Cache-Control"] = "no-store"
    return await tx.write(
        service.read_secret_value, actor=actor, name=secret_name, environment=environment, settings=settings
    )


@router.put("/{secret_name}", response_model=SecretUpdated, dependencies=_write)
async def update_secret(
    secret_name: str,
    body: SecretUpdate,
    *,
    tx: Tx,
    actor: CurrentActor,
    settings: SettingsDep,
    environment: Environment = None,
) -> SecretUpdated:
    return await tx.run(
        service.update_secret,
        actor=actor,
        name=secret_name,
        environment=environment,
        data=body,
        settings=settings,
    )


@router.delete("/{secret_name}", status_code=204, response_class=Response, dependencies=_write)
async def delete_secret(
    secret_name: str, tx: Tx, actor: CurrentActor, environment: Environment = None
) -> Response:
    await tx.run(service.delete_secret, actor=actor, name=secret_name, environment=environment)
    return Response(status_code=204)

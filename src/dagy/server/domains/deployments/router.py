"""`/deployments` and `/backends`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.deployments import service
from dagy.server.domains.deployments.schemas import (
    BackendRead,
    DeploymentCreate,
    DeploymentDeleted,
    DeploymentList,
    DeploymentRead,
    DeploymentRollback,
    DeploymentRolledBack,
    DeploymentSettings,
    DeploymentVersionChange,
)

router = APIRouter(tags=["Deployments"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]
Paging = Annotated[PageRequest, Depends(page_params(default=100, maximum=500))]


@router.post(
    "/deployments",
    status_code=201,
    response_model=DeploymentRead,
    dependencies=_write,
    responses={200: {"model": DeploymentRead, "description": "Deployment updated"}},
)
async def save_deployment(
    body: DeploymentCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep, response: Response
) -> DeploymentRead:
    """Create a deployment (201), or update the one of this name (200)."""
    saved = await tx.run(service.save_deployment, actor=actor, data=body, settings=settings)
    if not saved.created:
        response.status_code = 200
    return saved.deployment


@router.get(
    "/deployments", response_model=DeploymentList, response_class=JSONBytesResponse, dependencies=_read
)
async def list_deployments(
    tx: Tx,
    actor: CurrentActor,
    page: Paging,
    environment: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONBytesResponse:
    page_ = await tx.list(service.list_deployments, actor=actor, environment=environment, page=page)
    return page_response(page_)


@router.get("/deployments/{deployment_name}", response_model=DeploymentRead, dependencies=_read)
async def get_deployment(deployment_name: str, tx: Tx, actor: CurrentActor) -> DeploymentRead:
    return await tx.run(service.get_deployment, actor=actor, deployment_name=deployment_name)


@router.patch("/deployments/{deployment_name}", response_model=DeploymentRead, dependencies=_write)
async def change_flow_version(
    deployment_name: str, body: DeploymentVersionChange, tx: Tx, actor: CurrentActor
) -> DeploymentRead:
    """Change the active flow version."""
    return await tx.run(service.change_flow_version, actor=actor, deployment_name=deployment_name, data=body)


@router.put("/deployments/{deployment_name}/settings", response_model=DeploymentRead, dependencies=_write)
async def update_deployment_settings(
    deployment_name: str, body: DeploymentSettings, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> DeploymentRead:
    """Only the fields given change."""
    return await tx.run(
        service.update_deployment_settings,
        actor=actor,
        deployment_name=deployment_name,
        data=body,
        settings=settings,
    )


@router.post(
    "/deployments/{deployment_name}/rollback", response_model=DeploymentRolledBack, dependencies=_write
)
async def rollback_deployment(
    deployment_name: str, body: DeploymentRollback, tx: Tx, actor: CurrentActor
) -> DeploymentRolledBack:
    return await tx.run(service.rollback_deployment, actor=actor, deployment_name=deployment_name, data=body)


@router.delete("/deployments/{deployment_name}", response_model=DeploymentDeleted, dependencies=_write)
async def delete_deployment(deployment_name: str, tx: Tx, actor: CurrentActor) -> DeploymentDeleted:
    return await tx.run(service.delete_deployment, actor=actor, deployment_name=deployment_name)


@router.get("/backends", response_model=list[BackendRead], dependencies=_read, tags=["Flows"])
async def list_backends(tx: Tx, actor: CurrentActor, settings: SettingsDep) -> list[BackendRead]:
    """The executors this installation has, with their capabilities and limits, and whether a
    live worker serves each for the caller's org."""
    return await tx.run(service.list_backends, actor=actor, settings=settings)

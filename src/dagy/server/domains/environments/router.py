"""`/environments`: CRUD, variables, promotion order, diff and promotion.

`/environments/reorder` and `/environments/promote` are declared before `/environments/{env_name}`
so that they are never read as an environment's name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.environments import promotion, service
from dagy.server.domains.environments.schemas import (
    EnvironmentCreate,
    EnvironmentDiff,
    EnvironmentList,
    EnvironmentRead,
    EnvironmentSummary,
    EnvironmentUpdate,
    Promoted,
    Promotion,
    Reorder,
    VariableDeleted,
    Variables,
    VariablesRead,
)

router = APIRouter(prefix="/environments", tags=["Environments"])

_read = [Depends(require_permission("environments.read"))]
_write = [Depends(require_permission("environments.write"))]
Paging = Annotated[PageRequest, Depends(page_params(default=100, maximum=500))]


@router.put("/reorder", response_model=EnvironmentList, dependencies=_write)
async def reorder_environments(body: Reorder, tx: Tx, actor: CurrentActor) -> EnvironmentList:
    """Set the promotion order: the named environments first, in the order given."""
    return await tx.run(service.reorder_environments, actor=actor, data=body)


@router.post("/promote", status_code=201, response_model=Promoted, dependencies=_write)
async def promote_deployment(body: Promotion, tx: Tx, actor: CurrentActor) -> Promoted:
    """Place a deployment's flow version in another environment."""
    return await tx.run(promotion.promote_deployment, actor=actor, data=body)


@router.post("", status_code=201, response_model=EnvironmentSummary, dependencies=_write)
async def create_environment(
    body: EnvironmentCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> EnvironmentSummary:
    return await tx.run(service.create_environment, actor=actor, data=body, settings=settings)


@router.get("", response_model=EnvironmentList, response_class=JSONBytesResponse, dependencies=_read)
async def list_environments(tx: Tx, actor: CurrentActor, page: Paging) -> JSONBytesResponse:
    """In promotion order, then by name."""
    return page_response(await tx.list(service.list_environments, actor=actor, page=page))


@router.get("/{env_name}", response_model=EnvironmentRead, dependencies=_read)
async def get_environment(env_name: str, tx: Tx, actor: CurrentActor) -> EnvironmentRead:
    return await tx.run(service.get_environment, actor=actor, env_name=env_name)


@router.patch("/{env_name}", response_model=EnvironmentRead, dependencies=_write)
async def update_environment(
    env_name: str, body: EnvironmentUpdate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> EnvironmentRead:
    return await tx.run(
        service.update_environment, actor=actor, env_name=env_name, data=body, settings=settings
    )


@router.delete("/{env_name}", status_code=204, response_class=Response, dependencies=_write)
async def delete_environment(env_name: str, tx: Tx, actor: CurrentActor) -> Response:
    """A protected environment answers 404 `protected_environment`; one with deployments, 409."""
    await tx.run(service.delete_environment, actor=actor, env_name=env_name)
    return Response(status_code=204)


@router.get("/{env_name}/variables", response_model=VariablesRead, dependencies=_read)
async def get_variables(env_name: str, tx: Tx, actor: CurrentActor) -> VariablesRead:
    return await tx.run(service.get_variables, actor=actor, env_name=env_name)


@router.put("/{env_name}/variables", response_model=VariablesRead, dependencies=_write)
async def replace_variables(env_name: str, body: Variables, tx: Tx, actor: CurrentActor) -> VariablesRead:
    """Replace every variable."""
    return await tx.run(service.replace_variables, actor=actor, env_name=env_name, data=body)


@router.patch("/{env_name}/variables", response_model=VariablesRead, dependencies=_write)
async def merge_variables(env_name: str, body: Variables, tx: Tx, actor: CurrentActor) -> VariablesRead:
    """Add or overwrite the keys given; the others stay."""
    return await tx.run(service.merge_variables, actor=actor, env_name=env_name, data=body)


@router.delete("/{env_name}/variables/{var_key}", response_model=VariableDeleted, dependencies=_write)
async def delete_variable(env_name: str, var_key: str, tx: Tx, actor: CurrentActor) -> VariableDeleted:
    return await tx.run(service.delete_variable, actor=actor, env_name=env_name, var_key=var_key)


@router.get("/{env_name}/diff/{target_env}", response_model=EnvironmentDiff, dependencies=_read)
async def diff_environments(env_name: str, target_env: str, tx: Tx, actor: CurrentActor) -> EnvironmentDiff:
    """Deployments only in one environment, and flows whose versions differ."""
    return await tx.run(promotion.diff_environments, actor=actor, env_name=env_name, target_env=target_env)

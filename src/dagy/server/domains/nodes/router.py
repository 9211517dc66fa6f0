"""`/nodes/registry...` and `/nodes/validate-connection`: what the builder's node panel shows.

The fixed paths (`builtin`, `custom`, `categories`, `search`) are declared before
`/{node_type}`, so they are never read as a node type.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from dagy.server.api.deps import Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.nodes import service
from dagy.server.domains.nodes.schemas import (
    CategoryList,
    ConnectionCheck,
    ConnectionVerdict,
    CustomNodeCreate,
    CustomNodeUpdate,
    NodeDefinitionRead,
    NodeRegistryList,
)

router = APIRouter(prefix="/nodes", tags=["Node Registry"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]

IncludeCustom = Annotated[bool, Query(description="Include the org's custom node types.")]
OrgId = Annotated[
    str | None, Query(max_length=64, description="Optional; when given, it must be the caller's org.")
]


@router.get("/registry", response_model=NodeRegistryList, dependencies=_read)
async def list_registry(
    tx: Tx, actor: CurrentActor, include_custom: IncludeCustom = True, org_id: OrgId = None
) -> NodeRegistryList:
    """Every built-in node type, then the org's custom ones."""
    return await tx.run(service.list_registry, actor=actor, include_custom=include_custom, org_id=org_id)


@router.get("/registry/builtin", response_model=NodeRegistryList, dependencies=_read)
async def list_builtin_nodes() -> NodeRegistryList:
    return service.list_builtin_nodes()


@router.get("/registry/custom", response_model=NodeRegistryList, dependencies=_read)
async def list_custom_nodes(tx: Tx, actor: CurrentActor) -> NodeRegistryList:
    return await tx.run(service.list_custom_nodes, actor=actor)


@router.get("/registry/categories", response_model=CategoryList, dependencies=_read)
async def list_categories(tx: Tx, actor: CurrentActor, include_custom: IncludeCustom = True) -> CategoryList:
    return await tx.run(service.list_categories, actor=actor, include_custom=include_custom)


@router.get("/registry/search", response_model=NodeRegistryList, dependencies=_read)
async def search_nodes(
    tx: Tx,
    actor: CurrentActor,
    q: Annotated[str, Query(min_length=1, max_length=128, description="Words to find, in any case.")],
    include_custom: IncludeCustom = True,
    org_id: OrgId = None,
) -> NodeRegistryList:
    """Matches node type, label, description and tags; every word must match."""
    return await tx.run(service.search_nodes, actor=actor, q=q, include_custom=include_custom, org_id=org_id)


@router.get("/registry/{node_type}", response_model=NodeDefinitionRead, dependencies=_read)
async def get_node(node_type: str, tx: Tx, actor: CurrentActor) -> NodeDefinitionRead:
    return await tx.run(service.get_node, actor=actor, node_type=node_type)


@router.post("/registry", status_code=201, response_model=NodeDefinitionRead, dependencies=_write)
async def register_custom_node(body: CustomNodeCreate, tx: Tx, actor: CurrentActor) -> NodeDefinitionRead:
    """Register a node type of the org's own; `official` is always false."""
    return await tx.run(service.register_custom_node, actor=actor, data=body)


@router.put("/registry/{node_type}", response_model=NodeDefinitionRead, dependencies=_write)
async def update_custom_node(
    node_type: str, body: CustomNodeUpdate, tx: Tx, actor: CurrentActor
) -> NodeDefinitionRead:
    """Partial update; the previous definition is saved as a version first. Built-ins are 403."""
    return await tx.run(service.update_custom_node, actor=actor, node_type=node_type, data=body)


@router.delete("/registry/{node_type}", status_code=204, response_class=Response, dependencies=_write)
async def delete_custom_node(node_type: str, tx: Tx, actor: CurrentActor) -> Response:
    """Custom node types only; built-ins are 403."""
    await tx.run(service.delete_custom_node, actor=actor, node_type=node_type)
    return Response(status_code=204)


@router.post("/validate-connection", response_model=ConnectionVerdict, dependencies=_read)
async def validate_connection(body: ConnectionCheck, tx: Tx, actor: CurrentActor) -> ConnectionVerdict:
    """Whether an edge from the source's connector to the target's is allowed, and why not."""
    return await tx.read(service.validate_connection, actor=actor, data=body)

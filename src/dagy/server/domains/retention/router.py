"""`/retention`: how long the org keeps runs, logs, node outputs, audit rows and sensor events."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.retention import service
from dagy.server.domains.retention.schemas import RetentionRead, RetentionUpdate

router = APIRouter(prefix="/retention", tags=["Retention"])

# Owners and admins: the permission that governs the org's trail also governs how long it is kept.
_admin = [Depends(require_permission("admin.audit"))]


@router.get("", response_model=RetentionRead, dependencies=_admin)
async def get_retention(tx: Tx, actor: CurrentActor, settings: SettingsDep) -> RetentionRead:
    """The org's values (null: the installation's default) and the days that apply."""
    return await tx.run(service.get_retention, actor=actor, settings=settings)


@router.put("", response_model=RetentionRead, dependencies=_admin)
async def put_retention(
    body: RetentionUpdate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> RetentionRead:
    """Replace the org's values; a field left out or null follows the installation's default."""
    return await tx.run(service.put_retention, actor=actor, data=body, settings=settings)

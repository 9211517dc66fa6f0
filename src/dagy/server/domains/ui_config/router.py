"""`/ui`: the web app's page configuration (docs/web.md). Marketing and navigation are public."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import CurrentActor, OptionalActor, require_permission
from dagy.server.domains.ui_config import service
from dagy.server.domains.ui_config.schemas import (
    AiStudioRead,
    DashboardRead,
    MarketingRead,
    NavigationRead,
    SettingsRead,
)
from dagy.server.domains.ui_config.service import Period

router = APIRouter(prefix="/ui", tags=["UI Config"])


@router.get("/marketing", response_model=MarketingRead)
async def ui_marketing() -> MarketingRead:
    """Public: the landing page's hero, features, pricing (the plans) and testimonials."""
    return service.marketing_content()


@router.get("/navigation", response_model=NavigationRead)
async def ui_navigation(actor: OptionalActor) -> NavigationRead:
    """Public: the entries the caller may open; an anonymous caller gets the public ones."""
    return service.navigation_for(actor)


@router.get(
    "/dashboard", response_model=DashboardRead, dependencies=[Depends(require_permission("runs.read"))]
)
async def ui_dashboard(
    tx: Tx,
    actor: CurrentActor,
    period: Annotated[Period, Query(description="The window of the run counts: 24h, 7d or 30d.")] = "7d",
) -> DashboardRead:
    """Run counts by status for the period, failing flows, recent runs and (billing.read) quota use."""
    return await tx.run(service.dashboard_for, actor=actor, period=period)


@router.get("/settings", response_model=SettingsRead)
async def ui_settings(tx: Tx, actor: CurrentActor, settings: SettingsDep) -> SettingsRead:
    """Any signed-in caller: the settings sections it may open, integrations and preferences."""
    return await tx.run(service.settings_for, actor=actor, auth_mode=str(settings.auth_mode))


@router.get(
    "/ai-studio", response_model=AiStudioRead, dependencies=[Depends(require_permission("flows.read"))]
)
async def ui_ai_studio() -> AiStudioRead:
    """AI Studio's templates, example prompts and the node types it may place."""
    return service.ai_studio_content()

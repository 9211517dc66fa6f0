"""`/channels` and `/alert-rules`: CRUD, a rule's test, a rule's deliveries (docs/alerts.md)."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Response

from dagy.server.api.deps import DatabaseDep, SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.notifications import dispatch, service
from dagy.server.domains.notifications.schemas import (
    AlertRuleCreate,
    AlertRuleList,
    AlertRuleRead,
    AlertRuleSummary,
    AlertRuleTested,
    AlertRuleUpdate,
    ChannelCreate,
    ChannelList,
    ChannelRead,
    ChannelSummary,
    ChannelUpdate,
    DeliveryList,
)

channels_router = APIRouter(prefix="/channels", tags=["Notifications & Alerts"])
rules_router = APIRouter(prefix="/alert-rules", tags=["Notifications & Alerts"])

_read = [Depends(require_permission("notifications.read"))]
_write = [Depends(require_permission("notifications.write"))]
Paging = Annotated[PageRequest, Depends(page_params(20, 100))]


@channels_router.post("", status_code=201, response_model=ChannelSummary, dependencies=_write)
async def create_channel(
    body: ChannelCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> ChannelSummary:
    """`config_json` by `channel_type` (docs/alerts.md); 400 naming each bad field."""
    return await tx.run(service.create_channel, actor=actor, data=body, settings=settings)


@channels_router.get("", response_model=ChannelList, response_class=JSONBytesResponse, dependencies=_read)
async def list_channels(tx: Tx, actor: CurrentActor, page: Paging) -> JSONBytesResponse:
    """Newest first."""
    return page_response(await tx.list(service.list_channels, actor=actor, page=page))


@channels_router.get("/{channel_id}", response_model=ChannelRead, dependencies=_read)
async def get_channel(channel_id: str, tx: Tx, actor: CurrentActor) -> ChannelRead:
    """Credentials in `config_json` are masked."""
    return await tx.run(service.get_channel, actor=actor, channel_id=channel_id)


@channels_router.patch("/{channel_id}", response_model=ChannelRead, dependencies=_write)
async def update_channel(
    channel_id: str, body: ChannelUpdate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> ChannelRead:
    return await tx.run(
        service.update_channel, actor=actor, channel_id=channel_id, data=body, settings=settings
    )


@channels_router.delete("/{channel_id}", status_code=204, response_class=Response, dependencies=_write)
async def delete_channel(channel_id: str, tx: Tx, actor: CurrentActor) -> Response:
    """409 `channel_in_use` while alert rules use the channel."""
    await tx.run(service.delete_channel, actor=actor, channel_id=channel_id)
    return Response(status_code=204)


@rules_router.post("", status_code=201, response_model=AlertRuleSummary, dependencies=_write)
async def create_rule(body: AlertRuleCreate, tx: Tx, actor: CurrentActor) -> AlertRuleSummary:
    return await tx.run(service.create_rule, actor=actor, data=body)


@rules_router.get("", response_model=AlertRuleList, response_class=JSONBytesResponse, dependencies=_read)
async def list_rules(tx: Tx, actor: CurrentActor, page: Paging) -> JSONBytesResponse:
    """Newest first."""
    return page_response(await tx.list(service.list_rules, actor=actor, page=page))


@rules_router.get("/{rule_id}", response_model=AlertRuleRead, dependencies=_read)
async def get_rule(rule_id: str, tx: Tx, actor: CurrentActor) -> AlertRuleRead:
    return await tx.run(service.get_rule, actor=actor, rule_id=rule_id)


@rules_router.patch("/{rule_id}", response_model=AlertRuleRead, dependencies=_write)
async def update_rule(rule_id: str, body: AlertRuleUpdate, tx: Tx, actor: CurrentActor) -> AlertRuleRead:
    return await tx.run(service.update_rule, actor=actor, rule_id=rule_id, data=body)


@rules_router.delete("/{rule_id}", status_code=204, response_class=Response, dependencies=_write)
async def delete_rule(rule_id: str, tx: Tx, actor: CurrentActor) -> Response:
    await tx.run(service.delete_rule, actor=actor, rule_id=rule_id)
    return Response(status_code=204)


@rules_router.post("/{rule_id}/test", response_model=AlertRuleTested, dependencies=_write)
async def test_rule(
    rule_id: str, db: DatabaseDep, actor: CurrentActor, settings: SettingsDep
) -> AlertRuleTested:
    """Send a test message to each of the rule's channels now; each channel's outcome and, when it
    was not delivered, why."""
    test = functools.partial(dispatch.test_rule, db, actor=actor, rule_id=rule_id, settings=settings)
    return await anyio.to_thread.run_sync(test)


@rules_router.get(
    "/{rule_id}/deliveries", response_model=DeliveryList, response_class=JSONBytesResponse, dependencies=_read
)
async def list_deliveries(rule_id: str, tx: Tx, actor: CurrentActor, page: Paging) -> JSONBytesResponse:
    """Newest first: each message of the rule, its channel, status, attempts and last error."""
    return page_response(await tx.list(service.list_deliveries, actor=actor, rule_id=rule_id, page=page))

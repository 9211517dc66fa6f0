"""Channels and alert rules: create, read, change, delete; a rule's deliveries; a rule's test.

A channel's config is kept whole, encrypted under the org's data key and bound to the channel's
row (`config_sealed`), beside a masked copy for answers (`config_public`). A channel that rules
use cannot be deleted (409 naming them): a rule silently losing its channel would stop alerting.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import AlertRule, NotificationChannel
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.notifications import repository as repo
from dagy.server.domains.notifications.channels import masked, parse_channel_config
from dagy.server.domains.notifications.schemas import (
    AlertRuleCreate,
    AlertRuleRead,
    AlertRuleSummary,
    AlertRuleUpdate,
    ChannelCreate,
    ChannelRead,
    ChannelSummary,
    ChannelUpdate,
)
from dagy.server.domains.secrets import service as secrets
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

SLA_TRIGGER = "on_sla_breach"

# --- Channels --------------------------------------------------------------------------------


def create_channel(
    session: Session, *, actor: Actor, data: ChannelCreate, settings: Settings
) -> ChannelSummary:
    config = parse_channel_config(
        data.channel_type, data.config_json, allow_private=settings.allow_private_network
    )
    now = utcnow()
    channel = NotificationChannel(
        id=new_id("channel"),
        org_id=actor.org_id,
        name=data.name,
        channel_type=data.channel_type,
        enabled=data.enabled,
        created_at=now,
        updated_at=now,
    )
    _set_config(session, channel, config, settings)
    repo.add(session, channel)
    _audit(
        session,
        actor,
        channel,
        Action.CREATE,
        diff({}, _channel_state(channel)),
    )
    return _channel_summary(channel)


def list_channels(connection: Connection, *, actor: Actor, page: PageRequest) -> KeysetPage[dict[str, Any]]:
    """Newest first; read path: the items are `ChannelSummary`'s fields."""
    return repo.CHANNEL_PAGES.page(connection, page, params={"org_id": actor.org_id}, to_item=_channel_item)


def get_channel(session: Session, *, actor: Actor, channel_id: str) -> ChannelRead:
    return _channel_read(_channel(session, actor.org_id, channel_id))


def update_channel(
    session: Session, *, actor: Actor, channel_id: str, data: ChannelUpdate, settings: Settings
) -> ChannelRead:
    _check_not_null(data.model_fields_set, data, "name, enabled or config_json")
    channel = _channel(session, actor.org_id, channel_id)
    before = _channel_state(channel)
    if data.config_json is not None:
        config = parse_channel_config(
            channel.channel_type, data.config_json, allow_private=settings.allow_private_network
        )
        _set_config(session, channel, config, settings)
    if data.name is not None:
        channel.name = data.name
    if data.enabled is not None:
        channel.enabled = data.enabled
    channel.updated_at = utcnow()
    session.flush()
    changes = diff(before, _channel_state(channel))
    if data.config_json is not None:
        changes.setdefault("config_json", ["(replaced)", "(replaced)"])
    _audit(session, actor, channel, Action.UPDATE, changes)
    return _channel_read(channel)


def delete_channel(session: Session, *, actor: Actor, channel_id: str) -> None:
    """409 while rules use it (their names in `details.rules`); its deliveries go with it."""
    channel = _channel(session, actor.org_id, channel_id)
    rules = repo.rules_using_channel(session, channel.id)
    if rules:
        raise Conflict(
            f"The channel is used by {len(rules)} alert rule(s); remove it from them first.",
            details={"rules": rules},
            code="channel_in_use",
        )
    before = _channel_state(channel)
    repo.remove(session, channel)
    _audit(session, actor, channel, Action.DELETE, diff(before, {}))


def channel_config(session: Session, channel: NotificationChannel, settings: Settings) -> dict[str, Any]:
    """The channel's whole config, credentials in clear: for sending only, never for an answer."""
    plain = secrets.open_with_org_key(
        session,
        org_id=channel.org_id,
        row_id=channel.id,
        sealed=base64.b64decode(channel.config_sealed),
        settings=settings,
    )
    config: dict[str, Any] = json.loads(plain)
    return config


def _set_config(
    session: Session, channel: NotificationChannel, config: dict[str, Any], settings: Settings
) -> None:
    sealed = secrets.seal_with_org_key(
        session,
        org_id=channel.org_id,
        row_id=channel.id,
        plaintext=json.dumps(config).encode(),
        settings=settings,
    )
    channel.config_sealed = base64.b64encode(sealed).decode()
    channel.config_public = masked(channel.channel_type, config)


# --- Rules -----------------------------------------------------------------------------------


def create_rule(session: Session, *, actor: Actor, data: AlertRuleCreate) -> AlertRuleSummary:
    channel_ids = list(dict.fromkeys(data.channel_ids))
    _check_rule(session, actor.org_id, data.trigger, data.sla_seconds, channel_ids)
    now = utcnow()
    rule = AlertRule(
        id=new_id("rule"),
        org_id=actor.org_id,
        name=data.name,
        trigger=data.trigger,
        flow_name=data.flow_name,
        sla_seconds=data.sla_seconds,
        enabled=data.enabled,
        created_at=now,
        updated_at=now,
    )
    repo.add(session, rule)
    repo.set_rule_channels(session, rule.id, channel_ids)
    _audit(
        session,
        actor,
        rule,
        Action.CREATE,
        diff({}, _rule_state(rule, channel_ids)),
    )
    return AlertRuleSummary(
        **_rule_read(rule, channel_ids).model_dump(include=set(AlertRuleSummary.model_fields))
    )


def list_rules(connection: Connection, *, actor: Actor, page: PageRequest) -> KeysetPage[dict[str, Any]]:
    """Newest first; read path: the items are `AlertRuleSummary`'s fields, with each page's channel
    ids read by one more statement."""
    rules = repo.RULE_PAGES.page(connection, page, params={"org_id": actor.org_id}, to_item=_rule_item)
    channels = repo.rule_channel_ids(connection, [item["rule_id"] for item in rules.items])
    for item in rules.items:
        item["channel_ids"] = channels[item["rule_id"]]
    return rules


def get_rule(session: Session, *, actor: Actor, rule_id: str) -> AlertRuleRead:
    rule = _rule(session, actor.org_id, rule_id)
    return _rule_read(rule, repo.rule_channel_ids(session, [rule.id])[rule.id])


def update_rule(session: Session, *, actor: Actor, rule_id: str, data: AlertRuleUpdate) -> AlertRuleRead:
    given = data.model_fields_set
    _check_not_null(given - {"flow_name", "sla_seconds"}, data, "the rule's fields")
    rule = _rule(session, actor.org_id, rule_id)
    channel_ids = repo.rule_channel_ids(session, [rule.id])[rule.id]
    before = _rule_state(rule, channel_ids)
    new_channels = list(dict.fromkeys(data.channel_ids)) if data.channel_ids is not None else channel_ids
    trigger = data.trigger or rule.trigger
    sla = data.sla_seconds if "sla_seconds" in given else rule.sla_seconds
    if "sla_seconds" not in given and trigger != SLA_TRIGGER:
        sla = None  # a rule that stops being an SLA rule drops its SLA
    _check_rule(session, actor.org_id, trigger, sla, new_channels if data.channel_ids is not None else [])
    for name in ("name", "enabled", "flow_name"):
        if name in given:
            setattr(rule, name, getattr(data, name))
    rule.trigger, rule.sla_seconds, rule.updated_at = trigger, sla, utcnow()
    if data.channel_ids is not None:
        repo.set_rule_channels(session, rule.id, new_channels)
    session.flush()
    _audit(
        session,
        actor,
        rule,
        Action.UPDATE,
        diff(before, _rule_state(rule, new_channels)),
    )
    return _rule_read(rule, new_channels)


def delete_rule(session: Session, *, actor: Actor, rule_id: str) -> None:
    """Its deliveries, pending ones included, go with it."""
    rule = _rule(session, actor.org_id, rule_id)
    before = _rule_state(rule, repo.rule_channel_ids(session, [rule.id])[rule.id])
    repo.remove(session, rule)
    _audit(session, actor, rule, Action.DELETE, diff(before, {}))


def list_deliveries(
    connection: Connection, *, actor: Actor, rule_id: str, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """Newest first; a rule the org does not have is a 404."""
    if not repo.rule_exists(connection, actor.org_id, rule_id):
        raise NotFound("Alert rule not found.")
    return repo.DELIVERY_PAGES.page(connection, page, params={"rule_id": rule_id}, to_item=_delivery_item)


def rule_channels(session: Session, *, actor: Actor, rule_id: str) -> list[NotificationChannel]:
    """The rule's channels in its order (a test sends to each)."""
    rule = _rule(session, actor.org_id, rule_id)
    ids = repo.rule_channel_ids(session, [rule.id])[rule.id]
    found = repo.channels_by_id(session, actor.org_id, ids)
    return [found[channel_id] for channel_id in ids if channel_id in found]


def _check_rule(
    session: Session, org_id: str, trigger: str, sla_seconds: int | None, channel_ids: Sequence[str]
) -> None:
    problems: dict[str, str] = {}
    if trigger == SLA_TRIGGER and sla_seconds is None:
        problems["sla_seconds"] = "on_sla_breach needs sla_seconds"
    if trigger != SLA_TRIGGER and sla_seconds is not None:
        problems["sla_seconds"] = "only on_sla_breach rules have sla_seconds"
    known = repo.channels_by_id(session, org_id, channel_ids)
    unknown = [channel_id for channel_id in channel_ids if channel_id not in known]
    if unknown:
        problems["channel_ids"] = f"no such channel in this org: {', '.join(unknown)}"
    if problems:
        raise InvalidInput("Invalid alert rule.", details=problems)


# --- Shared ----------------------------------------------------------------------------------


def _check_not_null(given: set[str], data: ChannelUpdate | AlertRuleUpdate, what: str) -> None:
    if not data.model_fields_set:
        raise InvalidInput("No fields to update.", details={"body": f"give {what}"})
    nulls = sorted(name for name in given if getattr(data, name) is None)
    if nulls:
        raise InvalidInput(f"{nulls[0]} must not be null.", details=dict.fromkeys(nulls, "must not be null"))


def _channel(session: Session, org_id: str, channel_id: str) -> NotificationChannel:
    channel = repo.get_channel(session, org_id, channel_id)
    if channel is None:
        raise NotFound("Channel not found.")
    return channel


def _rule(session: Session, org_id: str, rule_id: str) -> AlertRule:
    rule = repo.get_rule(session, org_id, rule_id)
    if rule is None:
        raise NotFound("Alert rule not found.")
    return rule


def _audit(
    session: Session,
    actor: Actor,
    row: NotificationChannel | AlertRule,
    action: Action,
    changes: Mapping[str, Any],
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type="notification_channel" if isinstance(row, NotificationChannel) else "alert_rule",
        resource_id=row.id,
        resource_name=row.name,
        changes=changes,
    )


def _channel_state(channel: NotificationChannel) -> dict[str, Any]:
    """What the audit trail shows: the masked config only."""
    return {
        "name": channel.name,
        "channel_type": channel.channel_type,
        "enabled": channel.enabled,
        "config_json": channel.config_public,
    }


def _rule_state(rule: AlertRule, channel_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "flow_name": rule.flow_name,
        "sla_seconds": rule.sla_seconds,
        "channel_ids": list(channel_ids),
        "enabled": rule.enabled,
    }


def _channel_summary(channel: NotificationChannel) -> ChannelSummary:
    return ChannelSummary(
        channel_id=channel.id,
        name=channel.name,
        channel_type=channel.channel_type,
        enabled=channel.enabled,
        created_at=channel.created_at,
    )


def _channel_read(channel: NotificationChannel) -> ChannelRead:
    return ChannelRead(
        **_channel_summary(channel).model_dump(),
        config_json=dict(channel.config_public),
        updated_at=channel.updated_at,
    )


def _rule_read(rule: AlertRule, channel_ids: Sequence[str]) -> AlertRuleRead:
    return AlertRuleRead(
        rule_id=rule.id,
        name=rule.name,
        trigger=rule.trigger,
        flow_name=rule.flow_name,
        channel_ids=list(channel_ids),
        enabled=rule.enabled,
        created_at=rule.created_at,
        sla_seconds=rule.sla_seconds,
        updated_at=rule.updated_at,
    )


def _channel_item(row: ListRow) -> dict[str, Any]:
    channel_id, name, channel_type, enabled, created_at = row
    return {
        "channel_id": channel_id,
        "name": name,
        "channel_type": channel_type,
        "enabled": enabled,
        "created_at": created_at,
    }


def _rule_item(row: ListRow) -> dict[str, Any]:
    rule_id, name, trigger, flow_name, enabled, created_at = row
    return {
        "rule_id": rule_id,
        "name": name,
        "trigger": trigger,
        "flow_name": flow_name,
        "channel_ids": [],
        "enabled": enabled,
        "created_at": created_at,
    }


def _delivery_item(row: ListRow) -> dict[str, Any]:
    delivery_id, created_at, channel_id, channel_type, run_id, event, status = row[:7]
    attempts, next_attempt_at, last_error, sent_at = row[7:]
    return {
        "delivery_id": delivery_id,
        "time": created_at,
        "channel_id": channel_id,
        "channel_type": channel_type,
        "run_id": run_id,
        "event": event,
        "status": status,
        "attempts": attempts,
        "next_attempt_at": next_attempt_at if status == repo.PENDING else None,
        "last_error": last_error,
        "sent_at": sent_at,
    }

"""Bodies of `/channels` and `/alert-rules`."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Name, RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN
from dagy.server.domains.notifications.channels import MAX_CONFIG_BYTES, ChannelType

# on_waiting: a run waits for an approval node's decision (docs/alerts.md).
Trigger = Literal["on_failure", "on_success", "on_sla_breach", "on_retry", "on_waiting"]
ChannelId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN)]
SlaSeconds = Annotated[int, Field(ge=1, le=30 * 24 * 3600)]
MAX_RULE_CHANNELS = 20


def _small_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value).encode()) > MAX_CONFIG_BYTES:
        raise ValueError(f"at most {MAX_CONFIG_BYTES} bytes of JSON")
    return value


class ChannelCreate(RequestModel):
    name: Name
    channel_type: ChannelType
    config_json: dict[str, Any] = Field(description="By channel type, docs/alerts.md; at most 16 KB.")
    enabled: bool = True

    _config = field_validator("config_json")(_small_config)


class ChannelUpdate(RequestModel):
    """Only the fields given change; `config_json` is replaced whole (credentials included, since
    answers mask them) and checked again."""

    name: Name | None = None
    enabled: bool | None = None
    config_json: dict[str, Any] | None = None

    _config = field_validator("config_json")(_small_config)


class ChannelSummary(ResponseModel):
    channel_id: str
    name: str
    channel_type: str
    enabled: bool
    created_at: Timestamp


class ChannelRead(ChannelSummary):
    config_json: dict[str, Any] = Field(description="Credentials masked.")
    updated_at: Timestamp


class ChannelList(ResponseModel):
    items: list[ChannelSummary]
    next_token: str | None = None


class AlertRuleCreate(RequestModel):
    name: Name
    trigger: Trigger
    channel_ids: list[ChannelId] = Field(min_length=1, max_length=MAX_RULE_CHANNELS)
    flow_name: FlowName | None = Field(None, description="Null: every flow of the org.")
    sla_seconds: SlaSeconds | None = Field(
        None, description="on_sla_breach: seconds from a run's creation (queued + running)."
    )
    enabled: bool = True


class AlertRuleUpdate(RequestModel):
    """Only the fields given change; `flow_name` and `sla_seconds` may be set to null."""

    name: Name | None = None
    trigger: Trigger | None = None
    channel_ids: list[ChannelId] | None = Field(None, min_length=1, max_length=MAX_RULE_CHANNELS)
    flow_name: FlowName | None = None
    sla_seconds: SlaSeconds | None = None
    enabled: bool | None = None


class AlertRuleSummary(ResponseModel):
    rule_id: str
    name: str
    trigger: str
    flow_name: str | None
    channel_ids: list[str]
    enabled: bool
    created_at: Timestamp


class AlertRuleRead(AlertRuleSummary):
    sla_seconds: int | None
    updated_at: Timestamp


class AlertRuleList(ResponseModel):
    items: list[AlertRuleSummary]
    next_token: str | None = None


class ChannelTestResult(ResponseModel):
    channel_id: str
    name: str
    channel_type: str
    delivered: bool
    error: str | None = Field(None, description="Why it was not delivered.")


class AlertRuleTested(ResponseModel):
    status: str = Field(description="sent (every channel), partial, or failed (none).")
    message: str
    channels: list[ChannelTestResult]


class DeliveryRead(ResponseModel):
    delivery_id: str
    time: Timestamp = Field(description="When the event happened.")
    channel_id: str
    channel_type: str
    run_id: str
    event: str = Field(description="The trigger, or resolve (a PagerDuty incident closed).")
    status: str = Field(description="pending, sent or failed.")
    attempts: int
    next_attempt_at: Timestamp | None = Field(description="Pending: when the next attempt is due.")
    last_error: str | None
    sent_at: Timestamp | None


class DeliveryList(ResponseModel):
    items: list[DeliveryRead]
    next_token: str | None = None

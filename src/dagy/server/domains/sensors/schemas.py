"""Bodies of `/sensors` and `/webhooks/{token}`."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Name, RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN

SensorType = Literal["s3", "webhook", "polling"]
MAX_FLOW_PARAMS_BYTES = 64 * 1024


def _small_params(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value).encode()) > MAX_FLOW_PARAMS_BYTES:
        raise ValueError(f"at most {MAX_FLOW_PARAMS_BYTES} bytes of JSON")
    return value


class SensorCreate(RequestModel):
    name: Name
    sensor_type: SensorType
    flow_name: str = Field(
        pattern=FLOW_NAME_PATTERN, description="The flow each event runs (its latest version)."
    )
    config_json: dict[str, Any] = Field(
        default_factory=dict, description="By sensor type, docs/sensors.md; at most 64 KB."
    )
    flow_params_json: dict[str, Any] = Field(
        default_factory=dict, description="The runs' parameters, beside `event`; at most 64 KB."
    )
    enabled: bool = True

    @field_validator("flow_params_json")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any] | None:
        return _small_params(value)


class SensorUpdate(RequestModel):
    """Only the fields given change; `config_json` is replaced whole and checked again."""

    name: Name | None = None
    enabled: bool | None = None
    config_json: dict[str, Any] | None = None
    flow_params_json: dict[str, Any] | None = None

    @field_validator("flow_params_json")
    @classmethod
    def _params(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _small_params(value)


class SensorSummary(ResponseModel):
    sensor_id: str
    name: str
    sensor_type: str
    flow_name: str
    enabled: bool
    created_at: Timestamp
    last_fired_at: Timestamp | None
    next_check_at: Timestamp | None


class SensorCreated(SensorSummary):
    webhook_token: str | None = Field(
        None, description="Webhook sensors: the path token of `/webhooks/{token}`."
    )


class SensorRead(SensorCreated):
    config_json: dict[str, Any]
    flow_params_json: dict[str, Any]
    updated_at: Timestamp


class SensorList(ResponseModel):
    items: list[SensorSummary]
    next_token: str | None = None


class SensorTested(ResponseModel):
    status: str
    message: str
    run_id: str | None


class SensorEventRead(ResponseModel):
    event_id: str
    time: Timestamp
    payload_digest: str
    run_id: str | None
    outcome: str = Field(description="fired, refused (the run could not be created), failed or test.")
    detail: dict[str, Any] | None


class SensorEventList(ResponseModel):
    items: list[SensorEventRead]
    next_token: str | None = None


class WebhookAccepted(ResponseModel):
    run_id: str
    status: str
    message: str

"""Bodies of `/environments`."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.domains.deployments.schemas import DeploymentName, version_label

ENV_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VARIABLE_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
MAX_VARIABLES_BYTES = 64 * 1024
MAX_CONFIG_BYTES = 64 * 1024

EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
EnvRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
VariableKey = Annotated[str, StringConstraints(pattern=VARIABLE_KEY_PATTERN)]
Executor = Annotated[str, StringConstraints(max_length=64)]


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _small_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and json_size(value) > MAX_CONFIG_BYTES:
        raise ValueError(f"at most {MAX_CONFIG_BYTES} bytes of JSON")
    return value


class EnvironmentCreate(RequestModel):
    env_name: EnvName = Field(description="Lower-case letters, digits, `_` and `-`; at most 64.")
    default_executor: Executor | None = Field(None, description="A name from `/backends`; empty = auto.")
    config_json: dict[str, Any] = Field(default_factory=dict, description="Free-form, at most 64 KB.")
    is_protected: bool = False

    @field_validator("config_json")
    @classmethod
    def _config(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _small_config(value)


class EnvironmentUpdate(RequestModel):
    """Only the fields given change; `default_executor: null` (or "") returns to automatic."""

    default_executor: Executor | None = None
    config_json: dict[str, Any] | None = None
    is_protected: bool | None = None

    @field_validator("config_json")
    @classmethod
    def _config(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _small_config(value)


class EnvironmentSummary(ResponseModel):
    env_id: str
    env_name: str
    default_executor: str | None
    is_protected: bool
    promotion_order: int | None
    created_at: Timestamp
    updated_at: Timestamp


class EnvironmentRead(EnvironmentSummary):
    config_json: dict[str, Any]


class EnvironmentList(ResponseModel):
    items: list[EnvironmentSummary]
    next_token: str | None = None


class Variables(RequestModel):
    variables: dict[VariableKey, str] = Field(description="An object of strings, at most 64 KB in all.")

    @field_validator("variables")
    @classmethod
    def _small(cls, value: dict[str, str]) -> dict[str, str]:
        if json_size(value) > MAX_VARIABLES_BYTES:
            raise ValueError(f"at most {MAX_VARIABLES_BYTES} bytes of JSON")
        return value


class VariablesRead(ResponseModel):
    env_name: str
    variables: dict[str, str]


class VariableDeleted(ResponseModel):
    deleted: str
    env_name: str


class Reorder(RequestModel):
    order: list[EnvRef] = Field(min_length=1, max_length=500, description="Environment names, first first.")


class DiffItem(ResponseModel):
    deployment_name: str
    flow_name: str
    flow_version: str
    updated_at: Timestamp


class VersionDiffers(ResponseModel):
    flow_name: str
    source: DiffItem
    target: DiffItem


class EnvironmentDiff(ResponseModel):
    source_environment: str
    target_environment: str
    only_in_source: list[DiffItem]
    only_in_target: list[DiffItem]
    version_differs: list[VersionDiffers]


class Promotion(RequestModel):
    source_deployment: DeploymentName
    target_environment: EnvRef
    new_deployment_name: DeploymentName | None = Field(
        None,
        description="Default: the source's name with its environment suffix replaced, else <flow>-<env>.",
    )
    flow_version: str | int | None = Field(None, description="Defaults to the source's version.")

    @field_validator("flow_version")
    @classmethod
    def _label(cls, value: str | int | None) -> str | None:
        return version_label(value)


class Promoted(ResponseModel):
    target_deployment: str
    deployment_id: str
    flow_name: str
    flow_version: str
    target_environment: str
    source_deployment: str
    source_environment: str | None
    promoted_at: Timestamp

"""Bodies of `/flows`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from dagy.server.api.schemas import RequestModel, ResponseModel, Timestamp

FLOW_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
FLOW_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"
EXECUTOR_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"

FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]


class FlowCreate(RequestModel):
    flow_name: FlowName | None = Field(None, description="The flow's name; defaults to `flow_spec.name`.")
    flow_version: str | int | None = Field(
        None, description="Version label; defaults to the next integer (as a string)."
    )
    flow_spec: dict[str, Any] = Field(
        description='{"nodes": [{"id", "type", "data"}], "edges": [{"source", "target"}]}'
    )
    artifact_s3_uri: str | None = Field(None, max_length=1024)
    schedule: str | None = Field(None, max_length=128, description="Cron expression, kept with the version.")
    status: Literal["active", "inactive", "draft"] = "active"
    default_executor: str | None = Field(None, pattern=EXECUTOR_PATTERN)
    namespace: str | None = Field(None, max_length=255)
    tags: dict[TagKey, TagValue] | None = Field(None, max_length=50)

    @field_validator("flow_version")
    @classmethod
    def _version_as_string(cls, value: str | int | None) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not re.match(FLOW_VERSION_PATTERN, text):
            raise ValueError("must be 1-64 letters, digits or . _ + - starting with a letter or digit")
        return text


class FlowCreated(ResponseModel):
    flow_name: str
    flow_version: str
    namespace: str | None
    tags: dict[str, str]
    created_at: Timestamp
    status: str


class FlowVersionRead(ResponseModel):
    flow_name: str
    flow_version: str
    artifact_s3_uri: str | None
    created_at: Timestamp
    updated_at: Timestamp
    schedule: str | None
    status: str
    deployment_name: str | None = None
    default_executor: str | None
    tags: dict[str, str]
    namespace: str | None
    deployment_version: int
    code_hash: str
    flow_spec: dict[str, Any] | None

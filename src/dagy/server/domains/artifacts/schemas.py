"""Bodies of `/artifacts`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from dagy.protocol.models import EXECUTOR_PATTERN, Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import (
    DEPLOYMENT_NAME_PATTERN,
    FLOW_VERSION_PATTERN,
    RESERVED_VERSIONS,
    FlowName,
    Namespace,
    TagKey,
    TagValue,
)
from dagy.server.domains.runs.schemas import ExecutionMode

MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # every part but the last, as S3 requires
MAX_PART_BYTES = 5 * 1024 * MIB  # S3's largest part
DEFAULT_PART_BYTES = 8 * MIB
MAX_PARTS = 10_000

DeploymentName = Annotated[str, StringConstraints(pattern=DEPLOYMENT_NAME_PATTERN)]
ArtifactKey = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ETag = Annotated[str, StringConstraints(min_length=1, max_length=128)]
UploadId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


def _version_label(value: str | int) -> str:
    """The labels of `POST /flows`: an integer names the label of that number."""
    text = str(value)
    if not re.match(FLOW_VERSION_PATTERN, text):
        raise ValueError("must be 1-64 letters, digits or . _ + - starting with a letter or digit")
    if text in RESERVED_VERSIONS:
        raise ValueError(f"{text!r} is reserved by the API's paths")
    return text


FlowVersion = Annotated[str | int, AfterValidator(_version_label)]


class ArtifactUploadCreate(RequestModel):
    flow_name: FlowName
    flow_version: FlowVersion = Field(description="The version the completed upload registers.")
    deployment_name: DeploymentName
    file_size: int = Field(gt=0, description="The artifact's size in bytes.")
    part_size: int = Field(
        DEFAULT_PART_BYTES,
        ge=MIN_PART_BYTES,
        le=MAX_PART_BYTES,
        description="Bytes per part (the last part holds the rest): 5 MiB to 5 GiB, default 8 MiB.",
    )


class UploadPart(ResponseModel):
    part_number: int
    url: str = Field(description="PUT exactly `size` bytes here; the answer's ETag header names the part.")
    size: int


class ArtifactUploadInitiated(ResponseModel):
    upload_id: str
    artifact_key: str
    parts: list[UploadPart]
    expires_at: Timestamp = Field(description="When the part URLs stop working.")


class CompletedPart(RequestModel):
    part_number: int = Field(ge=1, le=MAX_PARTS)
    etag: ETag


class ArtifactUploadAbort(RequestModel):
    upload_id: UploadId
    artifact_key: ArtifactKey


class ArtifactUploadComplete(ArtifactUploadAbort):
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)
    deployment_name: DeploymentName
    flow_name: FlowName
    flow_version: FlowVersion
    status: str = Field("active", description="active, inactive or draft, in any case.")
    schedule: str | None = Field(None, max_length=128)
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="IANA time zone of the deployment's schedule."
    )
    default_executor: str | None = Field(None, pattern=EXECUTOR_PATTERN)
    tags: dict[TagKey, TagValue] | None = Field(None, max_length=50)
    namespace: Namespace | None = None
    environment: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    execution_mode: ExecutionMode | None = None
    flow_spec: dict[str, Any] | None = Field(
        None, description='A code flow\'s `{"entrypoint": "module:function"}`, or a DAG spec.'
    )
    code_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = Field(
        None, description="SHA-256 hex of the artifact; when given it must match what the server computed."
    )

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value.lower() not in ("active", "inactive", "draft"):
            raise ValueError("active, inactive or draft")
        return value.lower()


class ArtifactUploadCompleted(ResponseModel):
    artifact_s3_uri: str
    flow_name: str
    flow_version: str
    deployment_name: str
    deployment_version: int
    environment: str | None
    code_hash: str

"""Bodies of `/flows`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from dagy.protocol.models import EXECUTOR_PATTERN, Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel

FLOW_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
FLOW_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"
DEPLOYMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
NAMESPACE_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_NAMESPACE = 255
# `/flows/{name}/latest` and `/flows/{name}/versions` would hide a version with these labels.
RESERVED_VERSIONS = frozenset({"latest", "versions"})

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
_KEY = re.compile(r"^[A-Za-z0-9_.+=@-]+(/[A-Za-z0-9_.+=@-]+)*$")


def _namespace(value: str) -> str:
    if len(value) > MAX_NAMESPACE:
        raise ValueError(f"at most {MAX_NAMESPACE} characters")
    if not all(NAMESPACE_SEGMENT.match(segment) for segment in value.split("/")):
        raise ValueError("slash-separated segments of a-z, 0-9, _ and -, each starting with a-z or 0-9")
    return value


def _artifact_reference(value: str) -> str:
    """`s3://bucket/key`, or a key of the local object store; never a path that climbs out (`..`)."""
    match = _S3_URI.match(value)
    key = match.group("key") if match else value
    if match is None and "://" in value:
        raise ValueError("must be s3://bucket/key or a key in the object store")
    if not _KEY.match(key) or any(segment in (".", "..") for segment in key.split("/")):
        raise ValueError("the key must be slash-separated names of letters, digits and _.+=@-, no ..")
    return value


FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN)]
Namespace = Annotated[str, AfterValidator(_namespace)]
ArtifactReference = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_artifact_reference)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
VersionStatus = Literal["active", "inactive", "draft"]


class FlowCreate(RequestModel):
    flow_name: FlowName | None = Field(None, description="The flow's name; defaults to `flow_spec.name`.")
    flow_version: str | int | None = Field(
        None, description="Version label; defaults to the next integer (as a string)."
    )
    flow_spec: dict[str, Any] | None = Field(
        None,
        description='{"nodes": [{"id", "type", "data"}], "edges": [{"source", "target"}]}; a visual '
        "builder canvas (nodes with position, edges with id) is accepted unchanged. Required unless "
        "`artifact_s3_uri` names a code flow's artifact. Optional `parameters`: a JSON Schema (draft "
        "2020-12, type object, at most 64 KB) of the runs' parameters, which they must fit and whose "
        "top-level defaults fill in what a run leaves out (docs/flows.md).",
    )
    artifact_s3_uri: ArtifactReference | None = Field(
        None,
        description="s3://bucket/key, or a key of the local object store under "
        "dagy/flows/{org_id}/{flow_name}/.",
    )
    deployment_name: Annotated[str, StringConstraints(pattern=DEPLOYMENT_NAME_PATTERN)] | None = Field(
        None, description="Create this deployment, or move it, to the new version."
    )
    schedule: str | None = Field(None, max_length=128, description="Cron expression, kept with the version.")
    status: VersionStatus = "active"
    default_executor: str | None = Field(None, pattern=EXECUTOR_PATTERN)
    namespace: Namespace | None = Field(None, description="Slash-separated, such as data/ingestion.")
    tags: dict[TagKey, TagValue] | None = Field(None, max_length=50)

    @field_validator("flow_version")
    @classmethod
    def _version_as_string(cls, value: str | int | None) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not re.match(FLOW_VERSION_PATTERN, text):
            raise ValueError("must be 1-64 letters, digits or . _ + - starting with a letter or digit")
        if text in RESERVED_VERSIONS:
            raise ValueError(f"{text!r} is reserved by the API's paths")
        return text

    @model_validator(mode="after")
    def _spec_or_artifact(self) -> FlowCreate:
        if self.flow_spec is None and self.artifact_s3_uri is None:
            raise ValueError("give flow_spec, artifact_s3_uri or both")
        return self


class FlowCreated(ResponseModel):
    flow_name: str
    flow_version: str
    namespace: str | None
    tags: dict[str, str]
    created_at: Timestamp
    status: str
    warnings: list[str] = Field(
        default_factory=list,
        description="What registration accepted but runs will trip on, such as a secret the spec "
        "names that does not exist in the org yet.",
    )


class FlowListItem(ResponseModel):
    flow_name: str
    flow_version: str | None = Field(description="The latest version's label.")
    namespace: str | None
    tags: dict[str, str]
    status: str = Field(description="The latest version's status as registered.")
    created_at: Timestamp
    updated_at: Timestamp


class FlowList(ResponseModel):
    items: list[FlowListItem]
    next_token: str | None = None


class FlowVersionRead(ResponseModel):
    flow_name: str
    flow_version: str
    artifact_s3_uri: str | None
    created_at: Timestamp
    updated_at: Timestamp
    schedule: str | None
    status: str = Field(description="active, inactive or draft (docs/flows.md: which version is active).")
    deployment_name: str | None = None
    default_executor: str | None
    tags: dict[str, str]
    namespace: str | None
    deployment_version: int
    code_hash: str
    flow_spec: dict[str, Any] | None
    parameter_schema: dict[str, Any] | None = Field(
        None,
        description="The JSON Schema (draft 2020-12) a run's parameters must fit: the spec's "
        "`flow_spec.parameters` when it declares one, else a code flow's read from its entry "
        "function's type hints at registration. A run that leaves out a top-level property with a "
        "`default` gets the default (docs/flows.md). Null when runs are not checked: a DAG flow that "
        "declares none, a code flow whose artifact is outside the object store.",
    )


class FlowVersionItem(ResponseModel):
    flow_version: str
    deployment_version: int
    artifact_s3_uri: str | None
    status: str
    created_at: Timestamp
    updated_at: Timestamp


class FlowVersionList(ResponseModel):
    flow_name: str
    items: list[FlowVersionItem]
    next_token: str | None = None


class FlowDeleted(ResponseModel):
    status: Literal["deleted"] = "deleted"
    flow_name: str

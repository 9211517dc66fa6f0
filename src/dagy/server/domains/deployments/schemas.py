"""Bodies of `/deployments` and `/backends`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN, FLOW_VERSION_PATTERN, FlowName
from dagy.server.domains.runs.schemas import ExecutionMode

DEPLOYMENT_NAME_PATTERN = FLOW_NAME_PATTERN
MAX_TAGS = 50
MAX_SLUGS = 50

DeploymentName = Annotated[str, StringConstraints(pattern=DEPLOYMENT_NAME_PATTERN)]
EnvironmentRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAGS)]
PackageSlug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
PackageSlugs = Annotated[list[PackageSlug], Field(max_length=MAX_SLUGS)]
Schedule = Annotated[str, StringConstraints(max_length=128)]
Executor = Annotated[str, StringConstraints(max_length=64)]
MaxRetries = Annotated[int, Field(ge=0, le=10, description="Failed attempts re-queued before a run fails.")]


def version_label(value: str | int | None) -> str | None:
    """Versions are labels (`"3"`, `"1.2.0"`); an integer names the label of that number."""
    if value is None:
        return None
    text = str(value)
    if not re.match(FLOW_VERSION_PATTERN, text):
        raise ValueError("must be 1-64 letters, digits or . _ + - starting with a letter or digit")
    return text


class DeploymentCreate(RequestModel):
    """`POST /deployments`: creates the deployment, or updates the one of this name (fields given
    replace, `null` resets to the default, absent ones stay)."""

    name: DeploymentName
    flow_name: FlowName
    flow_version: str | int | None = Field(None, description="Defaults to the flow's latest version.")
    environment: EnvironmentRef | None = Field(None, description="An existing environment's name.")
    schedule: Schedule | None = Field(None, description="5-field cron or an interval such as `30m`.")
    default_executor: Executor | None = Field(None, description="A name from `/backends`; empty = auto.")
    execution_mode: ExecutionMode | None = None
    tags: Tags | Annotated[list[TagKey], Field(max_length=MAX_TAGS)] | None = Field(
        None, description='An object of strings; a list of labels is stored as `{"label": ""}`.'
    )
    dep_package_slugs: PackageSlugs | None = None
    max_retries: MaxRetries | None = None

    @field_validator("flow_version")
    @classmethod
    def _label(cls, value: str | int | None) -> str | None:
        return version_label(value)

    @field_validator("tags")
    @classmethod
    def _tags_as_object(cls, value: dict[str, str] | list[str] | None) -> dict[str, str] | None:
        if isinstance(value, list):
            return dict.fromkeys(value, "")
        return value


class DeploymentSettings(RequestModel):
    """`PUT /deployments/{name}/settings`: only the fields given change; `null` is not a value."""

    execution_mode: ExecutionMode | None = None
    default_executor: Executor | None = Field(None, description='A name from `/backends`, or "" (auto).')
    schedule: Schedule | None = Field(None, description='Cron (5 fields) or interval; "" removes it.')
    tags: Tags | None = Field(None, description="Replaces every tag.")
    dep_package_slugs: PackageSlugs | None = Field(None, description="Replaces the list.")
    max_retries: MaxRetries | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> DeploymentSettings:
        nulls = [f for f in self.model_fields_set if getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))}: must not be null (omit a field to keep it)")
        return self


class DeploymentVersionChange(RequestModel):
    flow_version: str | int

    @field_validator("flow_version")
    @classmethod
    def _label(cls, value: str | int) -> str | None:
        return version_label(value)


class DeploymentRollback(RequestModel):
    target_flow_version: str | int = Field(description="An earlier version of the deployment's flow.")

    @field_validator("target_flow_version")
    @classmethod
    def _label(cls, value: str | int) -> str | None:
        return version_label(value)


class DeploymentRead(ResponseModel):
    deployment_id: str
    deployment_name: str
    name: str = Field(description="The same as `deployment_name`.")
    flow_name: str
    flow_version: str
    environment: str | None
    schedule: str | None
    default_executor: str | None = Field(description="None: the environment's, else the installation's.")
    execution_mode: str
    tags: dict[str, str]
    dep_package_slugs: list[str]
    max_retries: int
    status: str
    created_at: Timestamp
    updated_at: Timestamp
    promoted_from_env: str | None
    promoted_from_deployment: str | None
    promoted_at: Timestamp | None


class DeploymentList(ResponseModel):
    items: list[DeploymentRead]
    next_token: str | None = None


class DeploymentRolledBack(ResponseModel):
    deployment_name: str
    previous_flow_version: str
    new_flow_version: str
    rolled_back_at: Timestamp


class DeploymentDeleted(ResponseModel):
    status: str
    deployment_name: str


class BackendRead(ResponseModel):
    name: str
    description: str
    capabilities: list[str]
    max_concurrent_runs: int = Field(
        description="Runs it takes at once now: the embedded worker's concurrency for local; for a "
        "fleet, the sum of its live workers' (0 while none is live)."
    )
    available: bool = Field(
        description="A worker serving the caller's org took this executor's runs in the last minute."
    )
    workers: int = Field(description="Those workers (the org's own and the installation's).")
    launcher: str = Field(
        description="What starts its runs: `worker` (`dagy worker` processes, or the embedded one), or "
        "the container executor whose background services launch each run (`kubernetes`, `docker`)."
    )
    max_timeout_seconds: int = Field(description="Wall time of the largest execution mode.")
    execution_modes: dict[str, int] = Field(description="Wall-time limit (seconds) of each execution mode.")

"""Bodies of `/dag-drafts`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from dagy.protocol.models import EXECUTOR_PATTERN, Timestamp
from dagy.server.api.schemas import Name, RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import FlowName

Description = Annotated[str, StringConstraints(max_length=10_000)]
Executor = Annotated[str, StringConstraints(pattern=EXECUTOR_PATTERN)]
CANVAS_DESCRIPTION = (
    '{"nodes": [{"id", "type", "position": [x, y] or {"x", "y"}, "data": {}}], '
    '"edges": [{"id", "source", "target"}]}; at most 1 MB of JSON. Other keys are kept as given.'
)


class DagDraftCreate(RequestModel):
    name: Name
    description: Description | None = None
    canvas_json: dict[str, Any] = Field(description=CANVAS_DESCRIPTION)
    flow_name: FlowName | None = Field(None, description="The flow this draft becomes when registered.")
    executor: Executor | None = None


class DagDraftUpdate(RequestModel):
    """Fields left out are kept; `null` clears description, flow_name and executor."""

    name: Name | None = None
    description: Description | None = None
    canvas_json: dict[str, Any] | None = Field(None, description=CANVAS_DESCRIPTION)
    flow_name: FlowName | None = None
    executor: Executor | None = None


class DagDraftSummary(ResponseModel):
    draft_id: str
    name: str
    description: str | None
    flow_name: str | None
    created_at: Timestamp
    updated_at: Timestamp


class DagDraftCreated(DagDraftSummary):
    executor: str | None


class DagDraftRead(DagDraftCreated):
    canvas_json: dict[str, Any]


class DagDraftList(ResponseModel):
    items: list[DagDraftSummary]
    next_token: str | None = None


class DagDraftUpdated(ResponseModel):
    draft_id: str
    name: str
    updated_at: Timestamp

"""What AI Studio's planners share: a turn's request, what a planner answers, and the events a
streamed turn sends while the planner works.

A planner is pure with respect to the database: the sessions service (domains/ai_studio/service.py)
reads the session, its canvas, attachments and the org's context, calls `Planner.plan`, and stores
what it answers. Two planners implement the protocol (planner/__init__.py chooses by settings): the
embedded one, deterministic and offline (planner/embedded.py), and the LLM one over OpenAI-
compatible or Anthropic APIs (planner/llm.py).

Attachment text is data, never instructions: a planner quotes it to a model inside a data block
and never follows what it says. Generated `python_function` code is returned to the user, never
executed by the studio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Intent = Literal["auto", "build", "modify", "advisory"]
ResolvedIntent = Literal["build", "modify", "advisory"]
WorkflowStatus = Literal["generated", "modified", "invalid", "unchanged", "advisory"]

# The node types a planner may place (the reference's executable node allowlist).
ALLOWED_NODE_TYPES = (
    "s3_ingest",
    "s3_write",
    "http_fetch",
    "schema_validator",
    "data_normalizer",
    "deduplicator",
    "python_function",
    "webhook_post",
)


@dataclass(frozen=True)
class Attachment:
    """A parsed attachment: its text (documents) and, for data files (CSV, JSON, YAML), the JSON
    Schema inferred from its records and a few sample records."""

    attachment_id: str
    filename: str
    kind: str  # pdf, docx, pptx, csv, txt, md, json, yaml
    text: str
    schema: dict[str, Any] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FlowSummary:
    """One of the org's flows, for advisory turns."""

    flow_name: str
    latest_version: str
    node_types: list[str]
    runs_last_7d: int
    failed_last_7d: int
    last_run_status: str | None
    # Optional context that makes answers sharper ("which flows ran yesterday?", "why did it
    # fail?"); a planner answers without them, less precisely.
    last_run_at: datetime | None = None  # when the latest run was created (aware, UTC)
    last_error: str | None = None  # the latest failed run's error message, cut short


@dataclass(frozen=True)
class PlanRequest:
    message: str
    intent: Intent
    tier: str  # a tier id of domains/ai_studio/tiers.py
    # The session's current canvas ({"nodes": [...], "edges": [...]}, the builder's shape), None
    # before the first build. Modify turns edit it.
    canvas: dict[str, Any] | None
    attachments: list[Attachment]
    # Earlier turns, oldest first: {"role": "user" | "assistant", "content": str}.
    history: list[dict[str, str]]
    flows: list[FlowSummary]  # the org's flows, for advisory turns
    # The service's clock, for questions about days ("yesterday"); None: the planner reads the
    # wall clock. Tests pass one.
    now: datetime | None = None


@dataclass
class Validation:
    """The flow-spec validator's verdict on the workflow (the one `POST /flows` uses): `errors`
    are `"<field>: <problem>"`, keyed like the 400's `details`; `warnings` are what validates but
    needs the user's attention (a placeholder bucket, a python step still to write)."""

    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class PlanResult:
    intent: ResolvedIntent
    response: str  # what the assistant says to the user
    workflow_status: WorkflowStatus
    # build/modify: the canvas, and the flow it stands for as YAML and as SDK Python code.
    canvas_state: dict[str, Any] | None = None
    pipeline_yaml: str | None = None
    pipeline_python: str | None = None
    validation: Validation | None = None
    workflow_errors: list[str] = field(default_factory=list)
    research_sources: list[dict[str, str]] = field(default_factory=list)


# Streamed turns: the planner calls `emit(event, data)` as it goes; the service turns each call
# into one SSE event and adds `done` (the PlanResult) or `error` itself.
#   status      {"stage": "planning" | "validating" | "repairing" | ..., "message": str}
#   token       {"text": str}  a piece of `response`, in order
#   canvas      {"canvas_state": {...}}  each time the canvas takes a new shape
#   validation  {"valid": bool, "errors": [...], "warnings": [...]}
Emit = Callable[[str, dict[str, Any]], None]


class PlannerUnavailable(Exception):
    """The configured provider could not answer (network, auth, quota): the turn fails with 503
    and is not charged."""


class Planner(Protocol):
    name: str

    def plan(self, request: PlanRequest, emit: Emit) -> PlanResult:
        """Answers one turn. Build and modify turns return `workflow_status="invalid"` with the
        errors when no valid workflow came out (the service answers 422); they never raise for
        that. Blocking: the service runs it in a worker thread."""
        ...

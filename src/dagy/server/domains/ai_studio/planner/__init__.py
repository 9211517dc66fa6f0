"""AI Studio's planners: what turns a plain-language request into a workflow (base.py has the
interface). `planner_for(settings)` chooses the embedded planner (deterministic, offline, no key)
unless `DAGY_AI_PROVIDER` names a provider, then the LLM planner over that provider's API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagy.server.domains.ai_studio.planner.base import (
    ALLOWED_NODE_TYPES,
    Attachment,
    Emit,
    FlowSummary,
    Planner,
    PlannerUnavailable,
    PlanRequest,
    PlanResult,
    Validation,
)
from dagy.server.domains.ai_studio.planner.embedded import EmbeddedPlanner

if TYPE_CHECKING:
    from dagy.server.settings import Settings


def planner_for(settings: Settings) -> Planner:
    """The installation's planner: made once (by the app) and shared by every turn."""
    if settings.ai_provider == "embedded":
        return EmbeddedPlanner()
    from dagy.server.domains.ai_studio.planner.llm import LlmPlanner  # noqa: PLC0415 - only with a provider

    return LlmPlanner.from_settings(settings)


__all__ = [
    "ALLOWED_NODE_TYPES",
    "Attachment",
    "EmbeddedPlanner",
    "Emit",
    "FlowSummary",
    "PlanRequest",
    "PlanResult",
    "Planner",
    "PlannerUnavailable",
    "Validation",
    "planner_for",
]

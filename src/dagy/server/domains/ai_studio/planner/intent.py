"""What a turn asks for when its intent is `auto`, the same for both planners.

- A question ("why did my flow fail?", "which flows ran yesterday?") is advisory, unless it asks
  for something to be built or changed ("can you add a dedup step?").
- Without a canvas, anything else builds; with one, a request to build or create starts over
  ("build a new workflow that...") and everything else modifies the canvas.

An explicit intent wins, except `modify` without a canvas, which builds (there is nothing to edit).
"""

from __future__ import annotations

import re
from typing import Any

from dagy.server.domains.ai_studio.planner.base import Intent, ResolvedIntent

_I = re.IGNORECASE
_QUESTION_START = re.compile(
    r"^\s*(?:why|which|what|whats|what's|when|where|who|how|did|does|do|is|are|was|were|has|have|"
    r"list|show|tell|explain|describe|summari[sz]e|compare)\b",
    _I,
)
_REQUEST_START = re.compile(r"^\s*(?:can|could|would|will)\s+you\b|^\s*please\b", _I)
_BUILD = re.compile(
    r"\b(?:build|create|generate|design|set\s+up|make|draft|scaffold)\w*\s+(?:me\s+)?(?:an?\s+|the\s+)?"
    r"(?:new\s+|fresh\s+|simple\s+|small\s+)?(?:[\w\-]+\s+){0,3}?(?:workflow|pipeline|flow|dag|job|etl)\b"
    r"|\b(?:start\s+over|from\s+scratch|new\s+workflow|new\s+pipeline)\b",
    _I,
)
_CHANGE = re.compile(
    r"\b(?:add|insert|include|append|remove|delete|drop|replace|swap|change|set|update|use|switch|"
    r"rename|move|put|make|modify|edit|tweak|adjust|also|instead|then)\b",
    _I,
)
_HOW_TO = re.compile(r"^\s*how\s+(?:do|can|should|would)\s+(?:i|we)\b", _I)


def resolve_intent(intent: Intent, message: str, canvas: dict[str, Any] | None) -> ResolvedIntent:
    has_canvas = bool(canvas and canvas.get("nodes"))
    if intent == "advisory" or (intent == "auto" and is_question(message)):
        return "advisory"
    if intent == "build" or not has_canvas:
        return "build"
    if intent == "modify":
        return "modify"
    return "build" if _BUILD.search(message) else "modify"


def is_question(message: str) -> bool:
    """A question about flows and runs, not a request phrased as a question."""
    text = message.strip()
    if _REQUEST_START.match(text):
        return False
    if _HOW_TO.match(text):
        return True
    asks = text.endswith("?") or bool(_QUESTION_START.match(text))
    return asks and not (_BUILD.search(text) or (_CHANGE.search(text) and not _QUESTION_START.match(text)))

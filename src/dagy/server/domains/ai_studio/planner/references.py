"""Which nodes of a canvas some words refer to: by id ("deduplicator_1"), by label ("the Notify
Slack step"), or by what they do ("the validation", "the S3 write", "the webhook")."""

from __future__ import annotations

import re
from typing import Any

_I = re.IGNORECASE
_BY_TYPE: dict[str, re.Pattern[str]] = {
    "s3_ingest": re.compile(r"\b(?:s3\s+)?(?:read|reader|reading|ingest\w*|source|input|load\w*)\b", _I),
    "s3_write": re.compile(
        r"\b(?:s3\s+)?(?:write|writer|writing|writes|output|sink|export\w*|upload\w*|save)\b", _I
    ),
    "http_fetch": re.compile(r"\b(?:http|fetch\w*|api(?:\s+call)?|request|download\w*)\b", _I),
    "schema_validator": re.compile(r"\b(?:validat\w*|schema(?:\s+check)?)\b", _I),
    "data_normalizer": re.compile(r"\b(?:normali[sz]\w*|clean\w*|standardi[sz]\w*)\b", _I),
    "deduplicator": re.compile(r"\b(?:de-?dup\w*|duplicate\s+removal)\b", _I),
    "python_function": re.compile(r"\b(?:python|custom|code|function|script)\b", _I),
    "webhook_post": re.compile(r"\b(?:webhooks?|slack|notif\w*|alert\w*|post)\b", _I),
}


def referenced(canvas: dict[str, Any], text: str) -> list[str]:
    """Ids of the nodes `text` refers to, in canvas order (ids and labels first, then kinds)."""
    nodes = [node for node in canvas.get("nodes", []) if isinstance(node, dict)]
    lowered = text.lower()
    exact = [str(n["id"]) for n in nodes if _mentions(lowered, str(n.get("id", "")).lower())]
    exact += [
        str(n["id"])
        for n in nodes
        if len(label := str((n.get("data") or {}).get("label") or "")) >= 4 and label.lower() in lowered
    ]
    if exact:
        return list(dict.fromkeys(exact))
    return [
        str(n["id"]) for n in nodes if (pattern := _BY_TYPE.get(str(n.get("type")))) and pattern.search(text)
    ]


def _mentions(text: str, node_id: str) -> bool:
    return bool(node_id) and re.search(rf"(?<![\w]){re.escape(node_id)}(?![\w])", text) is not None


def names_a_kind(text: str) -> bool:
    """Whether the words name a kind of node ("the webhook"), whether or not the canvas has one."""
    return any(pattern.search(text) for pattern in _BY_TYPE.values())

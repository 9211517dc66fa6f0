"""The structural check of a builder canvas: the shape the builder and `POST /flows` rely on.

Node types and their configuration are not checked here: a draft may be half drawn. The registry
checks them when the canvas is registered as a flow (`POST /flows` with `flow_spec` = the canvas).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_CANVAS_BYTES = 1024 * 1024
MAX_ID = 128
MAX_TYPE = 64
MAX_PROBLEMS = 50  # a broken 1 MB canvas should not answer with a 1 MB error body
ROOT = "canvas_json"


def canvas_problems(canvas: Mapping[str, Any]) -> dict[str, str]:
    """`{field: problem}` naming each bad element (`canvas_json.nodes[1].position`); empty when sound."""
    size = len(json.dumps(canvas, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_CANVAS_BYTES:
        return {ROOT: f"at most {MAX_CANVAS_BYTES} bytes of JSON"}
    problems: dict[str, str] = {}
    nodes, edges = canvas.get("nodes"), canvas.get("edges")
    if not isinstance(nodes, list):
        problems[f"{ROOT}.nodes"] = "required: a list of nodes"
        nodes = []
    if not isinstance(edges, list):
        problems[f"{ROOT}.edges"] = "required: a list of edges"
        edges = []
    for i, node in enumerate(nodes):
        _check_node(node, f"{ROOT}.nodes[{i}]", problems)
    _check_unique(nodes, "nodes", problems)
    for i, edge in enumerate(edges):
        _check_edge(edge, f"{ROOT}.edges[{i}]", problems)
    _check_unique(edges, "edges", problems)
    return dict(list(problems.items())[:MAX_PROBLEMS])


def _check_node(node: Any, where: str, problems: dict[str, str]) -> None:
    if not isinstance(node, dict):
        problems[where] = "must be an object with id, type, position and data"
        return
    _check_string(node, "id", MAX_ID, where, problems)
    _check_string(node, "type", MAX_TYPE, where, problems)
    if not _is_position(node.get("position")):
        problems[f"{where}.position"] = 'required: [x, y] or {"x": x, "y": y}, finite numbers'
    if not isinstance(node.get("data"), dict):
        problems[f"{where}.data"] = "required: an object"


def _check_edge(edge: Any, where: str, problems: dict[str, str]) -> None:
    if not isinstance(edge, dict):
        problems[where] = "must be an object with id, source and target"
        return
    for field in ("id", "source", "target"):
        _check_string(edge, field, MAX_ID, where, problems)


def _check_string(
    element: Mapping[str, Any], field: str, limit: int, where: str, problems: dict[str, str]
) -> None:
    value = element.get(field)
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        problems[f"{where}.{field}"] = f"required: a string of 1-{limit} characters"


def _check_unique(elements: list[Any], kind: str, problems: dict[str, str]) -> None:
    """Ids name elements to the builder (and nodes to edges): two alike would be one element."""
    seen: set[str] = set()
    for i, element in enumerate(elements):
        element_id = element.get("id") if isinstance(element, dict) else None
        if not isinstance(element_id, str):
            continue
        if element_id in seen:
            problems[f"{ROOT}.{kind}[{i}].id"] = f"duplicate id {element_id!r}"
        seen.add(element_id)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_position(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) == 2 and all(_is_number(v) for v in value)
    if isinstance(value, dict):
        return _is_number(value.get("x")) and _is_number(value.get("y"))
    return False

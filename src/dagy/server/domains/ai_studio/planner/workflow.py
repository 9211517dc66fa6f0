"""What both planners answer for a canvas: the flow spec it stands for, that spec checked by the
validator of `POST /flows`, and the same flow as YAML and as SDK code.

The validator is `flows.spec.flow_spec_problems`, called, not copied: a canvas the studio calls
valid registers. On top of it the studio refuses node types outside its executable allowlist, and
warns about what validates but will not work as is (a placeholder bucket, a python step to write).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dagy.server.domains.ai_studio.planner.base import ALLOWED_NODE_TYPES, Validation
from dagy.server.domains.ai_studio.planner.canvas import flow_name_for
from dagy.server.domains.ai_studio.planner.pipeline import pipeline_python, pipeline_yaml
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN
from dagy.server.domains.flows.spec import ROOT, flow_spec_problems
from dagy.server.errors import PayloadTooLarge

# Values a planner puts where the request named none; they validate, and the user is told to set them.
PLACEHOLDER_BUCKET = "your-bucket"
PLACEHOLDER_URL_PREFIXES = ("https://example.com", "https://api.example.com", "https://hooks.example.com")
STUB_MARKER = "TODO"  # in a python_function's code: the step still has to be written
BUILDER_EDGE_KEYS = ("source", "target", "sourceHandle", "targetHandle")
MAX_LISTED_ERRORS = 50


@dataclass(frozen=True)
class Workflow:
    canvas_state: dict[str, Any]
    flow_name: str
    flow_spec: dict[str, Any]
    validation: Validation
    pipeline_yaml: str
    pipeline_python: str


def render_workflow(
    canvas: Mapping[str, Any], *, description: str = "", kept_from: Mapping[str, Any] | None = None
) -> Workflow:
    """The flow spec of a laid-out canvas, its validation, and its YAML and Python forms.

    `kept_from`: the canvas a modify turn started from. Node types outside the allowlist that the
    user placed there themselves are left to the flow validator; the planner may not add others.
    """
    flow_name = flow_name_for(canvas)
    spec = flow_spec_of(canvas, flow_name)
    return Workflow(
        canvas_state=dict(canvas),
        flow_name=flow_name,
        flow_spec=spec,
        validation=check_flow_spec(spec, tolerated=node_types(kept_from or {})),
        pipeline_yaml=pipeline_yaml(spec, description=description),
        pipeline_python=pipeline_python(spec, description=description),
    )


def flow_spec_of(canvas: Mapping[str, Any], flow_name: str) -> dict[str, Any]:
    """The body `POST /flows` takes as `flow_spec` (`name` names the flow): the canvas without
    what only the builder uses (positions, edge ids)."""
    nodes = [
        {"id": node.get("id"), "type": node.get("type"), "data": node.get("data", {})}
        if isinstance(node, dict)
        else node
        for node in canvas.get("nodes", [])
    ]
    edges = [
        {key: edge[key] for key in BUILDER_EDGE_KEYS if key in edge} if isinstance(edge, dict) else edge
        for edge in canvas.get("edges", [])
    ]
    return {"name": flow_name, "nodes": nodes, "edges": edges}


def node_types(canvas: Mapping[str, Any]) -> set[str]:
    return {str(node.get("type")) for node in canvas.get("nodes", []) if isinstance(node, dict)}


def check_flow_spec(spec: Mapping[str, Any], *, tolerated: Collection[str] = ()) -> Validation:
    """The validator's problems as `"<field>: <problem>"`, plus node types outside the allowlist
    (but for the `tolerated` ones)."""
    try:
        problems = flow_spec_problems(spec)
    except PayloadTooLarge as exc:
        problems = {ROOT: str(exc.details.get(ROOT, exc))}
    problems = _allowlist_problems(spec, tolerated) | problems  # an unknown type keeps the validator's word
    name = spec.get("name")
    if not isinstance(name, str) or not re.match(FLOW_NAME_PATTERN, name):
        problems[f"{ROOT}.name"] = "1-128 letters, digits or . _ - starting with a letter or digit"
    errors = [f"{field}: {problem}" for field, problem in problems.items()][:MAX_LISTED_ERRORS]
    warnings = workflow_warnings(spec) if not errors else []
    return Validation(valid=not errors, errors=errors, warnings=warnings)


def _allowlist_problems(spec: Mapping[str, Any], tolerated: Collection[str]) -> dict[str, str]:
    problems = {}
    nodes = spec.get("nodes")
    for i, node in enumerate(nodes if isinstance(nodes, list) else []):
        node_type = node.get("type") if isinstance(node, dict) else None
        if isinstance(node_type, str) and node_type not in ALLOWED_NODE_TYPES and node_type not in tolerated:
            allowed = ", ".join(ALLOWED_NODE_TYPES)
            problems[f"{ROOT}.nodes[{i}].type"] = f"{node_type!r} is not a type AI Studio places: {allowed}"
    return problems


def workflow_warnings(spec: Mapping[str, Any]) -> list[str]:
    """What validates but will not run as the user means until they fill it in."""
    warnings = []
    for node in spec.get("nodes", []):
        data = node.get("data") or {}
        where = f"{node.get('id')} ({data.get('label') or node.get('type')})"
        for problem in _node_warnings(str(node.get("type")), data):
            warnings.append(f"{where}: {problem}")
    return warnings


def _node_warnings(node_type: str, data: Mapping[str, Any]) -> list[str]:
    found = []
    if data.get("bucket") == PLACEHOLDER_BUCKET:
        found.append(f"the bucket {PLACEHOLDER_BUCKET!r} is a placeholder; set the real bucket")
    url = data.get("url")
    if isinstance(url, str) and url.startswith(PLACEHOLDER_URL_PREFIXES):
        found.append(f"the URL {url} is a placeholder; set the real address")
    if node_type == "python_function" and STUB_MARKER in str(data.get("code", "")):
        found.append("its code is a stub that passes the data through; write the step's logic")
    if node_type == "schema_validator" and _accepts_anything(data.get("schema")):
        found.append("the schema names no fields yet, so every object passes; add the fields to check")
    return found


def _accepts_anything(schema: Any) -> bool:
    return isinstance(schema, dict) and not schema.get("properties") and not schema.get("required")

"""Checking a flow spec before it is stored: every problem is reported at once, by field.

The server only parses what it is given (node code is compiled to find syntax errors, never run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dagy.nodes import NODE_TYPES, get_node_type
from dagy.runtime.graph import topological_order

MAX_NODES = 500
MAX_SPEC_BYTES = 4 * 1024 * 1024
MAX_NODE_ID = 128


def canonical_json(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def code_hash(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: two registrations of the same spec hash alike."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def flow_spec_problems(spec: Mapping[str, Any]) -> dict[str, str]:
    """`{field: problem}` for everything wrong with `spec`; empty when it can run."""
    if len(canonical_json(spec).encode()) > MAX_SPEC_BYTES:
        return {"flow_spec": f"at most {MAX_SPEC_BYTES} bytes of JSON"}
    nodes, edges = spec.get("nodes"), spec.get("edges", [])
    problems: dict[str, str] = {}
    if not isinstance(nodes, list) or not nodes:
        problems["flow_spec.nodes"] = "a non-empty list of nodes is required"
        nodes = []
    elif len(nodes) > MAX_NODES:
        problems["flow_spec.nodes"] = f"at most {MAX_NODES} nodes"
    if not isinstance(edges, list):
        problems["flow_spec.edges"] = "must be a list of edges"
        edges = []
    node_ids = _check_nodes(nodes, problems)
    good_edges = _check_edges(edges, node_ids, problems)
    if not problems:
        try:
            topological_order([{"id": n} for n in node_ids], good_edges)
        except ValueError as exc:
            problems["flow_spec.edges"] = str(exc)
    return problems


def _check_nodes(nodes: list[Any], problems: dict[str, str]) -> list[str]:
    ids: list[str] = []
    for i, node in enumerate(nodes):
        where = f"flow_spec.nodes[{i}]"
        if not isinstance(node, dict):
            problems[where] = "must be an object with id, type and data"
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_NODE_ID:
            problems[f"{where}.id"] = f"required: a string of 1-{MAX_NODE_ID} characters"
        elif node_id in ids:
            problems[f"{where}.id"] = f"duplicate node id {node_id!r}"
        else:
            ids.append(node_id)
        _check_node_type(node, where, problems)
    return ids


def _check_node_type(node: Mapping[str, Any], where: str, problems: dict[str, str]) -> None:
    node_type = get_node_type(str(node.get("type")))
    if node_type is None:
        problems[f"{where}.type"] = (
            f"unknown node type {node.get('type')!r}; known: {', '.join(sorted(NODE_TYPES))}"
        )
        return
    data = node.get("data", {})
    if not isinstance(data, dict):
        problems[f"{where}.data"] = "must be an object"
        return
    for field, problem in node_type.validate(data).items():
        problems[f"{where}.data.{field}"] = problem


def _check_edges(edges: list[Any], node_ids: list[str], problems: dict[str, str]) -> list[dict[str, str]]:
    known = set(node_ids)
    good: list[dict[str, str]] = []
    for i, edge in enumerate(edges):
        where = f"flow_spec.edges[{i}]"
        if not isinstance(edge, dict):
            problems[where] = "must be an object with source and target"
            continue
        ok = True
        for end in ("source", "target"):
            if edge.get(end) not in known:
                problems[f"{where}.{end}"] = f"no node with id {edge.get(end)!r}"
                ok = False
        if ok:
            good.append({"source": edge["source"], "target": edge["target"]})
    return good

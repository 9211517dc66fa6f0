"""Checking a flow spec before it is stored: every problem is reported at once, by field.

One checker for every way a spec arrives (flows, drafts, the AI studio, the builder): node ids,
edges, the graph (acyclic), node types (built-in or the org's custom ones), each node's `data`
against its type's config schema, and each edge against the connectors it joins. Builder fields
(a node's `position`, an edge's `id` or `label`) are ignored. The server only parses what it is
given: node code is compiled to find syntax errors, never run.

A code flow (`@flow`/`@task`) registers `{"entrypoint": "module:function"}` as its spec, with the
artifact that holds the module: no nodes, no edges; its tasks become node runs when it runs.

Either kind may declare `secrets`, the names its code reads with `dagy.secrets.get` (a code flow's
tasks, `python_function` nodes): a run hands its code those secrets and no others.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import keyword
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dagy.nodes import NODE_TYPES, Connector, NodeDefinition, connection_problem, get_node_type
from dagy.secrets import DECLARED_SECRETS
from dagy.server.api.patterns import describe
from dagy.server.domains.nodes.service import custom_node_definitions
from dagy.server.domains.secrets.schemas import NAME_PATTERN as SECRET_NAME_PATTERN
from dagy.server.errors import PayloadTooLarge

DEFAULT_MAX_SPEC_BYTES = 1024 * 1024
MAX_NODES = 500
MAX_EDGES = 5000
MAX_NODE_ID = 128
MAX_PROBLEMS = 100  # a broken 1 MB spec should not answer with a 1 MB error body
MAX_DECLARED_SECRETS = 100
ROOT = "flow_spec"
ENTRYPOINT = "entrypoint"


def canonical_json(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def code_hash(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: two registrations of the same spec hash alike."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def org_flow_spec_problems(
    session: Session, *, org_id: str, spec: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_SPEC_BYTES
) -> dict[str, str]:
    """`flow_spec_problems` with the org's custom node types known."""
    return flow_spec_problems(spec, custom_node_definitions(session, org_id=org_id), max_bytes=max_bytes)


def registration_problems(
    session: Session,
    *,
    org_id: str,
    spec: Mapping[str, Any],
    artifact_s3_uri: str | None,
    max_bytes: int = DEFAULT_MAX_SPEC_BYTES,
) -> dict[str, str]:
    """The problems of a spec registered as a flow version: a code flow's entry point, else a DAG."""
    if ENTRYPOINT in spec:
        check_size(spec, max_bytes)
        return code_flow_spec_problems(spec, artifact_s3_uri=artifact_s3_uri)
    return org_flow_spec_problems(session, org_id=org_id, spec=spec, max_bytes=max_bytes)


def code_flow_spec_problems(spec: Mapping[str, Any], *, artifact_s3_uri: str | None) -> dict[str, str]:
    """A code flow's spec names its entry point, `module:function` (a dotted module path and a
    function name), and nothing to run beside it; the code itself is in the artifact."""
    problems: dict[str, str] = {}
    if not _is_entrypoint(spec.get(ENTRYPOINT)):
        problems[f"{ROOT}.{ENTRYPOINT}"] = "module:function, such as etl.flows:daily (a dotted module path)"
    for key in ("nodes", "edges"):
        if key in spec:
            problems[f"{ROOT}.{key}"] = f"a code flow (flow_spec.entrypoint) has no {key}; its tasks are code"
    if artifact_s3_uri is None:
        problems["artifact_s3_uri"] = "required with flow_spec.entrypoint: the artifact holding the code"
    return problems | declared_secrets_problems(spec)


def declared_secrets_problems(spec: Mapping[str, Any]) -> dict[str, str]:
    """`secrets`, when given, is a list of secret names, each once."""
    declared = spec.get(DECLARED_SECRETS)
    if declared is None:
        return {}
    field = f"{ROOT}.{DECLARED_SECRETS}"
    if not isinstance(declared, list):
        return {field: "a list of the secret names the flow's code reads with dagy.secrets.get"}
    if len(declared) > MAX_DECLARED_SECRETS:
        return {field: f"at most {MAX_DECLARED_SECRETS} secret names"}
    for position, name in enumerate(declared):
        if not isinstance(name, str) or not re.match(SECRET_NAME_PATTERN, name):
            return {f"{field}[{position}]": f"a secret name: {describe(SECRET_NAME_PATTERN)}"}
    if len(set(declared)) != len(declared):
        return {field: "names each secret once"}
    return {}


def _is_entrypoint(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 255 or value.count(":") != 1:
        return False
    module, function = value.split(":")
    names = [*module.split("."), function]
    return all(name.isidentifier() and name.isascii() and not keyword.iskeyword(name) for name in names)


def check_size(spec: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_SPEC_BYTES) -> None:
    """413 `payload_too_large` naming `flow_spec` when its canonical JSON exceeds `max_bytes`."""
    if len(canonical_json(spec).encode()) > max_bytes:
        raise PayloadTooLarge(
            "The flow spec is too large.", details={ROOT: f"at most {max_bytes} bytes of canonical JSON"}
        )


def flow_spec_problems(
    spec: Mapping[str, Any],
    custom: Iterable[NodeDefinition] = (),
    *,
    max_bytes: int = DEFAULT_MAX_SPEC_BYTES,
) -> dict[str, str]:
    """`{field: problem}` for everything wrong with `spec`; empty when it is valid.

    `custom` are the org's custom node definitions (a built-in type of the same name wins). Raises
    `PayloadTooLarge` past `max_bytes`, before looking any further.
    """
    check_size(spec, max_bytes)
    problems: dict[str, str] = {}
    nodes = _list_of(spec, "nodes", problems, limit=MAX_NODES, required=True)
    edges = _list_of(spec, "edges", problems, limit=MAX_EDGES, required=False)
    known = {d.node_type: d for d in custom} | {
        t.definition.node_type: t.definition for t in NODE_TYPES.values()
    }
    index = _check_nodes(nodes, known, problems)
    links = _check_edges(edges, index, problems)
    _check_cardinality(index, links, problems)
    problems |= declared_secrets_problems(spec)
    found = cycles(list(index), [(link.source, link.target) for link in links])
    if found:
        through = "; ".join(", ".join(cycle) for cycle in found)
        problems[f"{ROOT}.edges"] = (
            f"the graph has {'a cycle' if len(found) == 1 else 'cycles'} through {through}"
        )
    return _capped(problems)


@dataclass(frozen=True)
class _Node:
    position: int
    definition: NodeDefinition | None  # None: its type is unknown, its connections go unchecked


@dataclass(frozen=True)
class _Link:
    """An edge whose two ends exist; connectors are set when both could be resolved."""

    source: str
    target: str
    source_connector: Connector | None
    target_connector: Connector | None


def _list_of(
    spec: Mapping[str, Any], key: str, problems: dict[str, str], *, limit: int, required: bool
) -> list[Any]:
    value = spec.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value):
        problems[f"{ROOT}.{key}"] = f"{'a non-empty' if required else 'must be a'} list of {key}"
        return []
    if len(value) > limit:
        problems[f"{ROOT}.{key}"] = f"at most {limit} {key}"
    return value


def _check_nodes(
    nodes: list[Any], known: Mapping[str, NodeDefinition], problems: dict[str, str]
) -> dict[str, _Node]:
    index: dict[str, _Node] = {}
    for i, node in enumerate(nodes):
        where = f"{ROOT}.nodes[{i}]"
        if not isinstance(node, dict):
            problems[where] = "must be an object with id, type and data"
            continue
        definition = _check_node_type(node, known, where, problems)
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_NODE_ID:
            problems[f"{where}.id"] = f"required: a string of 1-{MAX_NODE_ID} characters"
        elif node_id in index:
            problems[f"{where}.id"] = f"duplicate node id {node_id!r}"
        else:
            index[node_id] = _Node(i, definition)
    return index


def _check_node_type(
    node: Mapping[str, Any], known: Mapping[str, NodeDefinition], where: str, problems: dict[str, str]
) -> NodeDefinition | None:
    type_name = node.get("type")
    definition = known.get(type_name) if isinstance(type_name, str) else None
    if definition is None:
        problems[f"{where}.type"] = _unknown_type(type_name, known)
        return None
    data = node.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems[f"{where}.data"] = "must be an object"
        return definition
    builtin = get_node_type(definition.node_type)
    found = builtin.validate(data) if builtin is not None else definition.config_problems(data)
    for field, problem in found.items():
        problems[f"{where}.data.{field}"] = problem
    return definition


def _unknown_type(type_name: Any, known: Mapping[str, NodeDefinition]) -> str:
    if not isinstance(type_name, str) or not type_name:
        return "required: a node type from the registry"
    close = difflib.get_close_matches(type_name, list(known), n=1) if len(type_name) <= 64 else []
    hint = f"did you mean {close[0]!r}?" if close else "see GET /v1/nodes/registry"
    return f"unknown node type {_shown(type_name)}; {hint}"


def _check_edges(edges: list[Any], index: Mapping[str, _Node], problems: dict[str, str]) -> list[_Link]:
    links: list[_Link] = []
    seen: set[tuple[Any, ...]] = set()
    for i, edge in enumerate(edges):
        where = f"{ROOT}.edges[{i}]"
        if not isinstance(edge, dict):
            problems[where] = "must be an object with source and target"
            continue
        ends = [_end(edge, end, index, where, problems) for end in ("source", "target")]
        if ends[0] is None or ends[1] is None:
            continue
        link = _link(edge, source=ends[0], target=ends[1], index=index, where=where, problems=problems)
        key = (link.source, link.target, repr(edge.get("sourceHandle")), repr(edge.get("targetHandle")))
        if key in seen:
            problems[where] = f"duplicate edge from {link.source!r} to {link.target!r}"
            continue
        seen.add(key)
        links.append(link)
    return links


def _end(
    edge: Mapping[str, Any], end: str, index: Mapping[str, _Node], where: str, problems: dict[str, str]
) -> str | None:
    node_id = edge.get(end)
    if not isinstance(node_id, str) or node_id not in index:
        problems[f"{where}.{end}"] = f"no node with id {_shown(node_id)}"
        return None
    return node_id


def _link(
    edge: Mapping[str, Any],
    *,
    source: str,
    target: str,
    index: Mapping[str, _Node],
    where: str,
    problems: dict[str, str],
) -> _Link:
    """Resolves the connectors an edge joins (its handles, else the first output and first input)
    and checks that they fit together."""
    source_def, target_def = index[source].definition, index[target].definition
    if source_def is None or target_def is None:
        return _Link(source, target, None, None)
    out = _connector(
        edge, "sourceHandle", node_id=source, definition=source_def, where=where, problems=problems
    )
    into = _connector(
        edge, "targetHandle", node_id=target, definition=target_def, where=where, problems=problems
    )
    if out is not None and into is not None:
        problem = connection_problem(out, into)
        if problem is not None:
            problems[where] = (
                f"{source} ({source_def.node_type}) cannot feed {target} ({target_def.node_type}): {problem}"
            )
    return _Link(source, target, out, into)


def _connector(
    edge: Mapping[str, Any],
    handle_key: str,
    *,
    node_id: str,
    definition: NodeDefinition,
    where: str,
    problems: dict[str, str],
) -> Connector | None:
    outgoing = handle_key == "sourceHandle"
    candidates = definition.outbound if outgoing else definition.inbound
    kind = "output" if outgoing else "input"
    handle = edge.get(handle_key)
    if handle is None:
        if not candidates:
            problems[f"{where}.{'source' if outgoing else 'target'}"] = (
                f"node {node_id!r} ({definition.node_type}) has no {kind}s"
            )
            return None
        return candidates[0]
    found = next((c for c in candidates if c.id == handle), None)
    if found is None:
        names = ", ".join(c.id for c in candidates) or "none"
        problems[f"{where}.{handle_key}"] = (
            f"node {node_id!r} ({definition.node_type}) has no {kind} {_shown(handle)}; its {kind}s: {names}"
        )
    return found


def _check_cardinality(index: Mapping[str, _Node], links: list[_Link], problems: dict[str, str]) -> None:
    """Connectors of cardinality `zero_or_one` take one edge at most; required inputs need one."""
    counts: Counter[tuple[str, str]] = Counter()
    for link in links:
        if link.source_connector is not None:
            counts[(link.source, link.source_connector.id)] += 1
        if link.target_connector is not None:
            counts[(link.target, link.target_connector.id)] += 1
    for node_id, node in index.items():
        if node.definition is None:
            continue
        for connector in node.definition.connectors:
            count = counts[(node_id, connector.id)]
            where = f"{ROOT}.nodes[{node.position}].connectors.{connector.id}"
            if connector.single and count > 1:
                problems[where] = f"takes at most one edge; {count} are connected"
            elif connector.required and connector.direction == "inbound" and count == 0:
                problems[where] = f"required input {connector.name!r} is not connected"


def cycles(node_ids: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """The node ids of each cycle (strongly connected group, or a node feeding itself), in the
    spec's node order. Kosaraju's two passes, iterative: a 500-node chain must not hit the
    recursion limit."""
    downstream: dict[str, list[str]] = {n: [] for n in node_ids}
    upstream: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        downstream[source].append(target)
        upstream[target].append(source)
    position = {n: i for i, n in enumerate(node_ids)}
    found: list[list[str]] = []
    assigned: set[str] = set()
    for start in reversed(_finish_order(node_ids, downstream)):
        if start in assigned:
            continue
        group, stack = [], [start]
        assigned.add(start)
        while stack:
            node = stack.pop()
            group.append(node)
            for previous in upstream[node]:
                if previous not in assigned:
                    assigned.add(previous)
                    stack.append(previous)
        if len(group) > 1 or start in downstream[start]:
            found.append(sorted(group, key=position.__getitem__))
    return sorted(found, key=lambda group: position[group[0]])


def _finish_order(node_ids: list[str], downstream: Mapping[str, list[str]]) -> list[str]:
    """Nodes in the order a depth-first walk finishes them."""
    visited: set[str] = set()
    finished: list[str] = []
    for start in node_ids:
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, iter(downstream[start]))]
        while stack:
            node, successors = stack[-1]
            following = next((n for n in successors if n not in visited), None)
            if following is None:
                stack.pop()
                finished.append(node)
            else:
                visited.add(following)
                stack.append((following, iter(downstream[following])))
    return finished


def _shown(value: Any) -> str:
    """A value quoted in a problem, cut short: a problem must not echo a megabyte back."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _capped(problems: dict[str, str]) -> dict[str, str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    shown = dict(list(problems.items())[:MAX_PROBLEMS])
    shown[ROOT] = f"{len(problems) - MAX_PROBLEMS} more problems not shown"
    return shown

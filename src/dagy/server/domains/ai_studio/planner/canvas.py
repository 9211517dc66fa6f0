"""The builder's canvas as both planners make it: its shape, its layout, and the flow it stands for.

A canvas is what `/dag-drafts` stores and `POST /flows` accepts unchanged as `flow_spec`:
`{"nodes": [{"id", "type", "position": {"x", "y"}, "data": {...}}], "edges": [{"id", "source",
"target", "sourceHandle"?}]}`. A node's `data` holds its type's settings and `label`, the title
the builder shows (the validator leaves keys it does not know alone).

Layout is left to right: a node sits one column right of the nodes feeding it, a branch one row
below the line it leaves, and no two nodes overlap. Nodes that already have a position (a modify
turn's kept nodes) keep it; the others are placed around them.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

NODE_WIDTH = 220
NODE_HEIGHT = 80
GAP = 20
COLUMN = 280  # NODE_WIDTH + room for the edge between two columns
ROW = 140  # NODE_HEIGHT + room between two rows
MAX_PLACEMENT_TRIES = 1000

Position = tuple[float, float]


def empty_canvas() -> dict[str, Any]:
    return {"nodes": [], "edges": []}


def copy_canvas(canvas: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy holding lists of nodes and edges (whatever else the canvas holds is kept)."""
    copied = copy.deepcopy(dict(canvas or {}))
    for key in ("nodes", "edges"):
        if not isinstance(copied.get(key), list):
            copied[key] = []
    return copied


def node_ids(canvas: Mapping[str, Any]) -> list[str]:
    return [str(node.get("id")) for node in canvas.get("nodes", []) if isinstance(node, dict)]


def new_node_id(node_type: str, taken: Iterable[str]) -> str:
    """`<type>_<n>` with the smallest n not taken: ids stay readable in errors and in code."""
    used = set(taken)
    n = 1
    while f"{node_type}_{n}" in used:
        n += 1
    return f"{node_type}_{n}"


def make_edge(source: str, target: str, source_handle: str | None = None) -> dict[str, Any]:
    edge: dict[str, Any] = {"id": f"e_{source}__{target}", "source": source, "target": target}
    if source_handle is not None:
        edge["sourceHandle"] = source_handle
    return edge


def node_position(node: Mapping[str, Any]) -> Position | None:
    """A node's position, written `{"x", "y"}` or `[x, y]`; None when it has none (or a bad one)."""
    value = node.get("position")
    if isinstance(value, dict):
        x, y = value.get("x"), value.get("y")
    elif isinstance(value, list) and len(value) == 2:
        x, y = value
    else:
        return None
    if isinstance(x, int | float) and isinstance(y, int | float) and _is_number(x) and _is_number(y):
        return float(x), float(y)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def links(canvas: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each edge whose ends are strings."""
    found = []
    for edge in canvas.get("edges", []):
        if (
            isinstance(edge, dict)
            and isinstance(edge.get("source"), str)
            and isinstance(edge.get("target"), str)
        ):
            found.append((edge["source"], edge["target"]))
    return found


def topological_ids(canvas: Mapping[str, Any]) -> list[str]:
    """Node ids, each after the nodes feeding it, ties in canvas order; a cycle's nodes last."""
    ids = node_ids(canvas)
    pending = {node_id: 0 for node_id in ids}
    downstream: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for source, target in links(canvas):
        if source in pending and target in pending:
            pending[target] += 1
            downstream[source].append(target)
    ready = [node_id for node_id in ids if pending[node_id] == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in downstream[node_id]:
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
    return order + [node_id for node_id in ids if node_id not in order]


def lay_out(canvas: dict[str, Any]) -> dict[str, Any]:
    """Gives every node without a position one (in place) and answers the canvas.

    Without any positioned node: columns by depth (longest path from a source), each node on the
    row of the first node feeding it when free, else the next free row of its column. Otherwise
    each new node is placed near its neighbours and moved down until it overlaps nothing.
    """
    nodes = {str(node.get("id")): node for node in canvas["nodes"] if isinstance(node, dict)}
    placed = {node_id: pos for node_id, node in nodes.items() if (pos := node_position(node)) is not None}
    if not placed:
        for node_id, (x, y) in _layered(canvas).items():
            nodes[node_id]["position"] = _shown(x, y)
        return canvas
    feeding, fed = _neighbours(canvas)
    for node_id in topological_ids(canvas):
        if node_id in placed or node_id not in nodes:
            continue
        position = _free_spot(_wanted_spot(node_id, feeding, fed, placed), placed.values())
        placed[node_id] = position
        nodes[node_id]["position"] = _shown(*position)
    return canvas


def _shown(x: float, y: float) -> dict[str, float]:
    """A position as the builder stores it, whole numbers written as such."""
    return {"x": int(x) if x.is_integer() else x, "y": int(y) if y.is_integer() else y}


def _neighbours(canvas: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    feeding: dict[str, list[str]] = {node_id: [] for node_id in node_ids(canvas)}
    fed: dict[str, list[str]] = {node_id: [] for node_id in node_ids(canvas)}
    for source, target in links(canvas):
        if source in fed and target in feeding:
            feeding[target].append(source)
            fed[source].append(target)
    return feeding, fed


def _layered(canvas: Mapping[str, Any]) -> dict[str, Position]:
    feeding, _ = _neighbours(canvas)
    column: dict[str, int] = {}
    row: dict[str, int] = {}
    taken: set[tuple[int, int]] = set()
    for node_id in topological_ids(canvas):
        parents = [p for p in feeding[node_id] if p in column]
        column[node_id] = max((column[p] + 1 for p in parents), default=0)
        wanted = row[parents[0]] if parents else 0
        while (column[node_id], wanted) in taken:
            wanted += 1
        row[node_id] = wanted
        taken.add((column[node_id], wanted))
    return {node_id: (float(column[node_id] * COLUMN), float(row[node_id] * ROW)) for node_id in column}


def _wanted_spot(
    node_id: str,
    feeding: Mapping[str, list[str]],
    fed: Mapping[str, list[str]],
    placed: Mapping[str, Position],
) -> Position:
    parents = [placed[p] for p in feeding[node_id] if p in placed]
    children = [placed[c] for c in fed[node_id] if c in placed]
    if parents:
        x = max(p[0] for p in parents) + COLUMN
        if children and min(c[0] for c in children) < x + NODE_WIDTH:
            # Inserted between two placed nodes: half a column on, one row down (a detour).
            return max(p[0] for p in parents) + COLUMN / 2, parents[0][1] + ROW
        return x, parents[0][1]
    if children:
        return min(c[0] for c in children) - COLUMN, children[0][1]
    bottom = max((p[1] for p in placed.values()), default=-ROW)
    return 0.0, bottom + ROW


def _free_spot(wanted: Position, placed: Iterable[Position]) -> Position:
    others = list(placed)
    x, y = wanted
    for _ in range(MAX_PLACEMENT_TRIES):
        if not any(overlap((x, y), other) for other in others):
            return x, y
        y += ROW
    return x, y


def overlap(a: Position, b: Position) -> bool:
    """Whether two nodes at these positions would overlap (with a small gap kept between nodes)."""
    return abs(a[0] - b[0]) < NODE_WIDTH + GAP and abs(a[1] - b[1]) < NODE_HEIGHT + GAP


def flow_name_for(canvas: Mapping[str, Any]) -> str:
    """A flow name from what the workflow reads: the last folder of its first S3 prefix or URL path
    (`s3://raw/orders/` -> `orders_pipeline`), else `generated_pipeline`."""
    for node in canvas.get("nodes", []):
        data = node.get("data") if isinstance(node, dict) else None
        if not isinstance(data, dict):
            continue
        source = data.get("prefix") if node.get("type") == "s3_ingest" else None
        if node.get("type") == "http_fetch" and isinstance(data.get("url"), str):
            source = re.sub(r"^[a-z]+://[^/]*", "", data["url"]).split("?")[0]
        word = _last_word(source) if isinstance(source, str) else None
        if word:
            return f"{word}_pipeline"
    return "generated_pipeline"


def _last_word(path: str) -> str | None:
    parts = [re.sub(r"[^a-z0-9]+", "_", part.lower()).strip("_") for part in path.split("/")]
    words = [part for part in parts if part and not part.isdigit() and part not in {"v1", "v2", "api"}]
    return words[-1][:60] if words else None

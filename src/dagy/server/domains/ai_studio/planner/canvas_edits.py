"""Changing a canvas in place, one node at a time, the way a person would in the builder: insert a
node into an edge, hang one off a node, take one out and join its neighbours, swap one for another.
Nodes that are not touched keep their ids, data and positions; a new node has no position until
`canvas.lay_out` gives it one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagy.server.domains.ai_studio.planner.canvas import make_edge, topological_ids
from dagy.server.domains.ai_studio.planner.drafting import INVALID_PORT, port_of
from dagy.server.domains.ai_studio.planner.step import SINKS, SOURCES


def node(canvas: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in canvas["nodes"] if n.get("id") == node_id)


def node_type(canvas: dict[str, Any], node_id: str) -> str:
    return str(node(canvas, node_id).get("type"))


def edges_out(canvas: dict[str, Any], node_id: str) -> list[dict[str, Any]]:
    return [edge for edge in canvas["edges"] if edge.get("source") == node_id]


def edges_in(canvas: dict[str, Any], node_id: str) -> list[dict[str, Any]]:
    return [edge for edge in canvas["edges"] if edge.get("target") == node_id]


def connect(canvas: dict[str, Any], source: str, target: str, handle: str | None = None) -> None:
    """Adds an edge unless the same one is there."""
    for edge in canvas["edges"]:
        if (edge.get("source"), edge.get("target"), edge.get("sourceHandle")) == (source, target, handle):
            return
    canvas["edges"].append(make_edge(source, target, handle))


def insert_after(canvas: dict[str, Any], anchor: str, new_id: str) -> None:
    """`anchor -> x` becomes `anchor -> new -> x` for its data edges (a validator's invalid
    branch stays where it is)."""
    moved = [edge for edge in edges_out(canvas, anchor) if edge.get("sourceHandle") != INVALID_PORT]
    for edge in moved:
        canvas["edges"].remove(edge)
        connect(canvas, new_id, str(edge["target"]), port_of(node_type(canvas, new_id)))
    connect(canvas, anchor, new_id, port_of(node_type(canvas, anchor)))


def insert_before(canvas: dict[str, Any], anchor: str, new_id: str) -> None:
    """`x -> anchor` becomes `x -> new -> anchor`."""
    for edge in edges_in(canvas, anchor):
        canvas["edges"].remove(edge)
        connect(canvas, str(edge["source"]), new_id, edge.get("sourceHandle"))
    connect(canvas, new_id, anchor, port_of(node_type(canvas, new_id)))


def remove(canvas: dict[str, Any], node_id: str) -> list[str]:
    """Takes a node out, joining each node that fed it to each node it fed (its data edges). A
    validator's invalid branch goes with it. Answers the ids removed."""
    removed = [node_id]
    if node_type(canvas, node_id) == "schema_validator":
        removed += [
            str(e["target"]) for e in edges_out(canvas, node_id) if e.get("sourceHandle") == INVALID_PORT
        ]
    feeding = [(str(e["source"]), e.get("sourceHandle")) for e in edges_in(canvas, node_id)]
    fed = [str(e["target"]) for e in edges_out(canvas, node_id) if e.get("sourceHandle") != INVALID_PORT]
    gone = set(removed)
    canvas["nodes"] = [n for n in canvas["nodes"] if n.get("id") not in gone]
    canvas["edges"] = [
        e for e in canvas["edges"] if e.get("source") not in gone and e.get("target") not in gone
    ]
    for target in fed:
        for source, handle in feeding:
            if target not in gone:
                connect(canvas, source, target, handle)
    return removed


def replace(canvas: dict[str, Any], old_id: str, new_id: str) -> None:
    """The new node takes the old one's place: its edges (ports adjusted) and its position."""
    old = node(canvas, old_id)
    if "position" in old:
        node(canvas, new_id)["position"] = old["position"]
    new_port = port_of(node_type(canvas, new_id))
    for edge in edges_in(canvas, old_id):
        connect(canvas, str(edge["source"]), new_id, edge.get("sourceHandle"))
    for edge in edges_out(canvas, old_id):
        if edge.get("sourceHandle") != INVALID_PORT:
            connect(canvas, new_id, str(edge["target"]), new_port)
    gone = {old_id}
    if old.get("type") == "schema_validator" and node_type(canvas, new_id) != "schema_validator":
        gone |= {str(e["target"]) for e in edges_out(canvas, old_id) if e.get("sourceHandle") == INVALID_PORT}
    canvas["nodes"] = [n for n in canvas["nodes"] if n.get("id") not in gone]
    canvas["edges"] = [
        e for e in canvas["edges"] if e.get("source") not in gone and e.get("target") not in gone
    ]


def main_tail(canvas: dict[str, Any]) -> str | None:
    """The last node of the line of data: the last node in topological order that is neither a
    write nor a webhook, nor fed only by a validator's invalid records."""
    invalid_fed = {str(e["target"]) for e in canvas["edges"] if e.get("sourceHandle") == INVALID_PORT}
    candidates = [
        node_id
        for node_id in topological_ids(canvas)
        if node_type(canvas, node_id) not in SINKS and node_id not in invalid_fed
    ]
    return candidates[-1] if candidates else None


def first_processing(canvas: dict[str, Any]) -> str | None:
    """The first node after the sources that is not a write or webhook (where a validator goes)."""
    for node_id in topological_ids(canvas):
        if node_type(canvas, node_id) not in (*SOURCES, *SINKS):
            return node_id
    return None


def sources_of(canvas: dict[str, Any]) -> list[str]:
    return [str(n["id"]) for n in canvas["nodes"] if n.get("type") in SOURCES]


def of_type(canvas: dict[str, Any], types: Iterable[str]) -> list[str]:
    wanted = set(types)
    return [str(n["id"]) for n in canvas["nodes"] if n.get("type") in wanted]

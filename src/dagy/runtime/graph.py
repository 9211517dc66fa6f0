"""The shape of a flow spec: the order nodes run in and who feeds whom."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def upstream_of(
    nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Each node id mapped to the ids of the nodes whose output it receives, in edge order."""
    upstream: dict[str, list[str]] = {str(node["id"]): [] for node in nodes}
    for edge in edges:
        upstream[str(edge["target"])].append(str(edge["source"]))
    return upstream


def topological_order(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> list[str]:
    """Kahn's algorithm, stable in the spec's node order. Raises ValueError on a cycle."""
    order_index = {str(node["id"]): i for i, node in enumerate(nodes)}
    downstream: dict[str, list[str]] = {node_id: [] for node_id in order_index}
    indegree = dict.fromkeys(order_index, 0)
    for edge in edges:
        downstream[str(edge["source"])].append(str(edge["target"]))
        indegree[str(edge["target"])] += 1
    ready = sorted((n for n, d in indegree.items() if d == 0), key=order_index.__getitem__)
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in downstream[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
                ready.sort(key=order_index.__getitem__)
    if len(order) != len(order_index):
        cyclic = sorted(n for n, d in indegree.items() if d > 0)
        raise ValueError(f"the graph has a cycle through {', '.join(cyclic)}")
    return order


def sinks(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> list[str]:
    """Nodes nobody consumes: their outputs are the run's output."""
    sources = {str(edge["source"]) for edge in edges}
    return [str(node["id"]) for node in nodes if str(node["id"]) not in sources]


@dataclass(frozen=True)
class Link:
    """An edge as the engine sees it: the source node and the connector it leaves by (or None)."""

    source: str
    handle: str | None


@dataclass
class FlowGraph:
    """A flow spec's nodes by id, in topological order, with each node's incoming links."""

    nodes: dict[str, Mapping[str, Any]]
    order: list[str]
    incoming: dict[str, list[Link]]
    sinks: list[str]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FlowGraph:
        """Raises ValueError for a cycle or an edge naming an unknown node."""
        node_list = list(spec.get("nodes") or [])
        edges = list(spec.get("edges") or [])
        nodes = {str(node["id"]): node for node in node_list}
        incoming: dict[str, list[Link]] = {node_id: [] for node_id in nodes}
        for edge in edges:
            source, target = str(edge["source"]), str(edge["target"])
            if source not in nodes or target not in nodes:
                raise ValueError(f"the edge {source} -> {target} names a node the spec does not have")
            handle = edge.get("sourceHandle")
            incoming[target].append(Link(source, str(handle) if handle else None))
        return cls(
            nodes=nodes,
            order=topological_order(node_list, edges),
            incoming=incoming,
            sinks=sinks(node_list, edges),
        )

    def upstream(self, node_id: str) -> list[str]:
        """Distinct upstream node ids, in edge order."""
        return list(dict.fromkeys(link.source for link in self.incoming[node_id]))

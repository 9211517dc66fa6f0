"""The node registry: one module per category, one class per node type."""

from __future__ import annotations

from dagy.nodes.base import NodeContext, NodeDefinition, NodeError, NodeType
from dagy.nodes.custom import PythonFunctionNode

NODE_TYPES: dict[str, type[NodeType]] = {
    PythonFunctionNode.definition.type: PythonFunctionNode,
}


def get_node_type(name: str) -> type[NodeType] | None:
    return NODE_TYPES.get(name)


__all__ = [
    "NODE_TYPES",
    "NodeContext",
    "NodeDefinition",
    "NodeError",
    "NodeType",
    "PythonFunctionNode",
    "get_node_type",
]

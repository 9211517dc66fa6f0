"""The node registry: one module per category, one class per node type.

`NODE_TYPES` holds the built-in types in the builder's order (category, then as each module
lists them). An org's custom node types are definitions only; the server keeps them.
"""

from __future__ import annotations

from dagy.nodes import control_flow, custom, ingestion, llm, notification, transform, vectordb
from dagy.nodes.base import (
    ExecutableNode,
    NodeContext,
    NodeError,
    NodeType,
    ObjectStore,
    Ports,
    SubflowRunner,
)
from dagy.nodes.config import FIELD_TYPES, ConfigField, config_problems
from dagy.nodes.connectors import (
    ANY,
    AT_MOST_ONE,
    CARDINALITIES,
    DIRECTIONS,
    INBOUND,
    OUTBOUND,
    Connector,
    connection_problem,
)
from dagy.nodes.custom import PythonFunctionNode
from dagy.nodes.definition import CATEGORIES, NODE_TYPE_PATTERN, NodeDefinition, definition_problems
from dagy.protocol.host import HostSettings

_MODULES = (ingestion, transform, llm, vectordb, notification, custom, control_flow)

NODE_TYPES: dict[str, type[NodeType]] = {
    node.definition.node_type: node for module in _MODULES for node in module.NODES
}


def get_node_type(name: str) -> type[NodeType] | None:
    return NODE_TYPES.get(name)


def builtin_definitions() -> list[NodeDefinition]:
    return [node.definition for node in NODE_TYPES.values()]


__all__ = [
    "ANY",
    "AT_MOST_ONE",
    "CARDINALITIES",
    "CATEGORIES",
    "DIRECTIONS",
    "FIELD_TYPES",
    "INBOUND",
    "NODE_TYPES",
    "NODE_TYPE_PATTERN",
    "OUTBOUND",
    "ConfigField",
    "Connector",
    "ExecutableNode",
    "HostSettings",
    "NodeContext",
    "NodeDefinition",
    "NodeError",
    "NodeType",
    "ObjectStore",
    "Ports",
    "PythonFunctionNode",
    "SubflowRunner",
    "builtin_definitions",
    "config_problems",
    "connection_problem",
    "definition_problems",
    "get_node_type",
]

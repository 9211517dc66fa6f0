"""Control flow: branching, looping and waiting inside a flow."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import ANY, AT_MOST_ONE, inbound, outbound
from dagy.nodes.definition import NodeDefinition


class ConditionNode(NodeType):
    definition = NodeDefinition(
        node_type="condition",
        label="Condition",
        description="Send the input down the True or the False branch, by an expression over it.",
        category="control_flow",
        icon="GitBranch",
        color="orange",
        tags=("if", "branch", "condition", "switch", "route"),
        connectors=(
            inbound(cardinality=AT_MOST_ONE, required=True),
            outbound((ANY,), connector_id="true_out", name="True"),
            outbound((ANY,), connector_id="false_out", name="False"),
        ),
        config_schema=(
            ConfigField(
                "expression",
                "Expression",
                "string",
                required=True,
                description="For example input['status'] == 'ok' or len(input) > 0.",
            ),
        ),
    )


class ForEachNode(NodeType):
    definition = NodeDefinition(
        node_type="for_each",
        label="For Each",
        description="Run the downstream branch once per item of the incoming list.",
        category="control_flow",
        icon="Repeat",
        color="orange",
        tags=("loop", "map", "fan out", "iterate", "batch"),
        connectors=(
            inbound(
                ("dataframe", "json"),
                connector_id="items_in",
                name="Items",
                cardinality=AT_MOST_ONE,
                required=True,
            ),
            outbound((ANY,), connector_id="item_out", name="Item"),
        ),
        config_schema=(
            ConfigField(
                "items_path", "Items path", "string", description="Where the list is; empty: the input."
            ),
            ConfigField("max_concurrency", "Parallel items", "integer", default=4),
            ConfigField("fail_fast", "Stop at the first failure", "boolean", default=True),
        ),
    )


class DelayNode(NodeType):
    definition = NodeDefinition(
        node_type="delay",
        label="Delay",
        description="Wait a number of seconds, then pass the input on unchanged.",
        category="control_flow",
        icon="Timer",
        color="orange",
        tags=("wait", "sleep", "pause", "throttle", "timer"),
        connectors=(inbound(cardinality=AT_MOST_ONE), outbound((ANY,))),
        config_schema=(ConfigField("seconds", "Seconds", "number", required=True),),
    )


NODES: tuple[type[NodeType], ...] = (ConditionNode, ForEachNode, DelayNode)

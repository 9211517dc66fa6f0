"""Transform: reshaping, checking and cleaning records between a source and a sink."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition

_RECORDS_IN = inbound(("dataframe", "json"), required=True)
_RECORDS_OUT = outbound(("dataframe", "json"))


class SchemaValidatorNode(NodeType):
    definition = NodeDefinition(
        node_type="schema_validator",
        label="Schema Validator",
        description="Check each record against a JSON Schema; valid and invalid records leave apart.",
        category="transform",
        icon="ShieldCheck",
        color="violet",
        tags=("validation", "json schema", "data quality", "contract"),
        connectors=(
            inbound(("json", "dataframe", "any"), required=True),
            outbound(("dataframe", "json"), name="Valid"),
            outbound(("dataframe", "json"), connector_id="invalid_out", name="Invalid"),
        ),
        config_schema=(
            ConfigField("schema", "JSON Schema", "object", required=True),
            ConfigField(
                "on_invalid",
                "On invalid records",
                "enum",
                default="route",
                options=("route", "drop", "fail"),
                description="route: send them to Invalid; drop: discard them; fail: fail the node.",
            ),
        ),
    )


class DataNormalizerNode(NodeType):
    definition = NodeDefinition(
        node_type="data_normalizer",
        label="Data Normalizer",
        description="Rename fields, trim strings, normalise key case and dates, drop empty values.",
        category="transform",
        icon="Wand2",
        color="violet",
        tags=("clean", "normalize", "rename", "dates", "data quality"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("rename", "Rename fields", "object", description='{"old name": "new name"}'),
            ConfigField(
                "key_case", "Key case", "enum", default="unchanged", options=("unchanged", "snake", "lower")
            ),
            ConfigField("trim_strings", "Trim strings", "boolean", default=True),
            ConfigField("date_fields", "Date fields", "array", description="Rewritten as ISO 8601."),
            ConfigField("drop_nulls", "Drop null fields", "boolean", default=False),
        ),
    )


class DeduplicatorNode(NodeType):
    definition = NodeDefinition(
        node_type="deduplicator",
        label="Deduplicator",
        description="Keep one record per key: the first or the last seen.",
        category="transform",
        icon="CopyMinus",
        color="violet",
        tags=("dedupe", "duplicates", "unique", "data quality"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("key_fields", "Key fields", "array", required=True),
            ConfigField("keep", "Keep", "enum", default="first", options=("first", "last")),
            ConfigField("case_sensitive", "Case-sensitive keys", "boolean", default=True),
        ),
    )


class FilterRowsNode(NodeType):
    definition = NodeDefinition(
        node_type="filter_rows",
        label="Filter Rows",
        description="Keep (or drop) the records for which an expression is true, e.g. amount > 100.",
        category="transform",
        icon="Filter",
        color="violet",
        tags=("filter", "where", "select", "rows"),
        connectors=(_RECORDS_IN, _RECORDS_OUT),
        config_schema=(
            ConfigField("expression", "Expression", "string", required=True),
            ConfigField("mode", "Mode", "enum", default="keep", options=("keep", "drop")),
        ),
    )


class JsonTransformNode(NodeType):
    definition = NodeDefinition(
        node_type="json_transform",
        label="JSON Transform",
        description="Reshape JSON with a JMESPath expression: pick, flatten and rename in one step.",
        category="transform",
        icon="Braces",
        color="violet",
        tags=("json", "jmespath", "map", "reshape", "extract"),
        connectors=(inbound(("json", "dataframe"), required=True), outbound(("json", "dataframe"))),
        config_schema=(ConfigField("expression", "JMESPath expression", "code", required=True),),
    )


NODES: tuple[type[NodeType], ...] = (
    SchemaValidatorNode,
    DataNormalizerNode,
    DeduplicatorNode,
    FilterRowsNode,
    JsonTransformNode,
)

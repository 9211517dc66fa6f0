"""The built-in node types: the catalogue the builder shows, each definition well-formed, and the
rules node data and connections are checked by."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dagy.nodes import (
    CATEGORIES,
    NODE_TYPES,
    ConfigField,
    Connector,
    ExecutableNode,
    NodeDefinition,
    NodeType,
    PythonFunctionNode,
    builtin_definitions,
    config_problems,
    connection_problem,
    definition_problems,
    get_node_type,
)

EXPECTED_COUNTS = {
    "ingestion": 5,
    "transform": 5,
    "llm": 4,
    "vectordb": 3,
    "notification": 4,
    "custom": 3,
    "control_flow": 4,
}
REQUIRED_TYPES = (
    "s3_ingest",
    "s3_write",
    "http_fetch",
    "schema_validator",
    "data_normalizer",
    "deduplicator",
    "python_function",
    "webhook_post",
)


def test_the_catalogue_has_28_types_in_seven_categories() -> None:
    assert len(NODE_TYPES) == 28
    assert Counter(d.category for d in builtin_definitions()) == EXPECTED_COUNTS
    assert list(CATEGORIES) == list(EXPECTED_COUNTS)
    assert set(REQUIRED_TYPES) <= set(NODE_TYPES)


def test_each_category_lives_in_its_own_module() -> None:
    for definition in builtin_definitions():
        assert NODE_TYPES[definition.node_type].__module__ == f"dagy.nodes.{definition.category}"


@pytest.mark.parametrize("node_type", list(NODE_TYPES))
def test_every_builtin_definition_is_well_formed(node_type: str) -> None:
    cls = NODE_TYPES[node_type]
    definition = cls.definition
    assert definition.node_type == node_type and get_node_type(node_type) is cls
    assert definition_problems(definition) == {}
    assert definition.official and definition.label and definition.description
    assert definition.icon and definition.color and definition.tags
    assert definition.connectors, "a node nobody can connect is useless"
    assert definition.outbound, "every built-in produces something a successor can use"
    assert NodeDefinition.from_dict(definition.to_dict()) == definition
    for config_field in definition.config_schema:
        if config_field.type == "secret":
            assert config_field.to_dict()["secret"] is True


@pytest.mark.parametrize("node_type", list(NODE_TYPES))
def test_every_built_in_type_runs(node_type: str) -> None:
    cls = NODE_TYPES[node_type]
    assert cls.executable and issubclass(cls, ExecutableNode)


@pytest.mark.parametrize("node_type", list(NODE_TYPES))
def test_defaults_and_required_fields_decide_what_empty_data_lacks(node_type: str) -> None:
    definition = NODE_TYPES[node_type].definition
    required = {f.name for f in definition.config_schema if f.required and f.default is None}
    assert set(definition.config_problems({})) == required


def test_reference_shapes_of_s3_ingest_and_schema_validator() -> None:
    s3 = NODE_TYPES["s3_ingest"].definition.to_dict()
    assert (s3["label"], s3["category"], s3["icon"], s3["color"]) == (
        "S3 Ingest",
        "ingestion",
        "CloudDownload",
        "blue",
    )
    assert s3["connectors"][0] == {
        "id": "trigger_in",
        "name": "Trigger",
        "direction": "inbound",
        "data_types": ["trigger", "any"],
        "cardinality": "zero_or_one",
        "required": False,
    }
    assert s3["connectors"][1]["id"] == "data_out"
    assert s3["connectors"][1]["data_types"] == ["dataframe", "json", "string"]
    validator = NODE_TYPES["schema_validator"].definition
    assert validator.connector("data_in") is not None
    assert validator.connector("data_in").data_types == ("json", "dataframe", "any")  # type: ignore[union-attr]


FIELDS = (
    ConfigField("name", "Name", "string", required=True),
    ConfigField("count", "Count", "integer"),
    ConfigField("ratio", "Ratio", "number"),
    ConfigField("on", "On", "boolean"),
    ConfigField("extra", "Extra", "object"),
    ConfigField("items", "Items", "array"),
    ConfigField("mode", "Mode", "enum", options=("a", "b")),
    ConfigField("token", "Token", "secret"),
    ConfigField("dsn", "DSN", "string", secret=True),
    ConfigField("script", "Script", "code"),
)


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ({"name": "x"}, {}),
        ({}, {"name": "required"}),
        ({"name": "  "}, {"name": "required: must not be empty"}),
        ({"name": 3}, {"name": "must be a string"}),
        ({"name": "x", "count": True}, {"count": "must be an integer"}),
        ({"name": "x", "count": 1.5}, {"count": "must be an integer"}),
        ({"name": "x", "ratio": 2}, {}),
        ({"name": "x", "ratio": "2"}, {"ratio": "must be a number"}),
        ({"name": "x", "on": 1}, {"on": "must be true or false"}),
        ({"name": "x", "extra": []}, {"extra": "must be an object"}),
        ({"name": "x", "items": {}}, {"items": "must be an array"}),
        ({"name": "x", "mode": "c"}, {"mode": "must be one of: a, b"}),
        ({"name": "x", "token": "literal"}, {}),
        ({"name": "x", "token": {"secret": "api-key.prod"}, "dsn": {"secret": "db"}}, {}),
        (
            {"name": "x", "token": {"secret": ""}},
            {"token": 'must be a string or {"secret": "<secret name>"}'},
        ),
        (
            {"name": "x", "dsn": {"secret": "a", "more": 1}},
            {"dsn": 'must be a string or {"secret": "<secret name>"}'},
        ),
        ({"name": "x", "script": 1}, {"script": "must be a string of source code"}),
        ({"name": "x", "label": "builder keeps its own keys"}, {}),
    ],
)
def test_node_data_is_checked_against_the_config_schema(
    data: dict[str, Any], problems: dict[str, str]
) -> None:
    assert config_problems(FIELDS, data) == problems


def test_connections_need_a_shared_data_type_or_any() -> None:
    out = Connector("out", "Out", "outbound", ("json",))
    assert connection_problem(out, Connector("in", "In", "inbound", ("json", "string"))) is None
    assert connection_problem(out, Connector("in", "In", "inbound", ("any",))) is None
    assert (
        connection_problem(
            Connector("o", "O", "outbound", ("any",)), Connector("i", "I", "inbound", ("vector",))
        )
        is None
    )
    refused = connection_problem(out, Connector("in", "In", "inbound", ("vector",)))
    assert refused == "'out' produces json; 'in' accepts vector"
    assert "inbound connector" in str(connection_problem(Connector("in", "In", "inbound", ("json",)), out))


@pytest.mark.parametrize(
    ("change", "problem_key"),
    [
        ({"node_type": "Bad-Name"}, "node_type"),
        ({"category": "sorcery"}, "category"),
        (
            {
                "connectors": (
                    Connector("a", "A", "inbound", ("json",)),
                    Connector("a", "B", "outbound", ("json",)),
                )
            },
            "connectors[1].id",
        ),
        ({"connectors": (Connector("a", "A", "sideways", ("json",)),)}, "connectors[0].direction"),
        ({"connectors": (Connector("a", "A", "inbound", ()),)}, "connectors[0].data_types"),
        (
            {"connectors": (Connector("a", "A", "inbound", ("json",), "exactly_seven"),)},
            "connectors[0].cardinality",
        ),
        (
            {"connectors": (Connector("a", "A", "outbound", ("json",), required=True),)},
            "connectors[0].required",
        ),
        ({"config_schema": (ConfigField("x", "X", "colour"),)}, "config_schema[0].type"),
        ({"config_schema": (ConfigField("x", "X", "enum"),)}, "config_schema[0].options"),
        ({"config_schema": (ConfigField("x", "X", "string", options=("a",)),)}, "config_schema[0].options"),
        ({"config_schema": (ConfigField("x", "X", "integer", default="3"),)}, "config_schema[0].default"),
        ({"config_schema": (ConfigField("x", "X", "integer", secret=True),)}, "config_schema[0].secret"),
        (
            {"config_schema": (ConfigField("x", "X", "string"), ConfigField("x", "Y", "string"))},
            "config_schema[1].name",
        ),
        ({"config_schema": (ConfigField("1x", "X", "string"),)}, "config_schema[0].name"),
    ],
)
def test_malformed_definitions_are_named_by_field(change: dict[str, Any], problem_key: str) -> None:
    base = NodeDefinition(
        node_type="my_node", label="Mine", description="", category="transform", icon="", color=""
    )
    fields = {**base.__dict__, **change}
    assert problem_key in definition_problems(NodeDefinition(**fields))


def test_python_function_keeps_its_own_checks() -> None:
    assert PythonFunctionNode.validate({"code": "def main(inputs, params):\n    return 1\n"}) == {}
    assert PythonFunctionNode.validate({}) == {"code": "required: the function's Python source"}
    assert PythonFunctionNode.validate({"code": "def main(:"})["code"].startswith("syntax error on line 1")
    assert PythonFunctionNode.validate({"code": "x = 1", "entrypoint": 3}) == {
        "entrypoint": "must be a Python identifier"
    }


def test_a_type_without_run_is_not_executable() -> None:
    described = type("Described", (NodeType,), {"definition": NODE_TYPES["delay"].definition})
    assert not described.executable and not issubclass(described, ExecutableNode)

"""Bodies of `/nodes`: node definitions as the registry serves them, custom-node changes and the
connection check. Shapes follow the reference's examples; rules a field's type cannot say
(unique ids, enum options, defaults of the right type) are checked by `dagy.nodes`."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AliasChoices, BeforeValidator, Field, StringConstraints

from dagy.nodes import FIELD_TYPES, NODE_TYPE_PATTERN
from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel

IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]{0,254}:[A-Za-z_][A-Za-z0-9_]{0,127}$"
# Accepted spellings of the same ideas, stored in the reference's vocabulary.
_DIRECTION_ALIASES = {"input": "inbound", "output": "outbound"}
_CARDINALITY_ALIASES = {"one": "zero_or_one", "many": "zero_or_many"}


def _alias(table: dict[str, str]) -> BeforeValidator:
    return BeforeValidator(lambda value: table.get(value, value) if isinstance(value, str) else value)


NodeTypeName = Annotated[
    str, StringConstraints(pattern=NODE_TYPE_PATTERN), Field(description="2-64 of a-z 0-9 _, a letter first.")
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
DataType = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Direction = Annotated[Literal["inbound", "outbound"], _alias(_DIRECTION_ALIASES)]
Cardinality = Annotated[Literal["zero_or_one", "zero_or_many"], _alias(_CARDINALITY_ALIASES)]
FieldType = Literal["string", "integer", "number", "boolean", "object", "array", "secret", "code", "enum"]
assert set(get_args(FieldType)) == set(FIELD_TYPES)  # one list of field types, spelled twice for OpenAPI


class ConnectorIn(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Label
    direction: Direction = Field(description="inbound or outbound (input and output are accepted).")
    data_types: list[DataType] = Field(
        min_length=1, max_length=20, description='e.g. ["json"]; "any" fits all.'
    )
    cardinality: Cardinality = Field(
        "zero_or_many", description="How many edges it takes at most: zero_or_one or zero_or_many."
    )
    required: bool = Field(False, description="An inbound connector a flow must connect.")


class ConfigFieldIn(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    label: Label
    type: FieldType
    required: bool = False
    default: Any = None
    description: Description = ""
    secret: bool = Field(False, description='Takes a string or {"secret": "name"}; always true for secret.')
    options: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=200, description="The allowed values of an enum field."
    )


class _DefinitionBody(RequestModel):
    label: Label
    description: Description = ""
    category: str = Field(max_length=32, description="One of the registry's categories.")
    icon: Annotated[str, StringConstraints(max_length=64)] = "Puzzle"
    color: Annotated[str, StringConstraints(max_length=32)] = "gray"
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    connectors: list[ConnectorIn] = Field(default_factory=list, max_length=32)
    config_schema: list[ConfigFieldIn] = Field(default_factory=list, max_length=100)
    import_path: str | None = Field(
        None, pattern=IMPORT_PATH_PATTERN, description="Where a worker finds the class: module.path:ClassName"
    )
    official: bool | None = Field(None, description="Ignored: an org's own node type is never official.")


class CustomNodeCreate(_DefinitionBody):
    node_type: NodeTypeName


class CustomNodeUpdate(RequestModel):
    """Partial: the fields given replace the stored ones (lists as a whole)."""

    node_type: NodeTypeName | None = Field(None, description="If given, must be the path's node type.")
    label: Label | None = None
    description: Description | None = None
    category: str | None = Field(None, max_length=32)
    icon: Annotated[str, StringConstraints(max_length=64)] | None = None
    color: Annotated[str, StringConstraints(max_length=32)] | None = None
    tags: list[Tag] | None = Field(None, max_length=20)
    connectors: list[ConnectorIn] | None = Field(None, max_length=32)
    config_schema: list[ConfigFieldIn] | None = Field(None, max_length=100)
    import_path: str | None = Field(None, pattern=IMPORT_PATH_PATTERN)
    official: bool | None = Field(None, description="Ignored: an org's own node type is never official.")


class ConnectorRead(ResponseModel):
    id: str
    name: str
    direction: str
    data_types: list[str]
    cardinality: str
    required: bool


class ConfigFieldRead(ResponseModel):
    name: str
    label: str
    type: str
    required: bool
    default: Any
    description: str
    secret: bool
    options: list[str]


class NodeDefinitionRead(ResponseModel):
    node_type: str
    label: str
    description: str
    category: str
    icon: str
    color: str
    official: bool
    executable: bool = Field(description="Whether the runtime can run this type today.")
    tags: list[str]
    connectors: list[ConnectorRead]
    config_schema: list[ConfigFieldRead]
    import_path: str | None = None
    version: int | None = Field(None, description="A custom node's version; null for built-ins.")
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class NodeRegistryList(ResponseModel):
    items: list[NodeDefinitionRead]
    total: int
    builtin_count: int
    custom_count: int


class CategoryRead(ResponseModel):
    id: str
    label: str
    count: int


class CategoryList(ResponseModel):
    categories: list[CategoryRead]


class ConnectionCheck(RequestModel):
    source_node_type: str = Field(
        max_length=64, validation_alias=AliasChoices("source_node_type", "source_type")
    )
    source_connector_id: str | None = Field(
        None,
        max_length=64,
        validation_alias=AliasChoices("source_connector_id", "source_connector"),
        description="Defaults to the source's first outbound connector.",
    )
    target_node_type: str = Field(
        max_length=64, validation_alias=AliasChoices("target_node_type", "target_type")
    )
    target_connector_id: str | None = Field(
        None,
        max_length=64,
        validation_alias=AliasChoices("target_connector_id", "target_connector"),
        description="Defaults to the target's first inbound connector.",
    )
    existing_source_connections: int = Field(0, ge=0, le=100_000)
    existing_target_connections: int = Field(0, ge=0, le=100_000)


class ConnectionVerdict(ResponseModel):
    valid: bool
    reason: str | None = Field(description="The first error, or null when the connection is allowed.")
    errors: list[str]
    source_connector: ConnectorRead | None
    target_connector: ConnectorRead | None

"""A node type's definition: plain data, so the same shape describes a built-in class and an org's
custom node stored as JSON. `to_dict()` is what `/nodes/registry` serves; `from_dict()` reads a
stored one back; `definition_problems()` is what makes one well-formed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dagy.nodes.config import FIELD_TYPES, ConfigField, config_problems, value_problem
from dagy.nodes.connectors import CARDINALITIES, DIRECTIONS, INBOUND, OUTBOUND, Connector

T = TypeVar("T")

# The builder's panel groups nodes by category, in this order, under these labels.
CATEGORIES: dict[str, str] = {
    "ingestion": "Ingestion",
    "transform": "Transform",
    "llm": "LLM",
    "vectordb": "Vector DB",
    "notification": "Notifications",
    "custom": "Custom Code",
    "control_flow": "Control Flow",
}
NODE_TYPE_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
CONNECTOR_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
DATA_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_SECRET_CAPABLE = ("string", "secret")


@dataclass(frozen=True)
class NodeDefinition:
    """The public face of a node type: what the builder shows and what validation checks."""

    node_type: str
    label: str
    description: str
    category: str
    icon: str
    color: str
    connectors: tuple[Connector, ...] = ()
    config_schema: tuple[ConfigField, ...] = ()
    tags: tuple[str, ...] = ()
    official: bool = True
    import_path: str | None = None

    @property
    def inbound(self) -> tuple[Connector, ...]:
        return tuple(c for c in self.connectors if c.direction == INBOUND)

    @property
    def outbound(self) -> tuple[Connector, ...]:
        return tuple(c for c in self.connectors if c.direction == OUTBOUND)

    def connector(self, connector_id: str) -> Connector | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def config_problems(self, data: Mapping[str, Any]) -> dict[str, str]:
        return config_problems(self.config_schema, data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_type": self.node_type,
            "label": self.label,
            "description": self.description,
            "category": self.category,
            "icon": self.icon,
            "color": self.color,
            "official": self.official,
            "tags": list(self.tags),
            "connectors": [c.to_dict() for c in self.connectors],
            "config_schema": [f.to_dict() for f in self.config_schema],
            "import_path": self.import_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeDefinition:
        return cls(
            node_type=data["node_type"],
            label=data["label"],
            description=data.get("description") or "",
            category=data["category"],
            icon=data.get("icon") or "",
            color=data.get("color") or "",
            connectors=tuple(Connector.from_dict(c) for c in data.get("connectors") or ()),
            config_schema=tuple(ConfigField.from_dict(f) for f in data.get("config_schema") or ()),
            tags=tuple(data.get("tags") or ()),
            official=bool(data.get("official", False)),
            import_path=data.get("import_path"),
        )


def definition_problems(definition: NodeDefinition) -> dict[str, str]:
    """`{field: problem}` for everything that makes `definition` unusable; empty when well-formed."""
    problems: dict[str, str] = {}
    if not re.match(NODE_TYPE_PATTERN, definition.node_type):
        problems["node_type"] = "2-64 lowercase letters, digits or _, starting with a letter"
    if not definition.label.strip():
        problems["label"] = "required"
    if definition.category not in CATEGORIES:
        problems["category"] = f"must be one of: {', '.join(CATEGORIES)}"
    for i, tag in enumerate(definition.tags):
        if not tag.strip():
            problems[f"tags[{i}]"] = "must not be empty"
    _connector_problems(definition.connectors, problems)
    _field_problems(definition.config_schema, problems)
    return problems


def _connector_problems(connectors: tuple[Connector, ...], problems: dict[str, str]) -> None:
    _named_items_problems(
        connectors,
        "connectors",
        name_of=lambda c: c.id,
        pattern=CONNECTOR_ID_PATTERN,
        pattern_problem="1-64 lowercase letters, digits or _, starting with a letter",
        key_and_noun=("id", "connector id"),
        shape=_connector_shape,
        problems=problems,
    )


def _connector_shape(connector: Connector) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not connector.name.strip():
        problems["name"] = "required"
    if connector.direction not in DIRECTIONS:
        problems["direction"] = f"must be one of: {', '.join(DIRECTIONS)}"
    if connector.cardinality not in CARDINALITIES:
        problems["cardinality"] = f"must be one of: {', '.join(CARDINALITIES)}"
    if not connector.data_types:
        problems["data_types"] = "at least one data type"
    elif not all(re.match(DATA_TYPE_PATTERN, t) for t in connector.data_types):
        problems["data_types"] = "names of 1-32 lowercase letters, digits or _"
    elif len(set(connector.data_types)) != len(connector.data_types):
        problems["data_types"] = "each data type once"
    if connector.required and connector.direction == OUTBOUND:
        problems["required"] = "only inbound connectors can be required"
    return problems


def _field_problems(fields: tuple[ConfigField, ...], problems: dict[str, str]) -> None:
    _named_items_problems(
        fields,
        "config_schema",
        name_of=lambda f: f.name,
        pattern=FIELD_NAME_PATTERN,
        pattern_problem="a name of 1-64 letters, digits or _, not starting with a digit",
        key_and_noun=("name", "field name"),
        shape=_field_shape,
        problems=problems,
    )


def _named_items_problems(
    items: tuple[T, ...],
    prefix: str,
    *,
    name_of: Callable[[T], str],
    pattern: str,
    pattern_problem: str,
    key_and_noun: tuple[str, str],
    shape: Callable[[T], dict[str, str]],
    problems: dict[str, str],
) -> None:
    """Each item's name matches `pattern` and is unique; then its own shape is checked."""
    key, noun = key_and_noun
    seen: set[str] = set()
    for i, item in enumerate(items):
        where, name = f"{prefix}[{i}]", name_of(item)
        if not re.match(pattern, name):
            problems[f"{where}.{key}"] = pattern_problem
        elif name in seen:
            problems[f"{where}.{key}"] = f"duplicate {noun} {name!r}"
        seen.add(name)
        problems.update({f"{where}.{k}": v for k, v in shape(item).items()})


def _field_shape(config_field: ConfigField) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not config_field.label.strip():
        problems["label"] = "required"
    if config_field.type not in FIELD_TYPES:
        problems["type"] = f"must be one of: {', '.join(FIELD_TYPES)}"
        return problems
    if config_field.type == "enum" and not config_field.options:
        problems["options"] = "an enum field lists its options"
    elif config_field.type != "enum" and config_field.options:
        problems["options"] = "only enum fields have options"
    elif len(set(config_field.options)) != len(config_field.options):
        problems["options"] = "each option once"
    if config_field.secret and config_field.type not in _SECRET_CAPABLE:
        problems["secret"] = "only string and secret fields can hold secrets"  # noqa: S105 - a message
    elif config_field.default is not None and "options" not in problems:
        problem = value_problem(config_field, config_field.default)
        if problem is not None:
            problems["default"] = problem
    return problems

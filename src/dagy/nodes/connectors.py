"""Connectors: the ends of a node that edges attach to, and which pairs may be joined.

A connector names the data types it produces or accepts; two connectors join when they share a
type or either says `any`. Its cardinality bounds how many edges it takes (`zero_or_one`,
`zero_or_many`); `required` says whether a flow must connect it at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INBOUND = "inbound"
OUTBOUND = "outbound"
DIRECTIONS = (INBOUND, OUTBOUND)
AT_MOST_ONE = "zero_or_one"
ANY_NUMBER = "zero_or_many"
CARDINALITIES = (AT_MOST_ONE, ANY_NUMBER)
ANY = "any"
# The types built-in nodes speak; custom nodes may add their own names.
DATA_TYPES = {
    ANY: "anything; connects to every other type",
    "trigger": "a signal to start, carrying no data worth reading",
    "dataframe": "tabular records: a list of objects with the same fields",
    "json": "any JSON value",
    "string": "text",
    "file": "a reference to an object in the object store or S3",
    "vector": "embeddings: lists of numbers with their ids and metadata",
}


@dataclass(frozen=True)
class Connector:
    id: str
    name: str
    direction: str
    data_types: tuple[str, ...]
    cardinality: str = ANY_NUMBER
    required: bool = False

    @property
    def single(self) -> bool:
        return self.cardinality == AT_MOST_ONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "direction": self.direction,
            "data_types": list(self.data_types),
            "cardinality": self.cardinality,
            "required": self.required,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Connector:
        return cls(
            id=data["id"],
            name=data["name"],
            direction=data["direction"],
            data_types=tuple(data["data_types"]),
            cardinality=data.get("cardinality") or ANY_NUMBER,
            required=bool(data.get("required", False)),
        )


def inbound(
    data_types: tuple[str, ...] = (ANY,),
    *,
    connector_id: str = "data_in",
    name: str = "Data",
    cardinality: str = ANY_NUMBER,
    required: bool = False,
) -> Connector:
    return Connector(connector_id, name, INBOUND, data_types, cardinality, required)


def outbound(
    data_types: tuple[str, ...],
    *,
    connector_id: str = "data_out",
    name: str = "Data",
    cardinality: str = ANY_NUMBER,
) -> Connector:
    return Connector(connector_id, name, OUTBOUND, data_types, cardinality, False)


def trigger_in() -> Connector:
    """What source nodes accept: an optional edge that only orders them after another node."""
    return Connector("trigger_in", "Trigger", INBOUND, ("trigger", ANY), AT_MOST_ONE, False)


def connection_problem(source: Connector, target: Connector) -> str | None:
    """Why `source` may not feed `target`, or None when it may (direction and data types)."""
    if source.direction != OUTBOUND:
        return f"{source.id!r} is an inbound connector; an edge starts at an outbound one"
    if target.direction != INBOUND:
        return f"{target.id!r} is an outbound connector; an edge ends at an inbound one"
    if ANY in source.data_types or ANY in target.data_types:
        return None
    if set(source.data_types) & set(target.data_types):
        return None
    return (
        f"{source.id!r} produces {', '.join(source.data_types)}; "
        f"{target.id!r} accepts {', '.join(target.data_types)}"
    )

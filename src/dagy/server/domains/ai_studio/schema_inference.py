"""A JSON Schema inferred from sample records: the types each field takes, the fields every record
has, nested objects and arrays alike (to a few levels). What `schema_validator` nodes check data
against when a workflow is drafted from an attached data file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_DEPTH = 5
MAX_PROPERTIES = 200
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def infer_schema(records: list[Any]) -> dict[str, Any]:
    """The schema of `records` (objects): `{"$schema", "type": "object", "properties", "required"}`."""
    return {"$schema": DIALECT, **_schema_of(records, depth=0)}


def _schema_of(values: Iterable[Any], depth: int) -> dict[str, Any]:
    values = list(values)
    types = sorted({_type_of(value) for value in values})
    if "integer" in types and "number" in types:
        types.remove("integer")
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types} if types else {}
    present = [value for value in values if value is not None]
    if "object" in types and depth < MAX_DEPTH:
        schema |= _object_schema([v for v in present if isinstance(v, dict)], depth)
    if "array" in types and depth < MAX_DEPTH:
        items = [item for v in present if isinstance(v, list) for item in v]
        if items:
            schema["items"] = _schema_of(items, depth + 1)
    if types == ["string"]:
        found = _format_of(present)
        if found is not None:
            schema["format"] = found
    return schema


def _object_schema(objects: list[dict[str, Any]], depth: int) -> dict[str, Any]:
    keys = list(dict.fromkeys(key for obj in objects for key in obj))[:MAX_PROPERTIES]
    properties = {key: _schema_of((obj[key] for obj in objects if key in obj), depth + 1) for key in keys}
    required = [key for key in keys if all(key in obj and obj[key] is not None for obj in objects)]
    schema: dict[str, Any] = {"properties": properties}
    if required:
        schema["required"] = required
    return schema


_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int
    (int, "integer"),
    (float, "number"),
    (dict, "object"),
    (list, "array"),
)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _TYPES if isinstance(value, kind)), "string")


def _format_of(values: list[Any]) -> str | None:
    """A string format every value has (date-time, date, email), if any."""
    for name, pattern in (("date-time", _DATE_TIME), ("date", _DATE), ("email", _EMAIL)):
        if values and all(isinstance(v, str) and pattern.match(v) for v in values):
            return name
    return None

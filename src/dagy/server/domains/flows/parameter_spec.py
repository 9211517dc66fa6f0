"""A flow's parameters declared in its spec: `flow_spec.parameters`, a JSON Schema (draft 2020-12)
of type object. A DAG flow declares one to have its runs' parameters checked, its trigger form
drawn and its defaults filled in; a code flow may declare one instead of what its entry function's
type hints say (the declared one wins, docs/flows.md).

Checked when the version is registered, the first problem named under `flow_spec.parameters`: the
schema is valid under the draft's meta-schema, at most `MAX_SCHEMA_BYTES` of JSON, of type object;
its references stay inside it (nothing is ever fetched, so a run's check never waits on the
network nor fails on a place that does not exist); each top-level default fits its property (a
filled-in default must not make a run its own schema refuses).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from dagy.server.domains.flows.parameters import DIALECT, MAX_SCHEMA_BYTES, ParameterValidator, shortened

PARAMETERS = "parameters"
FIELD = f"flow_spec.{PARAMETERS}"
_REFERENCES = ("$ref", "$dynamicRef")
# Keywords whose values are instances (data), not schemas: a "$ref" key inside them is not a reference.
_DATA = frozenset({"enum", "const", "default", "examples"})


def declared_schema(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parameter schema `spec` declares (checked by `declared_schema_problems`), or None."""
    schema = (spec or {}).get(PARAMETERS)
    return schema if isinstance(schema, dict) else None


def declared_schema_problems(spec: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with `spec`'s `parameters`, by field; empty when it has none or it is fine."""
    if PARAMETERS not in spec:
        return {}
    schema = spec[PARAMETERS]
    if not isinstance(schema, dict):
        return {FIELD: 'a JSON Schema (draft 2020-12) of type object: {"type": "object", "properties": ...}'}
    return _schema_problems(schema) or _reference_problems(schema) or _default_problems(schema)


def _schema_problems(schema: dict[str, Any]) -> dict[str, str]:
    """Size, dialect, the meta-schema, and `type: object`."""
    if len(json.dumps(schema).encode()) > MAX_SCHEMA_BYTES:
        return {FIELD: f"at most {MAX_SCHEMA_BYTES} bytes of JSON"}
    if schema.get("$schema", DIALECT) != DIALECT:
        return {f"{FIELD}.$schema": f"{DIALECT}, or left out: draft 2020-12 is the dialect understood"}
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return {_field(exc.path): shortened(exc.message)}
    except RecursionError:
        return {FIELD: "nests too deep"}
    if schema.get("type") != "object":
        return {f"{FIELD}.type": 'must be "object": a run\'s parameters are an object of named values'}
    return {}


def _reference_problems(schema: dict[str, Any]) -> dict[str, str]:
    """Every `$ref`/`$dynamicRef` points inside the schema (`#...`) and to a place it has."""
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for path, reference in _references(schema, ()):
        where = _field(path)
        if not reference.startswith("#"):
            return {where: "only a reference inside this schema (#/$defs/...): nothing is fetched"}
        try:
            resolver.lookup(reference)
        except Unresolvable:
            return {where: f"{shortened(reference)} is no place in this schema"}
    return {}


def _references(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCES and isinstance(value, str):
                yield (*path, key), value
            elif key not in _DATA:
                yield from _references(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, (*path, index))


def _default_problems(schema: dict[str, Any]) -> dict[str, str]:
    """Each top-level property's default fits the property, as the schema as a whole sees it."""
    properties = schema.get("properties", {})
    defaults = {
        name: prop["default"]
        for name, prop in properties.items()
        if isinstance(prop, dict) and "default" in prop
    }
    problems: dict[str, str] = {}
    try:
        for error in ParameterValidator(schema).iter_errors(defaults):
            if error.path:
                where = f"{FIELD}.properties.{error.path[0]}.default"
                problems.setdefault(where, shortened(f"does not fit its property: {error.message}"))
    except (Unresolvable, RecursionError) as exc:
        return {FIELD: shortened(f"cannot be applied: {exc}")}
    return problems


def _field(path: Sequence[Any]) -> str:
    """`flow_spec.parameters.properties.limit.type`, `...allOf[1]`."""
    parts = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return FIELD + parts

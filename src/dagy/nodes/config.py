"""A node's settings: the fields its type declares (`config_schema`) and checking a node's `data`
against them, for built-in and custom types alike."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FIELD_TYPES = ("string", "integer", "number", "boolean", "object", "array", "secret", "code", "enum")
SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # the secrets API's names
SECRET_REFERENCE = 'a string or {"secret": "<secret name>"}'  # noqa: S105 - wording, not a password


@dataclass(frozen=True)
class ConfigField:
    """One setting of a node, kept in the node's `data` under `name`.

    A field marked `secret` (every `secret`-typed field is) takes a literal string or a reference
    `{"secret": "name"}` that the run resolves, so a flow spec need not hold the secret itself.
    """

    name: str
    label: str
    type: str
    required: bool = False
    default: Any = None
    description: str = ""
    secret: bool = False
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type == "secret":  # a secret-typed field always holds a secret
            object.__setattr__(self, "secret", True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "description": self.description,
            "secret": self.secret,
            "options": list(self.options),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfigField:
        return cls(
            name=data["name"],
            label=data["label"],
            type=data["type"],
            required=bool(data.get("required", False)),
            default=data.get("default"),
            description=data.get("description") or "",
            secret=bool(data.get("secret", False)),
            options=tuple(data.get("options") or ()),
        )


def config_problems(fields: Iterable[ConfigField], data: Mapping[str, Any]) -> dict[str, str]:
    """`{field name: problem}` for `data` against `fields`. Keys the schema does not name are left
    alone: the builder keeps its own things (a label, a colour) in a node's data."""
    problems: dict[str, str] = {}
    for config_field in fields:
        value = data.get(config_field.name)
        if value is None:
            if config_field.required and config_field.default is None:
                problems[config_field.name] = "required"
            continue
        problem = value_problem(config_field, value)
        if problem is not None:
            problems[config_field.name] = problem
    return problems


def value_problem(config_field: ConfigField, value: Any) -> str | None:
    """What is wrong with `value` for `config_field`, or None."""
    if config_field.secret:
        return None if _is_secret_value(value) else f"must be {SECRET_REFERENCE}"
    if config_field.type == "enum":
        if value not in config_field.options:
            return f"must be one of: {', '.join(config_field.options)}"
        return None
    if not _has_type(config_field.type, value):
        return f"must be {_ARTICLES[config_field.type]}"
    if config_field.required and isinstance(value, str) and not value.strip():
        return "required: must not be empty"
    return None


_ARTICLES = {
    "string": "a string",
    "code": "a string of source code",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
}


def _has_type(field_type: str, value: Any) -> bool:
    if field_type in ("string", "code"):
        return isinstance(value, str)
    if field_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if field_type == "number":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if field_type == "boolean":
        return isinstance(value, bool)
    if field_type == "object":
        return isinstance(value, dict)
    return field_type == "array" and isinstance(value, list)


def _is_secret_value(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict) and set(value) == {"secret"}:
        name = value["secret"]
        return isinstance(name, str) and bool(SECRET_NAME.match(name))
    return False

"""A code flow's parameter schema read from its `def` (flows/parameters.py): each annotation as
written, the function's parameters, and the words a refused run's parameters are explained in."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dagy.server.domains.flows.parameters import (
    annotation_schema,
    function_parameter_schema,
    parameter_problems,
)

STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}


def schema_of(annotation: str) -> dict[str, Any]:
    return annotation_schema(ast.parse(annotation, mode="eval").body)


def schema_of_function(source: str) -> dict[str, Any] | None:
    function = ast.parse(source).body[-1]
    assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
    return function_parameter_schema(function)


DAILY = """
@flow
def daily(day: str, limit: int = 10, dry_run: bool = False, tags: list[str] | None = None):
    return day
"""


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("str", STRING),
        ("int", INTEGER),
        ("float", NUMBER),
        ("bool", {"type": "boolean"}),
        ("None", {"type": "null"}),
        ("list", {"type": "array"}),
        ("List", {"type": "array"}),
        ("list[int]", {"type": "array", "items": INTEGER}),
        ("typing.List[str]", {"type": "array", "items": STRING}),
        ("Sequence[float]", {"type": "array", "items": NUMBER}),
        ("list[Any]", {"type": "array"}),
        ("dict", {"type": "object"}),
        ("Mapping", {"type": "object"}),
        ("Dict[str, int]", {"type": "object", "additionalProperties": INTEGER}),
        (
            "dict[str, list[str]]",
            {"type": "object", "additionalProperties": {"type": "array", "items": STRING}},
        ),
        ("tuple", {"type": "array"}),
        ("tuple[int, ...]", {"type": "array", "items": INTEGER}),
        (
            "tuple[int, str]",
            {"type": "array", "prefixItems": [INTEGER, STRING], "minItems": 2, "maxItems": 2},
        ),
        ("int | None", {"type": ["integer", "null"]}),
        ("Optional[str]", {"type": ["string", "null"]}),
        ("typing.Optional[str]", {"type": ["string", "null"]}),
        ("Union[int, str]", {"type": ["integer", "string"]}),
        ("int | str | None", {"type": ["integer", "string", "null"]}),
        ("list[str] | None", {"type": ["array", "null"], "items": STRING}),
        (
            "Union[int, list[str]]",
            {"anyOf": [INTEGER, {"type": "array", "items": STRING}]},
        ),
        ('Literal["a", "b", 1]', {"enum": ["a", "b", 1]}),
        ("Literal['a', -1] | None", {"enum": ["a", -1, None]}),
        ("datetime", {"type": "string", "format": "date-time"}),
        ("datetime.datetime", {"type": "string", "format": "date-time"}),
        ("date", {"type": "string", "format": "date"}),
        ("Annotated[int, 'a note']", INTEGER),
        ('"int"', INTEGER),
        ('"list[int] | None"', {"type": ["array", "null"], "items": INTEGER}),
        ('list["str"]', {"type": "array", "items": STRING}),
        # What JSON cannot say, or this module cannot read, constrains nothing.
        ("Any", {}),
        ("object", {}),
        ("MyModel", {}),
        ("pd.DataFrame", {}),
        ("list[MyModel]", {"type": "array"}),
        ("int | MyModel", {}),
        ("Optional[MyModel]", {}),
        ("Callable[[int], str]", {}),
        ("Literal[Color.RED]", {}),
        ('"not valid python ("', {}),
        ("list[list[list[list[list[list[list[list[list[list[int]]]]]]]]]]", {"type": "array"}),
    ],
)
def test_annotations_map_to_schemas(annotation: str, expected: dict[str, Any]) -> None:
    found = schema_of(annotation)
    deepest = found
    while deepest.get("items"):
        deepest = deepest["items"]
    if annotation.startswith("list[list[list"):
        assert deepest == {"type": "array"}  # past the depth limit: no constraint
    else:
        assert found == expected
    Draft202012Validator.check_schema(found)


def test_the_schema_of_a_flow_function() -> None:
    schema = schema_of_function(DAILY)
    assert schema == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "day": {"type": "string", "x-python-type": "str"},
            "limit": {"type": "integer", "default": 10, "x-python-type": "int"},
            "dry_run": {"type": "boolean", "default": False, "x-python-type": "bool"},
            "tags": {
                "type": ["array", "null"],
                "items": STRING,
                "default": None,
                "x-python-type": "list[str] | None",
            },
        },
        "required": ["day"],
        "additionalProperties": False,
    }
    Draft202012Validator.check_schema(schema)


def test_only_keyword_callable_parameters_count() -> None:
    schema = schema_of_function("async def f(a, /, b: int, *args: str, c: 'float', d=(1, 2), **kw): pass")
    assert schema is not None
    assert schema["properties"] == {
        "b": {"type": "integer", "x-python-type": "int"},
        "c": {"type": "number", "x-python-type": "float"},
        "d": {},  # a tuple is no JSON value: Python applies it
    }
    assert schema["required"] == ["b", "c"] and schema["additionalProperties"] is True


def test_defaults_that_are_not_literals_make_a_parameter_optional_without_a_default() -> None:
    schema = schema_of_function(
        "def f(when: datetime = datetime.now(), n: int = None, b: bytes = b'x'): pass"
    )
    assert schema is not None
    assert schema["required"] == []
    assert schema["properties"]["when"] == {
        "type": "string",
        "format": "date-time",
        "x-python-type": "datetime",
    }
    # None as a default admits null whatever the hint says: passing the default is never refused.
    assert schema["properties"]["n"] == {"type": ["integer", "null"], "default": None, "x-python-type": "int"}
    assert schema["properties"]["b"] == {"x-python-type": "bytes"}


def test_typed_kwargs_constrain_the_extra_parameters() -> None:
    schema = schema_of_function("def f(**options: int): pass")
    assert schema is not None
    assert schema["additionalProperties"] == {"type": "integer", "x-python-type": "int"}
    assert parameter_problems(schema, {"a": 1, "b": "x"}) == {
        "parameters.b": "must be an integer (the flow function's type hint is int)"
    }


@pytest.mark.parametrize(
    ("decorators", "read"),
    [("", True), ("@flow", True), ("@flow(name='x')", True), ("@dagy.flow", True), ("@other", False)],
)
def test_a_function_wrapped_by_anything_but_flow_is_not_read(decorators: str, read: bool) -> None:
    schema = schema_of_function(f"{decorators}\ndef f(a: int): pass")
    assert (schema is not None) is read


def test_problems_name_each_parameter_in_words() -> None:
    schema = schema_of_function(DAILY)
    assert schema is not None
    assert parameter_problems(schema, {"day": "2026-12-07"}) == {}
    assert parameter_problems(schema, {"day": "d", "limit": 3, "dry_run": True, "tags": None}) == {}
    assert parameter_problems(schema, {"limit": "ten"}) == {
        "parameters.limit": "must be an integer (the flow function's type hint is int)",
        "parameters.day": "required by the flow",
    }
    assert parameter_problems(schema, {"day": "d", "extra": 1, "limit": True, "tags": ["a", 2]}) == {
        "parameters.extra": "the flow takes no parameter extra",
        "parameters.limit": "must be an integer (the flow function's type hint is int)",
        "parameters.tags": "must be a list of strings or null (the flow function's type hint is "
        "list[str] | None)",
    }


@pytest.mark.parametrize(
    ("annotation", "value", "words"),
    [
        ("Literal['a', 'b', 1]", "c", 'must be one of "a", "b", 1'),
        ("dict[str, float]", {"x": "y"}, "must be an object whose values are numbers"),
        ("tuple[int, str]", [1], "must be a list of 2 items (an integer, a string)"),
        ("list[list[int]]", [[1], ["x"]], "must be a list whose items are each a list of integers"),
        ("datetime | None", 3, "must be a date and time as a string (ISO 8601) or null"),
        ("Union[int, list[str]]", "x", "must be an integer or a list of strings"),
    ],
)
def test_the_words_of_each_kind(annotation: str, value: Any, words: str) -> None:
    schema = schema_of_function(f"def f(x: {annotation}): pass")
    assert schema is not None
    assert parameter_problems(schema, {"x": value}) == {
        "parameters.x": f"{words} (the flow function's type hint is {annotation})"
    }

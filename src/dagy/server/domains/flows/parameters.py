"""A code flow's parameters as JSON Schema (draft 2020-12), read from the `def` of its entry function
(parsed, never imported), and a run's parameters checked against it.

The runtime calls the function with the run's parameters as keyword arguments, so the schema is an
object of its keyword-callable parameters: positional-only ones and `*args` are left out, `**kwargs`
admits any other name. Each type hint, read as written, becomes a schema where it names something a
JSON value can be (`str`, `int`, `float`, `bool`, lists, dicts, tuples, unions, `Literal`,
`datetime`/`date` as strings); anything else (a class of the author's, a pydantic model, `Any`)
constrains nothing, so a hint this module cannot read never refuses a run Python would accept.

A DAG flow (or a code flow) may instead declare its schema in its spec (`flow_spec.parameters`,
`parameter_spec.py`). Either way `ParameterCheck` checks a run's parameters against it and fills in
the `default` of each top-level property a run leaves out.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import regex
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A parameter's type hint as written, kept beside its schema for the words of a refusal.
HINT = "x-python-type"
MAX_SCHEMA_BYTES = 64 * 1024
_MAX_DEPTH = 8
_MAX_HINT_CHARS = 200
_MAX_STRING_ANNOTATION_CHARS = 1000
_MAX_PROBLEM_CHARS = 200
# The keywords whose refusal is said as what the parameter must be ("must be an integer"); any
# other (a declared schema's minimum, pattern, a nested property) in the validator's own words.
_SHAPE_KEYWORDS = frozenset({"type", "enum", "const", "anyOf", "oneOf"})
_NULL: dict[str, Any] = {"type": "null"}
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)

_ARRAYS: tuple[str, ...] = ("list", "List", "Sequence", "MutableSequence", "Iterable", "Collection")
_ARRAYS += ("set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet")
_OBJECTS = ("dict", "Dict", "Mapping", "MutableMapping")
# Names a hint may end with (`int`, `typing.List`, `datetime.datetime`) and their schemas.
_PLAIN: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "NoneType": _NULL,
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "time": {"type": "string", "format": "time"},
    "tuple": {"type": "array"},
    "Tuple": {"type": "array"},
    **{name: {"type": "array"} for name in _ARRAYS},
    **{name: {"type": "object"} for name in _OBJECTS},
}

FunctionDef = ast.FunctionDef | ast.AsyncFunctionDef


def function_parameter_schema(function: FunctionDef) -> dict[str, Any] | None:
    """The schema of the keyword arguments `function` takes; None when something other than `@flow`
    wraps it (the wrapper may take other arguments), or when it would be larger than
    `MAX_SCHEMA_BYTES` or its hints nest too deep to read."""
    if not all(_is_flow(decorator) for decorator in function.decorator_list):
        return None
    try:
        schema = _function_schema(function.args)
    except RecursionError:
        return None
    return schema if len(json.dumps(schema)) <= MAX_SCHEMA_BYTES else None


def _function_schema(args: ast.arguments) -> dict[str, Any]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    pairs = list(zip(positional, [*defaults, *args.defaults], strict=True))[len(args.posonlyargs) :]
    pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
    return {
        "$schema": DIALECT,
        "type": "object",
        "properties": {arg.arg: _parameter(arg, default) for arg, default in pairs},
        "required": [arg.arg for arg, default in pairs if default is None],
        "additionalProperties": _extra(args.kwarg),
    }


def annotation_schema(annotation: ast.expr | None, depth: int = 0) -> dict[str, Any]:
    """The schema of the values a type hint admits; `{}` (anything) for what it cannot read."""
    if annotation is None or depth > _MAX_DEPTH:
        return {}
    if isinstance(annotation, ast.Constant):
        return _constant(annotation.value, depth)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _union([annotation_schema(side, depth + 1) for side in (annotation.left, annotation.right)])
    if isinstance(annotation, ast.Subscript):
        args = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        generic = _GENERICS.get(_name(annotation.value))
        return generic(list(args), depth + 1) if generic and args else {}
    return dict(_PLAIN.get(_name(annotation), {}))


# A declared schema's `pattern` is a member's regular expression run against a caller's string: on
# an API thread, without a time limit, one pattern that backtracks catastrophically would hold the
# thread for minutes. It runs on `regex` with this limit instead; a string that takes longer is
# refused (Python's `re`, which jsonschema uses, has no limit).
PATTERN_SECONDS = 0.05


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = regex.search(pattern, instance, timeout=PATTERN_SECONDS)
    except TimeoutError:
        yield ValidationError(f"took too long to match the pattern {pattern!r}")
        return
    except regex.error:
        yield ValidationError(f"the pattern {pattern!r} cannot be used")
        return
    if found is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with the time-limited `pattern`.
ParameterValidator = validators.extend(  # type: ignore[no-untyped-call] # jsonschema's stubs leave it untyped
    Draft202012Validator, {"pattern": _pattern}
)


class ParameterCheck:
    """The check of a run's parameters against a version's schema, compiled once: a version's
    schema never changes, so its check serves every run of it."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator = ParameterValidator(schema)
        properties = schema.get("properties")
        self._properties: Mapping[str, Any] = properties if isinstance(properties, dict) else {}
        self._defaults = {
            name: prop["default"]
            for name, prop in self._properties.items()
            if isinstance(prop, dict) and "default" in prop
        }

    def fits(self, parameters: Mapping[str, Any]) -> bool:
        try:
            return bool(self._validator.is_valid(parameters))
        except (Unresolvable, RecursionError):
            return False

    def problems(self, parameters: Mapping[str, Any], *, later: Collection[str] = ()) -> dict[str, str]:
        """What is wrong with `parameters`, by `parameters.<name>`: all at once, in words. `later`:
        names whose values come when the run is made (a sensor's `event`): only whether the schema
        takes such a name at all is checked."""
        given = {name: value for name, value in parameters.items() if name not in later}
        problems: dict[str, str] = {}
        if not self.fits(given):
            try:
                for error in self._validator.iter_errors(given):
                    for key, problem in self._problem(error, given).items():
                        problems.setdefault(key, problem)
            except (Unresolvable, RecursionError) as exc:
                problems["parameters"] = shortened(f"the flow's parameter schema cannot be applied: {exc}")
        for name in later:
            problems.pop(f"parameters.{name}", None)
            if not self.takes(name):
                problems[f"parameters.{name}"] = f"the flow takes no parameter {name}"
        return problems

    def takes(self, name: str) -> bool:
        """Whether the schema admits a parameter called `name` (whatever its value): a property, or
        any name when `additionalProperties` is not false."""
        return name in self._properties or self.schema.get("additionalProperties", True) is not False

    def with_defaults(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """`parameters` and, for each top-level property with a `default` they leave out, its
        default: the parameters a run really gets."""
        missing = {name: value for name, value in self._defaults.items() if name not in parameters}
        return {**parameters, **copy.deepcopy(missing)}

    def lacks_defaults(self, parameters: Mapping[str, Any]) -> bool:
        """Whether `with_defaults` would add anything to `parameters`."""
        return any(name not in parameters for name in self._defaults)

    def _problem(self, error: ValidationError, parameters: Mapping[str, Any]) -> dict[str, str]:
        path = list(error.path)
        if path:
            name = str(path[0])  # the top of a parameters object: a name
            expected = self._properties.get(name, self.schema.get("additionalProperties"))
            expected = expected if isinstance(expected, dict) else {}
            # A type hint's schema is said whole; a declared one's shape at its top only.
            if HINT in expected or (
                len(path) == 1 and error.validator in _SHAPE_KEYWORDS and _phrase(expected) != "anything"
            ):
                return {f"parameters.{name}": _expected(expected)}
            return {f"parameters.{name}": shortened(_location(path[1:]) + error.message)}
        if error.validator == "required":
            missing = [name for name in self.schema.get("required", []) if name not in parameters]
            return {f"parameters.{name}": "required by the flow" for name in missing}
        if error.validator in ("additionalProperties", "unevaluatedProperties"):
            extra = [name for name in parameters if name not in self._properties]
            return {f"parameters.{name}": f"the flow takes no parameter {name}" for name in extra}
        return {"parameters": shortened(error.message)}


def parameter_problems(schema: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, str]:
    """`ParameterCheck(schema).problems(parameters)`."""
    return ParameterCheck(schema).problems(parameters)


def _location(path: list[Any]) -> str:
    """Where inside a parameter a problem is, before its words: `[2].name: `."""
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return f"{where.removeprefix('.')}: " if where else ""


def shortened(text: str) -> str:
    """A problem in a few words: the validator's echo of a large value is cut short."""
    return text if len(text) <= _MAX_PROBLEM_CHARS else text[: _MAX_PROBLEM_CHARS - 1] + "…"


# --- reading a def ----------------------------------------------------------------------------


def _is_flow(decorator: ast.expr) -> bool:
    """`@flow`, `@flow(...)`, `@dagy.flow`, `@dagy.flow(...)`."""
    return _name(decorator.func if isinstance(decorator, ast.Call) else decorator) == "flow"


def _parameter(arg: ast.arg, default: ast.expr | None) -> dict[str, Any]:
    """A parameter's schema, with its default when it is a JSON value (a default of None also
    admits null, whatever the hint says) and its hint as written. A run that leaves the parameter
    out gets the default filled in, so only a default JSON gives back unchanged is kept: a tuple
    would come back a list, a set or `b"x"` not at all; Python applies those itself."""
    schema = annotation_schema(arg.annotation)
    if default is not None:
        try:
            literal = ast.literal_eval(default)
            value = json.loads(json.dumps(literal, allow_nan=False))
        except _LITERAL_ERRORS:
            pass
        else:
            if _same_json(value, literal):
                schema = (_nullable(schema) if value is None else schema) | {"default": value}
    if arg.annotation is not None:
        schema[HINT] = _hint(arg.annotation)
    return schema


def _same_json(value: Any, literal: Any) -> bool:
    """Whether `literal` is the JSON `value`, type for type: `(1, 2)` is not `[1, 2]`, `1` not `1.0`."""
    if type(value) is not type(literal):
        return False
    if isinstance(value, list):
        return len(value) == len(literal) and all(map(_same_json, value, literal))
    if isinstance(value, dict):
        return value.keys() == literal.keys() and all(_same_json(value[k], literal[k]) for k in value)
    return bool(value == literal)


def _extra(kwarg: ast.arg | None) -> bool | dict[str, Any]:
    """`additionalProperties`: none without `**kwargs`, any with it, or what its hint admits."""
    if kwarg is None:
        return False
    schema = annotation_schema(kwarg.annotation)
    return schema | {HINT: _hint(kwarg.annotation)} if schema and kwarg.annotation else True


def _hint(annotation: ast.expr) -> str:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        text = annotation.value
    else:
        text = ast.unparse(annotation)
    return text if len(text) <= _MAX_HINT_CHARS else text[: _MAX_HINT_CHARS - 1] + "…"


def _name(node: ast.expr) -> str:
    """The name a hint ends with: `List` of `typing.List`; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _constant(value: Any, depth: int) -> dict[str, Any]:
    """`None`, or a hint written as a string (`"int"`, a forward reference), parsed in turn."""
    if value is None:
        return dict(_NULL)
    if not isinstance(value, str) or len(value) > _MAX_STRING_ANNOTATION_CHARS:
        return {}
    try:
        parsed = ast.parse(value.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return {}
    return annotation_schema(parsed, depth + 1)


def _array(args: list[ast.expr], depth: int) -> dict[str, Any]:
    items = annotation_schema(args[0], depth)
    return {"type": "array", "items": items} if items else {"type": "array"}


def _object(args: list[ast.expr], depth: int) -> dict[str, Any]:
    values = annotation_schema(args[1], depth) if len(args) == 2 else {}
    return {"type": "object", "additionalProperties": values} if values else {"type": "object"}


def _tuple(args: list[ast.expr], depth: int) -> dict[str, Any]:
    """`tuple[int, ...]` is a list of integers, `tuple[int, str]` a list of exactly those two."""
    if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
        return _array(args, depth)
    items = [annotation_schema(arg, depth) for arg in args]
    return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}


def _literal(args: list[ast.expr], _depth: int) -> dict[str, Any]:
    values = []
    for arg in args:
        try:
            value = ast.literal_eval(arg)
        except _LITERAL_ERRORS:
            return {}
        if value is not None and not isinstance(value, str | int | float):
            return {}
        values.append(value)
    return {"enum": values}


_GENERICS: dict[str, Callable[[list[ast.expr], int], dict[str, Any]]] = {
    **dict.fromkeys(_ARRAYS, _array),
    **dict.fromkeys(_OBJECTS, _object),
    "tuple": _tuple,
    "Tuple": _tuple,
    "Optional": lambda args, depth: _nullable(annotation_schema(args[0], depth)),
    "Union": lambda args, depth: _union([annotation_schema(arg, depth) for arg in args]),
    "Literal": _literal,
    "Annotated": lambda args, depth: annotation_schema(args[0], depth),
}


def _union(members: list[dict[str, Any]]) -> dict[str, Any]:
    """Any of `members`: a list of types when they are plain types, else `anyOf`; anything when one
    of them is."""
    if any(not member for member in members):
        return {}
    flat = [m for member in members for m in (member["anyOf"] if set(member) == {"anyOf"} else [member])]
    if all(set(member) == {"type"} for member in flat):
        kinds = [k for member in flat for k in _kinds(member)]
        unique = list(dict.fromkeys(kinds))
        return {"type": unique[0] if len(unique) == 1 else unique}
    nullable = _NULL in flat
    rest = [member for i, member in enumerate(flat) if member != _NULL and member not in flat[:i]]
    if len(rest) == 1:
        return _nullable(rest[0]) if nullable else rest[0]
    return {"anyOf": rest + ([dict(_NULL)] if nullable else [])}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null."""
    kinds = _kinds(schema)
    if not schema or "null" in kinds or None in schema.get("enum", ()):
        return schema
    if "enum" in schema:
        return schema | {"enum": [*schema["enum"], None]}
    if kinds:
        return schema | {"type": [*kinds, "null"]}
    if set(schema) == {"anyOf"}:
        return {"anyOf": [*schema["anyOf"], dict(_NULL)]}
    return {"anyOf": [schema, dict(_NULL)]}


def _kinds(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


# --- words --------------------------------------------------------------------------------------

_ARTICLES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false"}
_ARTICLES |= {"null": "null"}
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}
_PLURALS |= {"null": "nulls", "array": "lists", "object": "objects"}
_FORMATS = {
    "date-time": "a date and time as a string (ISO 8601)",
    "date": "a date as a string (YYYY-MM-DD)",
    "time": "a time as a string (HH:MM:SS)",
}


def _expected(schema: Mapping[str, Any]) -> str:
    hint = schema.get(HINT)
    return f"must be {_phrase(schema)}" + (f" (the flow function's type hint is {hint})" if hint else "")


def _phrase(schema: Mapping[str, Any]) -> str:
    """What `schema` admits, in words: "an integer", "a list of strings or null"."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for union in ("anyOf", "oneOf"):
        if isinstance(schema.get(union), list):
            return " or ".join(_phrase(m) if isinstance(m, dict) else "anything" for m in schema[union])
    kinds = _kinds(schema)
    if len(kinds) > 1:
        return " or ".join(_phrase({**schema, "type": kind}) for kind in kinds)
    kind = kinds[0] if kinds else ""
    if kind == "string" and schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    phrase = _KIND_PHRASES.get(kind)
    return phrase(schema) if phrase else _ARTICLES.get(kind, kind or "anything")


def _list_phrase(schema: Mapping[str, Any]) -> str:
    if "prefixItems" in schema:
        each = ", ".join(_phrase(item) for item in schema["prefixItems"])
        return f"a list of {len(schema['prefixItems'])} items ({each})"
    items = schema.get("items")
    if not isinstance(items, dict) or not items:
        return "a list"
    plural = _plural(items)
    return f"a list of {plural}" if plural else f"a list whose items are each {_phrase(items)}"


def _object_phrase(schema: Mapping[str, Any]) -> str:
    values = schema.get("additionalProperties")
    if not isinstance(values, dict) or not values:
        return "an object"
    plural = _plural(values)
    return (
        f"an object whose values are {plural}"
        if plural
        else f"an object whose values are each {_phrase(values)}"
    )


_KIND_PHRASES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "array": _list_phrase,
    "object": _object_phrase,
}


def _plural(schema: Mapping[str, Any]) -> str | None:
    """ "integers", "strings or nulls" for a schema of plain types; None for any other."""
    kinds = _kinds(schema)
    if not kinds or set(schema) != {"type"}:
        return None
    return " or ".join(_PLURALS[kind] for kind in kinds)

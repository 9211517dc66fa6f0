"""Write `src/dagy/client/operations.py`, the typed methods of `dagy.client.Client` and `AsyncClient`,
from the API's OpenAPI schema: `python scripts/generate_client.py` (`--check`: exit 1 when the
file is not current). tests/test_client_generated.py runs the same generation and compares.

The schema comes from the app itself (`create_app`, no database, no server running). What is
generated:

- a `TypedDict` per component schema (`total=False` with `Required[...]` when some fields are
  optional; references by name; enums as `Literal`; what does not map simply is `Any`);
- `Operations`, one method per operation: named after the route's handler (the operation id
  without FastAPI's path-and-method suffix), path parameters positional, the JSON body as `body`,
  query and header parameters keyword-only; each calls `self.request(...)` and answers the
  response's `TypedDict` (None for a 204);
- `AsyncOperations`, the same methods, `async`.

Left out: the worker protocol (`/v1/workers/...`, `dagy.client.WorkerApi`'s) and the routes whose
bodies are not JSON (`NON_JSON` below, and any whose request or answer has no JSON content type);
the module's docstring lists them.
"""

from __future__ import annotations

import argparse
import keyword
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "dagy" / "client" / "operations.py"
API_PREFIX = "/v1"
SKIPPED_PREFIXES = {"/v1/workers/": "the worker protocol: `dagy.client.WorkerApi`"}
# Routes whose bodies the schema cannot show as non-JSON (the handler reads the raw request).
NON_JSON = {
    ("POST", "/v1/webhooks/{token}"): "a sensor's webhook: the sender's raw body, authorized by the path",
    ("PUT", "/v1/artifacts/uploads/{upload_id}/parts/{part_number}"): "a part's raw bytes, to a signed URL",
}
JSON = "application/json"
LINE_LENGTH = 110
METHODS = ("get", "put", "post", "delete", "patch")

Schema = dict[str, Any]


def openapi_schema() -> Schema:
    """The app's OpenAPI document, as `GET /v1/openapi.json` serves it."""
    from dagy.server.app import create_app  # noqa: PLC0415 - the server only when generating
    from dagy.server.settings import Settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="dagy-openapi-") as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{home}/dagy.db")
        app = create_app(settings, migrate=False)
        schema: Schema = app.openapi()
        app.state.db.dispose()
    return schema


# --- types ---------------------------------------------------------------------------------------


def class_name(component: str) -> str:
    """`Page_FlowRead_` -> `PageFlowRead`, `Body-Input` -> `BodyInput`."""
    parts = re.split(r"[^0-9A-Za-z]+", component)
    name = "".join(part[:1].upper() + part[1:] for part in parts if part)
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"Schema{name}"


def members(type_: str) -> list[str]:
    """`A | dict[str, B | None] | None` -> its top-level members."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(type_):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0 and type_.startswith(" | ", index):
            parts.append(type_[start:index])
            start = index + 3
    return [*parts, type_[start:]]


def union(types: list[str]) -> str:
    unique = list(dict.fromkeys(member for type_ in types for member in members(type_)))
    if "Any" in unique:
        return "Any"
    ordered = [t for t in unique if t != "None"] + (["None"] if "None" in unique else [])
    return " | ".join(ordered) if ordered else "Any"


def literal(values: list[Any]) -> str:
    if not all(isinstance(v, str | int | bool) or v is None for v in values):
        return "Any"
    shown = [repr(v) for v in values if v is not None]
    text = f"Literal[{', '.join(shown)}]" if shown else "None"
    return f"{text} | None" if shown and None in values else text


def py_type(schema: Schema, names: dict[str, str]) -> str:  # noqa: PLR0911, C901 - one case per JSON Schema form
    """The Python type of a JSON schema, as it appears in JSON (dates are strings)."""
    if not schema:
        return "Any"
    if "$ref" in schema:
        return names.get(schema["$ref"].rsplit("/", 1)[-1], "Any")
    if "const" in schema:
        return literal([schema["const"]])
    if "enum" in schema:
        return literal(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return union([py_type(option, names) for option in schema[key]])
    if "allOf" in schema:
        return py_type(schema["allOf"][0], names) if len(schema["allOf"]) == 1 else "Any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return union([py_type({**schema, "type": k}, names) for k in kind])
    simple = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
    if kind in simple:
        return simple[kind]
    if kind == "array":
        items = schema.get("items")
        return f"list[{py_type(items, names)}]" if isinstance(items, dict) else "list[Any]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        values = py_type(extra, names) if isinstance(extra, dict) and extra else "Any"
        return f"dict[str, {values}]"
    return "Any"


def first_line(text: str | None) -> str:
    line = (text or "").strip().split("\n\n")[0]
    line = " ".join(line.split())
    return line.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def docstring(text: str, indent: str) -> list[str]:
    if not text:
        return []
    if len(indent) + len(text) + 6 <= LINE_LENGTH:
        return [f'{indent}"""{text}"""']
    wrapped = textwrap.wrap(
        text,
        LINE_LENGTH,
        initial_indent=f'{indent}"""',
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [*wrapped, f'{indent}"""']


def typed_dict(name: str, schema: Schema, names: dict[str, str]) -> list[str]:
    """A component as a `TypedDict` (an object), or a type alias (anything else)."""
    properties: dict[str, Schema] = schema.get("properties", {})
    if schema.get("type") != "object" or not properties:
        return [f"{name}: TypeAlias = {py_type(schema, names)}"]
    required = set(schema.get("required", []))
    total = required >= set(properties)
    fields = {
        key: py_type(value, names) if total or key not in required else f"Required[{py_type(value, names)}]"
        for key, value in properties.items()
    }
    if not all(key.isidentifier() and not keyword.iskeyword(key) for key in fields):
        entries = ", ".join(f"{key!r}: {value!r}" for key, value in fields.items())
        return [f"{name} = TypedDict({name!r}, {{{entries}}}{'' if total else ', total=False'})"]
    lines = [f"class {name}(TypedDict{'' if total else ', total=False'}):"]
    lines += docstring(first_line(schema.get("description")), "    ")
    lines += [f"    {key}: {value}" for key, value in fields.items()]
    return lines


# --- operations ----------------------------------------------------------------------------------


@dataclass
class Parameter:
    name: str  # the argument's
    wire: str  # the query parameter's or header's
    type: str
    required: bool


@dataclass
class Operation:
    name: str
    method: str
    path: str  # under /v1, as an f-string of the arguments
    doc: str
    path_params: list[Parameter] = field(default_factory=list)
    query: list[Parameter] = field(default_factory=list)
    headers: list[Parameter] = field(default_factory=list)
    body: str | None = None
    body_required: bool = False
    answer: str = "None"


def snake(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"\W+", "_", text).strip("_").lower()
    return text if text.isidentifier() and not keyword.iskeyword(text) else f"{text}_"


def operation_name(method: str, path: str, operation: Schema) -> str:
    """The handler's name: FastAPI's default operation id is `<name>` + the path's characters as
    underscores + `_<method>`; another id is used as given, else the method and path."""
    operation_id = operation.get("operationId", "")
    suffix = re.sub(r"\W", "_", path) + f"_{method}"
    if operation_id.endswith(suffix) and len(operation_id) > len(suffix):
        return snake(operation_id[: -len(suffix)])
    return snake(operation_id or f"{method}_{path}")


def skip_reason(method: str, path: str, operation: Schema) -> str | None:
    for prefix, reason in SKIPPED_PREFIXES.items():
        if path.startswith(prefix):
            return reason
    if (method.upper(), path) in NON_JSON:
        return NON_JSON[(method.upper(), path)]
    body = operation.get("requestBody", {}).get("content", {})
    if body and JSON not in body:
        return f"its request body is {', '.join(body)}"
    for status, response in success_responses(operation):
        content = response.get("content", {})
        if content and JSON not in content:
            return f"it answers {', '.join(content)} ({status})"
    return None


def success_responses(operation: Schema) -> Iterator[tuple[str, Schema]]:
    for status, response in sorted(operation.get("responses", {}).items()):
        if status.startswith("2"):
            yield status, response


def answer_type(operation: Schema, names: dict[str, str]) -> str:
    types = []
    for status, response in success_responses(operation):
        content = response.get("content", {})
        if status == "204" or not content:
            types.append("None")
        else:
            types.append(py_type(content[JSON].get("schema", {}), names))
    return union(types) if types else "None"


def parse_operation(method: str, path: str, operation: Schema, names: dict[str, str]) -> Operation:
    relative = path.removeprefix(API_PREFIX)
    op = Operation(
        name=operation_name(method, path, operation),
        method=method.upper(),
        path=relative,
        doc=first_line(operation.get("description")) or first_line(operation.get("summary")),
        answer=answer_type(operation, names),
    )
    for parameter in operation.get("parameters", []):
        where, wire = parameter["in"], parameter["name"]
        name = snake(wire.removeprefix("x-").removeprefix("X-") if where == "header" else wire)
        type_ = py_type(parameter.get("schema", {}), names)
        typed = Parameter(name, wire, type_, parameter.get("required", False))
        {"path": op.path_params, "query": op.query, "header": op.headers}.get(where, []).append(typed)
    for typed in op.path_params:
        op.path = op.path.replace(f"{{{typed.wire}}}", f"{{_segment({typed.name})}}")
    body = operation.get("requestBody")
    if body:
        op.body = py_type(body["content"][JSON].get("schema", {}), names)
        op.body_required = bool(body.get("required"))
    return op


def signature(op: Operation) -> str:
    arguments = ["self", *(f"{p.name}: {p.type}" for p in op.path_params)]
    if op.body is not None:
        given = [m for m in members(op.body) if m not in ("None", "Any", "dict[str, Any]")]
        body = union([*given, "Mapping[str, Any]"])
        arguments.append(f"body: {body}" if op.body_required else f"body: {body} | None = None")
    keywords = [p for p in (*op.query, *op.headers)]
    if keywords:
        arguments.append("*")
        required = [p for p in keywords if p.required]
        optional = [p for p in keywords if not p.required]
        arguments += [f"{p.name}: {p.type}" for p in required]
        arguments += [f"{p.name}: {union([p.type, 'None'])} = None" for p in optional]
    return ", ".join(arguments)


def call(op: Operation, awaited: bool) -> str:
    path = f'f"{op.path}"' if op.path_params else f'"{op.path}"'
    arguments = [f'"{op.method}"', path]
    if op.body is not None:
        arguments.append("json=body")
    if op.query:
        arguments.append("params={" + ", ".join(f'"{p.wire}": {p.name}' for p in op.query) + "}")
    if op.headers:
        arguments.append("headers=_present({" + ", ".join(f'"{p.wire}": {p.name}' for p in op.headers) + "})")
    request = f"{'await ' if awaited else ''}self.request({', '.join(arguments)})"
    if op.answer == "None":
        return request
    if op.answer == "Any":
        return f"return {request}"
    return f'return cast("{op.answer}", {request})'


def method_lines(op: Operation, awaited: bool) -> list[str]:
    lines = [f"    {'async ' if awaited else ''}def {op.name}({signature(op)}) -> {op.answer}:"]
    lines += docstring(op.doc, "        ")
    lines.append(f"        {call(op, awaited)}")
    return lines


def operations(schema: Schema, names: dict[str, str]) -> tuple[list[Operation], list[tuple[str, str, str]]]:
    found: list[Operation] = []
    skipped: list[tuple[str, str, str]] = []
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            reason = skip_reason(method, path, item[method])
            if reason is not None:
                skipped.append((method.upper(), path, reason))
            else:
                found.append(parse_operation(method, path, item[method], names))
    seen: dict[str, Operation] = {}
    for op in found:
        if op.name in seen:
            raise SystemExit(f"two operations named {op.name}: {seen[op.name].path} and {op.path}")
        seen[op.name] = op
    return sorted(found, key=lambda op: op.name), skipped


# --- the module ----------------------------------------------------------------------------------

TYPES_NOTE = """\
# The bodies and answers, for type checkers: at run time they are plain dicts and lists, and building
# ~150 TypedDict classes would cost `import dagy.client` (the worker's and the CLI's) several times
# what the rest of it does. Import them under `if TYPE_CHECKING:`."""

REQUEST = """\
    if TYPE_CHECKING:  # the client's own `request` (dagy.client.api), which these methods call

        {prefix}def request(
            self,
            method: str,
            path: str,
            *,
            json: Any = None,
            params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
        ) -> {answer}: ...
"""

HELPERS = '''

def _segment(value: object) -> str:
    """A path parameter, escaped as one path segment."""
    return quote(str(value), safe="")


def _present(headers: Mapping[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if value is not None}
'''


def render(schema: Schema) -> str:
    """The module's source, formatted as `ruff format` would."""
    components: dict[str, Schema] = schema.get("components", {}).get("schemas", {})
    names = {component: class_name(component) for component in components}
    if len(set(names.values())) != len(names):
        raise SystemExit("two component schemas map to one class name")
    ops, skipped = operations(schema, names)
    protocol = [(m, p, r) for m, p, r in skipped if r in SKIPPED_PREFIXES.values()]
    skipped_lines = [f"- `{prefix}...`: {reason}." for prefix, reason in SKIPPED_PREFIXES.items() if protocol]
    skipped_lines += [f"- `{m} {p}`: {r}." for m, p, r in skipped if (m, p, r) not in protocol]
    lines = [
        '"""The API\'s operations as typed methods of `Client` and `AsyncClient`: generated by',
        "`scripts/generate_client.py` from the OpenAPI schema; do not edit (tests/test_client_generated.py",
        "checks that it is current). Bodies and answers are the schema's components as `TypedDict`s.",
        "",
        "Not here (call `Client.request` for them):",
        "",
        *skipped_lines,
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import TYPE_CHECKING, Any, Literal, Required, TypeAlias, TypedDict, cast",
        "from urllib.parse import quote",
        "",
    ]
    lines += [TYPES_NOTE, "if TYPE_CHECKING:"]
    for component, component_schema in sorted(components.items(), key=lambda item: names[item[0]]):
        lines += ["", *(f"    {line}" for line in typed_dict(names[component], component_schema, names))]
    for class_, awaited, doc in (
        ("Operations", False, "Every JSON operation of the API (generated); mixed into `Client`."),
        ("AsyncOperations", True, "The same operations, awaited (generated); mixed into `AsyncClient`."),
    ):
        lines += ["", "", f"class {class_}:", f'    """{doc}"""', ""]
        lines += REQUEST.format(prefix="async " if awaited else "", answer="Any").rstrip("\n").split("\n")
        for op in ops:
            lines += ["", *method_lines(op, awaited)]
    source = "\n".join(lines) + "\n" + HELPERS
    return ruff_format(source)


def ruff_format(source: str) -> str:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        raise SystemExit("ruff is needed to format the generated module")
    command = [ruff, "format", "--stdin-filename", str(TARGET.relative_to(ROOT)), "-"]
    done = subprocess.run(command, input=source, capture_output=True, text=True, cwd=ROOT, check=False)  # noqa: S603 - our own ruff
    if done.returncode != 0:
        raise SystemExit(f"ruff format failed: {done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is not current")
    args = parser.parse_args()
    source = render(openapi_schema())
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != source:
            print(f"{TARGET.relative_to(ROOT)} is not current: run python scripts/generate_client.py")
            return 1
        return 0
    TARGET.write_text(source)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

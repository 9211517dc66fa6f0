"""Custom code nodes: `python_function` runs a function its author wrote in the flow spec."""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Mapping
from typing import Any

from dagy.nodes.base import NodeContext, NodeDefinition, NodeError, NodeType

MAX_CODE_BYTES = 256 * 1024
DEFAULT_ENTRYPOINT = "main"


def code_filename(node_id: str) -> str:
    """The file name tracebacks show for a node's code, so an author sees their own line numbers."""
    return f"<node:{node_id}>"


class PythonFunctionNode(NodeType):
    definition = NodeDefinition(
        type="python_function",
        category="custom",
        description=(
            "Runs `entrypoint(inputs, params)` from `code`; its JSON-serialisable return is the output."
        ),
        config_schema={
            "type": "object",
            "required": ["code"],
            "properties": {
                "code": {"type": "string", "maxLength": MAX_CODE_BYTES},
                "entrypoint": {"type": "string", "default": DEFAULT_ENTRYPOINT},
            },
        },
    )

    @classmethod
    def validate(cls, data: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        code = data.get("code")
        entrypoint = data.get("entrypoint", DEFAULT_ENTRYPOINT)
        if not isinstance(code, str) or not code.strip():
            problems["code"] = "required: the function's Python source"
        elif len(code.encode()) > MAX_CODE_BYTES:
            problems["code"] = f"at most {MAX_CODE_BYTES} bytes"
        else:
            try:
                compile(code, "<code>", "exec")  # parses only: the server never runs user code
            except SyntaxError as exc:
                problems["code"] = f"syntax error on line {exc.lineno}: {exc.msg}"
        if not isinstance(entrypoint, str) or not entrypoint.isidentifier():
            problems["entrypoint"] = "must be a Python identifier"
        return problems

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        code = str(config["code"])
        entrypoint = str(config.get("entrypoint", DEFAULT_ENTRYPOINT))
        filename = code_filename(context.node_id)
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        # A real module in sys.modules: dataclasses, pickle and typing look their module up by name.
        module = types.ModuleType(f"dagy_node_{context.node_id}")
        module.__file__ = filename
        sys.modules[module.__name__] = module
        exec(compile(code, filename, "exec"), module.__dict__)  # noqa: S102 - running the author's code is the point
        function = getattr(module, entrypoint, None)
        if not callable(function):
            raise NodeError("invalid_entrypoint", f"The code defines no function named {entrypoint!r}.")
        return function(inputs, context.params)

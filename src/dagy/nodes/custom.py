"""Custom code: a Python function written in the flow spec, a shell command, and another flow run
as one step."""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Mapping
from typing import Any

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import ANY, inbound, outbound
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.inputs import node_input, required_text

MAX_CODE_BYTES = 256 * 1024
DEFAULT_ENTRYPOINT = "main"


def code_filename(node_id: str) -> str:
    """The file name tracebacks show for a node's code, so an author sees their own line numbers."""
    return f"<node:{node_id}>"


class PythonFunctionNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="python_function",
        label="Python Function",
        description=(
            "Runs `entrypoint(inputs, params)` from `code`; its JSON-serialisable return is the output."
        ),
        category="custom",
        icon="Code",
        color="slate",
        tags=("python", "code", "function", "script", "custom"),
        connectors=(inbound(name="Inputs"), outbound((ANY,), name="Result")),
        config_schema=(
            ConfigField(
                "code",
                "Code",
                "code",
                required=True,
                description=f"Python source defining the entrypoint; at most {MAX_CODE_BYTES} bytes.",
            ),
            ConfigField(
                "entrypoint",
                "Entrypoint",
                "string",
                default=DEFAULT_ENTRYPOINT,
                description="The function called with (inputs by upstream node id, run parameters).",
            ),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
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


class ShellCommandNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="shell_command",
        label="Shell Command",
        description="Run a command in the run's sandbox; outputs its standard output.",
        category="custom",
        icon="Terminal",
        color="slate",
        tags=("shell", "bash", "command", "script", "cli"),
        connectors=(inbound(name="Inputs"), outbound(("string", "json"), name="Output")),
        config_schema=(
            ConfigField(
                "command", "Command", "code", required=True, description="Its stdin is the input as JSON."
            ),
            ConfigField("shell", "Shell", "enum", default="bash", options=("bash", "sh")),
            ConfigField(
                "working_dir",
                "Working directory",
                "string",
                description="Relative to the run's directory, and inside it.",
            ),
            ConfigField(
                "env",
                "Environment variables",
                "object",
                description='Names to string values, or to {"secret": "name"}: the secret\'s value.',
            ),
            ConfigField("timeout_seconds", "Timeout (seconds)", "number", default=300),
            ConfigField("output_format", "Output format", "enum", default="text", options=("text", "json")),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        from dagy.nodes import shell  # noqa: PLC0415 - subprocess and friends load when needed

        problems: dict[str, str] = {}
        env, working_dir, timeout = data.get("env"), data.get("working_dir"), data.get("timeout_seconds")
        if isinstance(env, dict) and (problem := shell.environment_problem(env, secrets=True)) is not None:
            problems["env"] = problem
        if isinstance(working_dir, str) and (problem := shell.working_dir_problem(working_dir)) is not None:
            problems["working_dir"] = problem
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout <= 0:
            problems["timeout_seconds"] = "must be more than 0"
        return problems

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        from dagy.nodes import shell  # noqa: PLC0415 - subprocess and friends load when the node runs

        return shell.run_shell_command(config, context, node_input(inputs))


class SubflowNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="subflow",
        label="Subflow",
        description="Run another flow of the org as one step, passing the input as its parameters.",
        category="custom",
        icon="Workflow",
        color="slate",
        tags=("subflow", "child flow", "reuse", "compose", "nested"),
        connectors=(inbound(name="Inputs"), outbound((ANY,), name="Result")),
        config_schema=(
            ConfigField("flow_name", "Flow", "string", required=True),
            ConfigField("flow_version", "Version", "string", description="Defaults to the latest."),
            ConfigField(
                "parameters",
                "Parameters",
                "object",
                description="The subflow's parameters; an object input adds its keys, replacing these.",
            ),
        ),
    )

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        if context.run_subflow is None:
            raise NodeError(
                "subflow_unavailable", "This run has no way to run a subflow (it runs outside a worker)."
            )
        parameters = config.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise NodeError("invalid_config", "parameters must be an object.")
        value = node_input(inputs)
        merged = {**parameters, **value} if isinstance(value, Mapping) else dict(parameters)
        version = config.get("flow_version")
        return context.run_subflow(
            required_text(config, "flow_name"), str(version) if version else None, merged
        )


NODES: tuple[type[NodeType], ...] = (PythonFunctionNode, ShellCommandNode, SubflowNode)

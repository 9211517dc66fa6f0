"""Control flow: branching, looping and waiting inside a flow.

`condition` and `for_each` answer the runtime, not only a value: a `Branch` (which outgoing
connector is live) and a `FanOut` (the items its direct successors run once each for). The
runtime does the routing (docs/runs.md, "Branches and loops"). `approval` waits for a person: the
runtime ends the attempt `waiting` where it raises `AwaitingApproval`, and the server resumes the
run with the decision (docs/node-types/approval.md).
"""

from __future__ import annotations

import ast
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import ANY, AT_MOST_ONE, inbound, outbound
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.inputs import node_input, required_text
from dagy.nodes.notification import render_template, template_problem
from dagy.protocol.models import (
    EMAIL_PATTERN,
    MAX_APPROVAL_MESSAGE_CHARS,
    MAX_APPROVAL_TIMEOUT_SECONDS,
    MAX_APPROVERS,
)

TRUE_OUT, FALSE_OUT = "true_out", "false_out"
MAX_EXPRESSION_CHARS = 2000
MAX_SEQUENCE_RESULT = 100_000  # "x" * n and [0] * n beyond this are refused, not built
MAX_POWER_EXPONENT = 1000


@dataclass(frozen=True)
class Branch:
    """A node's output sent down the outgoing edges leaving by `handle` only."""

    handle: str
    output: Any


@dataclass(frozen=True)
class FanOut:
    """The items a node's direct successors each run once for."""

    items: list[Any]


class ExpressionError(ValueError):
    """An expression outside the language, or one that failed evaluating."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (len, str, int, float, bool, any, all, min, max, sum, abs, round, sorted, list, dict, set)
}
CONSTANTS = {"True": True, "False": False, "None": None}
VARIABLES = ("input", "params")


def parse_expression(text: str) -> ast.Expression:
    """Parse and check an expression: Python's expression syntax without attribute access to
    `_` names, comprehensions, lambdas or calls other than `FUNCTIONS`."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"at most {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}") from exc
    for node in ast.walk(tree):
        _check_node(node)
    return tree


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp,
    ast.Constant, ast.Name, ast.Load, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict,
    ast.Call, ast.Attribute, ast.keyword,
    *_BINARY, *_UNARY, *_COMPARE,
)  # fmt: skip


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED):
        raise ExpressionError(f"{type(node).__name__} is not allowed in a condition")
    if isinstance(node, ast.Name) and node.id not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
        raise ExpressionError(f"unknown name {node.id!r}; use input, params or {', '.join(FUNCTIONS)}")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExpressionError(f"attribute {node.attr!r} is not allowed")
    if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
        raise ExpressionError(f"only these functions may be called: {', '.join(FUNCTIONS)}")


def evaluate(tree: ast.Expression, names: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression with `names` (input, params) bound."""
    try:
        return _Evaluator(names).eval(tree.body)
    except ExpressionError:
        raise
    except Exception as exc:  # the author's expression failed on this input (KeyError, TypeError, ...)
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from exc


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = {**CONSTANTS, **FUNCTIONS, **names}

    def eval(self, node: ast.expr) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per syntax form
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.names[node.id]
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.BinOp):
            return _binary(type(node.op), self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.eval(node.operand))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Subscript):
            return self.eval(node.value)[self.eval(node.slice)]
        if isinstance(node, ast.Slice):
            return slice(
                *(self.eval(p) if p is not None else None for p in (node.lower, node.upper, node.step))
            )
        if isinstance(node, ast.List | ast.Tuple):
            values = [self.eval(e) for e in node.elts]
            return values if isinstance(node, ast.List) else tuple(values)
        if isinstance(node, ast.Dict):
            return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values, strict=True) if k}
        if isinstance(node, ast.Attribute):
            return getattr(self.eval(node.value), node.attr)
        if isinstance(node, ast.Call):
            function = self.eval(node.func)
            args = [self.eval(a) for a in node.args]
            return function(*args, **{str(k.arg): self.eval(k.value) for k in node.keywords})
        raise ExpressionError(f"{type(node).__name__} is not allowed in a condition")

    def _bool_op(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if isinstance(node.op, ast.And) != bool(value):
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True


def _binary(op: type[ast.operator], left: Any, right: Any) -> Any:
    """Arithmetic, refusing results that would exhaust the process (huge powers and repetitions)."""
    if op is ast.Pow and isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
        raise ExpressionError(f"exponents are limited to {MAX_POWER_EXPONENT}")
    if op is ast.Mult:
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        repeated = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeated and len(sequence) * count > MAX_SEQUENCE_RESULT:
            raise ExpressionError(f"a repeated sequence is limited to {MAX_SEQUENCE_RESULT} items")
    return _BINARY[op](left, right)


def _single_input(inputs: Mapping[str, Any]) -> Any:
    return next(iter(inputs.values())) if inputs else None


class ConditionNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="condition",
        label="Condition",
        description="Send the input down the True or the False branch, by an expression over it.",
        category="control_flow",
        icon="GitBranch",
        color="orange",
        tags=("if", "branch", "condition", "switch", "route"),
        connectors=(
            inbound(cardinality=AT_MOST_ONE, required=True),
            outbound((ANY,), connector_id="true_out", name="True"),
            outbound((ANY,), connector_id="false_out", name="False"),
        ),
        config_schema=(
            ConfigField(
                "expression",
                "Expression",
                "string",
                required=True,
                description=(
                    "A Python expression over `input` (the upstream output) and `params`, e.g. "
                    "input['status'] == 'ok' or len(input) > 0; calls limited to "
                    + ", ".join(FUNCTIONS)
                    + "."
                ),
            ),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        expression = data.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            return {}  # the config schema reports it
        try:
            parse_expression(expression)
        except ExpressionError as exc:
            return {"expression": str(exc)}
        return {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Branch:
        value = _single_input(inputs)
        try:
            tree = parse_expression(str(config["expression"]))
            result = evaluate(tree, {"input": value, "params": context.params})
        except ExpressionError as exc:
            raise NodeError("invalid_expression", f"The condition's expression failed: {exc}") from exc
        context.logger.info("condition %s: %s", context.node_id, bool(result))
        return Branch(TRUE_OUT if result else FALSE_OUT, value)


class ForEachNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="for_each",
        label="For Each",
        description="Run the downstream branch once per item of the incoming list.",
        category="control_flow",
        icon="Repeat",
        color="orange",
        tags=("loop", "map", "fan out", "iterate", "batch"),
        connectors=(
            inbound(
                ("dataframe", "json"),
                connector_id="items_in",
                name="Items",
                cardinality=AT_MOST_ONE,
                required=True,
            ),
            outbound((ANY,), connector_id="item_out", name="Item"),
        ),
        config_schema=(
            ConfigField(
                "items_path",
                "Items path",
                "string",
                description="Dotted path to the list in the input (e.g. data.rows); empty: the input.",
            ),
            ConfigField("max_concurrency", "Parallel items", "integer", default=4),
            ConfigField("fail_fast", "Stop at the first failure", "boolean", default=True),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        concurrency = data.get("max_concurrency")
        if isinstance(concurrency, int) and not 1 <= concurrency <= 64:
            return {"max_concurrency": "must be from 1 to 64"}
        return {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> FanOut:
        value = _single_input(inputs)
        path = str(config.get("items_path") or "")
        for part in filter(None, path.split(".")):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and _is_index(part, len(value)):
                value = value[int(part)]
            else:
                raise NodeError("invalid_items", f"The input has nothing at {path!r} (stopped at {part!r}).")
        if not isinstance(value, list):
            where = f"at {path!r}" if path else "as its input"
            raise NodeError("invalid_items", f"for_each needs a list {where}, got {type(value).__name__}.")
        return FanOut(value)


def _is_index(part: str, length: int) -> bool:
    return part.lstrip("-").isdigit() and -length <= int(part) < length


class DelayNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="delay",
        label="Delay",
        description="Wait a number of seconds, then pass the input on unchanged.",
        category="control_flow",
        icon="Timer",
        color="orange",
        tags=("wait", "sleep", "pause", "throttle", "timer"),
        connectors=(inbound(cardinality=AT_MOST_ONE), outbound((ANY,))),
        config_schema=(ConfigField("seconds", "Seconds", "number", required=True),),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        seconds = data.get("seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds < 0:
            return {"seconds": "must be >= 0"}
        return {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        # A cancelled run's process is killed, so a plain sleep is interruptible enough.
        seconds = float(config["seconds"])
        if seconds > 0:  # sleep(0) still costs a system call and a wake-up
            time.sleep(seconds)
        return _single_input(inputs)


APPROVAL = "approval"
APPROVAL_DECISION = "approval_decision"  # the key of `NodeContext.extra` the runtime puts a decision under
ON_TIMEOUT = ("reject", "approve")
DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600
_EMAIL = re.compile(EMAIL_PATTERN)


class AwaitingApproval(Exception):
    """An approval node without a decision: its run waits. `waiting` holds the worker protocol's
    `Waiting` fields (what the server records as the run's `waiting_for`)."""

    def __init__(self, waiting: dict[str, Any]) -> None:
        super().__init__(f"Approval node {waiting['node_id']} waits for a decision.")
        self.waiting = waiting


class ApprovalNode(ExecutableNode):
    definition = NodeDefinition(
        node_type=APPROVAL,
        label="Approval",
        description="Pause the run until a member approves or rejects it; its timeout decides otherwise.",
        category="control_flow",
        icon="UserCheck",
        color="orange",
        tags=("approval", "human", "review", "sign-off", "gate"),
        connectors=(inbound(), outbound(("json",), name="Decision")),
        config_schema=(
            ConfigField(
                "message",
                "Message",
                "string",
                required=True,
                description="What the approvers read. A template: {input}, {input[key]}, {run_id}, "
                "{flow_name}, {node_id}, {params[name]}.",
            ),
            ConfigField(
                "approvers",
                "Approvers",
                "array",
                description="Emails of the members who may decide; empty: any member who may trigger runs.",
            ),
            ConfigField(
                "timeout_seconds",
                "Timeout (seconds)",
                "integer",
                default=DEFAULT_APPROVAL_TIMEOUT_SECONDS,
                description=f"How long the run waits for a decision: 1 to {MAX_APPROVAL_TIMEOUT_SECONDS}.",
            ),
            ConfigField("on_timeout", "On timeout", "enum", default="reject", options=ON_TIMEOUT),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        message = data.get("message")
        problem = template_problem(message) if isinstance(message, str) else None
        if problem is not None:
            problems["message"] = problem
        approvers = data.get("approvers")
        if isinstance(approvers, list):
            problem = _approvers_problem(approvers)
            if problem is not None:
                problems["approvers"] = problem
        timeout = data.get("timeout_seconds")
        if isinstance(timeout, int) and not 1 <= timeout <= MAX_APPROVAL_TIMEOUT_SECONDS:
            problems["timeout_seconds"] = f"must be from 1 to {MAX_APPROVAL_TIMEOUT_SECONDS}"
        return problems

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        """The decision the runtime was given for this node (its output); without one, the run waits."""
        decision = context.extra.get(APPROVAL_DECISION)
        if isinstance(decision, Mapping):
            return dict(decision)
        raise AwaitingApproval(self.waiting(inputs, config, context))

    @staticmethod
    def waiting(inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> dict[str, Any]:
        """What the run waits for: the rendered message, who may decide, for how long, then what."""
        approvers = config.get("approvers") or []
        timeout = config.get("timeout_seconds", DEFAULT_APPROVAL_TIMEOUT_SECONDS)
        problems = ApprovalNode.check({"approvers": approvers, "timeout_seconds": timeout})
        if not isinstance(approvers, list) or not isinstance(timeout, int) or isinstance(timeout, bool):
            problems["config"] = "approvers is a list of emails and timeout_seconds an integer"
        if config.get("on_timeout", "reject") not in ON_TIMEOUT:
            problems["on_timeout"] = f"must be one of: {', '.join(ON_TIMEOUT)}"
        if problems:
            raise NodeError("invalid_config", "; ".join(f"{k}: {v}" for k, v in problems.items()))
        message = render_template(required_text(config, "message"), context, node_input(inputs))
        return {
            "type": APPROVAL,
            "node_id": context.node_id,
            "message": message[:MAX_APPROVAL_MESSAGE_CHARS],
            "approvers": sorted({str(a).strip().lower() for a in approvers}),
            "timeout_seconds": timeout,
            "on_timeout": config.get("on_timeout", "reject"),
        }


def _approvers_problem(approvers: list[Any]) -> str | None:
    if len(approvers) > MAX_APPROVERS:
        return f"at most {MAX_APPROVERS} approvers"
    bad = [a for a in approvers if not isinstance(a, str) or not _EMAIL.match(a.strip())]
    return f"not an email: {bad[0]!r}" if bad else None


NODES: tuple[type[NodeType], ...] = (ConditionNode, ForEachNode, DelayNode, ApprovalNode)

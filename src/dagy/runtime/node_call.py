"""Calling one node: its config prepared (defaults, secrets), its tries, its wall limit, its errors.

A node's data may hold `retries`, `retry_delay_seconds` and `timeout_seconds` whatever its type
(validated by `NodeType.validate`). A try past `timeout_seconds` fails with `timeout`; its thread
cannot be killed and is abandoned (it ends with the run's process). Tries are counted and retried
here, in the run's process, wherever they execute (runners.py): a try on a Dask worker comes back
as a `DescribedFailure`.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dagy.nodes import ExecutableNode, NodeError, NodeType, Ports, get_node_type
from dagy.nodes.control_flow import Branch, FanOut
from dagy.runtime.redaction import Redactor
from dagy.secrets import SECRET_NOT_FOUND, SecretNotFound

T = TypeVar("T")


@dataclass(frozen=True)
class TryPolicy:
    retries: int = 0
    delay_seconds: float = 0.0
    timeout_seconds: float | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> TryPolicy:
        timeout = data.get("timeout_seconds")
        return cls(
            retries=int(data.get("retries") or 0),
            delay_seconds=float(data.get("retry_delay_seconds") or 0),
            timeout_seconds=float(timeout) if timeout else None,
        )


class DescribedFailure(Exception):
    """A try that failed where its error object was made: in another process (a Dask worker), whose
    exception does not cross back. `retryable` is what `retryable()` said of the exception there."""

    def __init__(self, error: dict[str, Any], *, retryable: bool) -> None:
        super().__init__(error.get("message"))
        self.error = error
        self.retryable = retryable


class NodeFailed(Exception):
    """A node's last try failed; `error` is the protocol's error object."""

    def __init__(self, error: dict[str, Any], tries: int) -> None:
        super().__init__(error.get("message"))
        self.error = error
        self.tries = tries


def executable_type(
    node: Mapping[str, Any], custom_nodes: Mapping[str, str] | None = None
) -> type[ExecutableNode]:
    """The class that runs `node`: a built-in type, else the org's custom type imported from the
    `import_path` it was registered with (`module:Class`, installed on the worker)."""
    type_name, node_id = str(node.get("type")), str(node["id"])
    node_type: type[NodeType] | None = get_node_type(type_name)
    if node_type is None and custom_nodes and type_name in custom_nodes:
        node_type = _import_custom(type_name, custom_nodes[type_name])
    if node_type is None:
        raise NodeError("unknown_node_type", f"This worker does not know node type {type_name!r}.")
    if not issubclass(node_type, ExecutableNode):
        message = f"Node {node_id!r} is of type {type_name!r}, which this version of Dagy cannot run."
        raise NodeError("node_not_executable", message)
    return node_type


def _import_custom(type_name: str, import_path: str) -> type[NodeType]:
    module_name, _, class_name = import_path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        message = f"Custom node type {type_name!r}: {import_path!r} cannot be imported here ({exc})."
        raise NodeError("custom_node_unavailable", message) from exc
    if not (isinstance(found, type) and issubclass(found, ExecutableNode)):
        message = f"Custom node type {type_name!r}: {import_path!r} is not a dagy.nodes.ExecutableNode class."
        raise NodeError("custom_node_unavailable", message)
    return found


def prepare_config(
    node_type: type[NodeType], data: Mapping[str, Any], secrets: Mapping[str, str]
) -> dict[str, Any]:
    """The node's data with its config schema's defaults filled in and every `{"secret": name}`
    (at any depth) replaced by the secret's value."""
    definition = getattr(node_type, "definition", None)  # a custom type's schema lives on the server
    fields = definition.config_schema if definition is not None else ()
    config = {f.name: f.default for f in fields if f.default is not None}
    config.update({k: v for k, v in data.items() if v is not None})
    resolved: dict[str, Any] = _resolve(config, secrets)
    return resolved


def _resolve(value: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secret"} and isinstance(value["secret"], str):
            name = value["secret"]
            if name not in secrets:
                raise NodeError(
                    SECRET_NOT_FOUND, f"Secret {name!r} does not exist in this org (or was deleted)."
                )
            return secrets[name]
        return {k: _resolve(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, secrets) for v in value]
    return value


def call_with_tries(
    call: Callable[[], T],
    policy: TryPolicy,
    *,
    describe: Callable[[BaseException], dict[str, Any]],
    on_retry: Callable[[int, dict[str, Any], float], None] | None = None,
) -> tuple[T, int]:
    """Call until one try succeeds or none are left; answer the result and the number of tries.
    Raises NodeFailed with the last try's error."""
    tries = 0
    while True:
        tries += 1
        try:
            return _within(call, policy.timeout_seconds), tries
        except (Exception, SystemExit) as exc:  # any failure of user code, `sys.exit()` too, is the node's
            error = describe(exc)
            if tries > policy.retries or not retryable(exc):
                raise NodeFailed(error, tries) from exc
            if on_retry is not None:
                on_retry(tries, error, policy.delay_seconds)
            time.sleep(policy.delay_seconds)


def retryable(exc: BaseException) -> bool:
    """A secret the flow does not declare stays undeclared however often the node tries."""
    if isinstance(exc, NodeError | DescribedFailure):
        return exc.retryable
    return not isinstance(exc, SecretNotFound)


def _within(call: Callable[[], T], timeout: float | None) -> T:
    if timeout is None:
        return call()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="dagy-node-try")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NodeError("timeout", f"The node ran past its timeout of {timeout:g} seconds.")
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


def check_output(output: Any) -> None:
    """Outputs are JSON values (the protocol carries them as JSON)."""
    if isinstance(output, Branch | FanOut):
        return
    if isinstance(output, Ports):
        output = output.values
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NodeError("invalid_output", f"The node's output is not JSON-serialisable: {exc}") from exc


def error_of(exc: BaseException, node_id: str, node_type: str, redact: Redactor) -> dict[str, Any]:
    """The protocol's error object for a node's failure, with secret values masked."""
    where = {"node_id": node_id, "node_type": node_type}
    if isinstance(exc, DescribedFailure):
        return {**(redact.error(exc.error) or {}), **where}
    if isinstance(exc, NodeError):
        return {"type": exc.error_type, "message": redact(exc.message), **where, "traceback": None}
    return {
        "type": exception_type(exc),
        "message": redact(f"{type(exc).__name__}: {exc}"),
        **where,
        "traceback": redact(_user_traceback(exc)),
    }


def exception_type(exc: BaseException) -> str:
    """The error type of an exception the author's code raised."""
    return SECRET_NOT_FOUND if isinstance(exc, SecretNotFound) else "exception"


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the author's code on: the runtime's own frames are noise to them."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<node:"):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))

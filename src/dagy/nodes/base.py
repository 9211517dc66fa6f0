"""What every node type is: a definition (served by the registry, used by validation) and its
`run()`."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from dagy.nodes.definition import NodeDefinition
from dagy.protocol.host import HostSettings


class ObjectStore(Protocol):
    """Dagy's object store as a run sees it: keys relative to the run's org."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key`; answer the object's reference."""
        ...

    def list(self, prefix: str) -> list[str]: ...


class SubflowRunner(Protocol):
    """Runs another flow of the org inside this run (the `subflow` node); answers its output."""

    def __call__(self, flow_name: str, flow_version: str | None, parameters: dict[str, Any]) -> Any: ...


@dataclass
class NodeContext:
    """What a running node may use besides its inputs and config.

    `config` reaches `run()` with secret references already resolved; `env` holds the variables of
    the deployment's environment; `store` is Dagy's object store for the run's org (None when the
    node runs outside a worker, e.g. in a unit test or a local SDK run).
    """

    run_id: str
    node_id: str
    params: dict[str, Any]
    logger: logging.Logger
    env: Mapping[str, str] = field(default_factory=dict)
    flow_name: str = ""
    org_id: str = ""
    attempt: int = 1
    settings: HostSettings = field(default_factory=HostSettings.from_env)
    store: ObjectStore | None = None
    run_subflow: SubflowRunner | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ports:
    """A node's output per outbound connector, for types with several (`schema_validator` sends
    valid records one way and invalid ones another): each outgoing edge receives the value of the
    connector it leaves by (its `sourceHandle`; an edge without one receives the whole mapping), and
    an edge leaving by a connector absent here is not live. The node run records the mapping."""

    values: dict[str, Any]


class NodeError(Exception):
    """A node failed for a reason its author should read (not a bug in Dagy). `retryable=False`:
    trying again cannot help (a refused address), so the node's retries are not spent on it."""

    def __init__(self, error_type: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable


# Keys every node's data may hold, whatever its type: how the runtime executes it.
MAX_NODE_RETRIES = 10
EXECUTION_KEYS = ("retries", "retry_delay_seconds", "timeout_seconds")


def execution_problems(data: Mapping[str, Any]) -> dict[str, str]:
    """Problems with the execution keys of a node's data: `retries` (0-10 more tries after a
    failure), `retry_delay_seconds` (>= 0, the wait between tries) and `timeout_seconds` (> 0, the
    node's wall limit per try)."""
    problems: dict[str, str] = {}
    retries = data.get("retries")
    if retries is not None and (not _is_int(retries) or not 0 <= retries <= MAX_NODE_RETRIES):
        problems["retries"] = f"must be an integer from 0 to {MAX_NODE_RETRIES}"
    delay = data.get("retry_delay_seconds")
    if delay is not None and (not _is_number(delay) or delay < 0):
        problems["retry_delay_seconds"] = "must be a number >= 0"
    timeout = data.get("timeout_seconds")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        problems["timeout_seconds"] = "must be a number > 0"
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class NodeType:
    """A node type the registry serves and validation checks; `ExecutableNode` adds `run()`."""

    definition: ClassVar[NodeDefinition]
    executable: ClassVar[bool] = False

    @classmethod
    def validate(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Problems with a node's `data`, as `{field: problem}`; empty when it is valid."""
        return cls.definition.config_problems(data) | execution_problems(data) | cls.check(data)

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Rules beyond the config schema, for types that have some. Runs on data that may fail the
        schema too; its message wins on the same field, being the more specific one."""
        return {}


class ExecutableNode(NodeType, ABC):
    """A node type the runtime runs."""

    executable: ClassVar[bool] = True

    @abstractmethod
    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        """Do the node's work; the JSON-serialisable return value is the node's output."""

"""What every node type is: a definition (served by the registry, used by validation) and, for
the types the runtime can execute today, `run()`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dagy.nodes.definition import NodeDefinition


@dataclass
class NodeContext:
    """What a running node may use besides its inputs and config."""

    run_id: str
    node_id: str
    params: dict[str, Any]
    logger: logging.Logger
    extra: dict[str, Any] = field(default_factory=dict)


class NodeError(Exception):
    """A node failed for a reason its author should read (not a bug in Dagy)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class NodeType:
    """A node type the registry serves and validation checks.

    Most types are described before the engine that runs them exists: they validate like any
    other, and a run that reaches one fails with `node_not_executable` instead of guessing.
    """

    definition: ClassVar[NodeDefinition]
    executable: ClassVar[bool] = False

    @classmethod
    def validate(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Problems with a node's `data`, as `{field: problem}`; empty when it is valid."""
        return cls.definition.config_problems(data) | cls.check(data)

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Rules beyond the config schema, for types that have some. Runs on data that may fail the
        schema too; its message wins on the same field, being the more specific one."""
        return {}


class ExecutableNode(NodeType, ABC):
    """A node type the runtime can run today."""

    executable: ClassVar[bool] = True

    @abstractmethod
    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        """Do the node's work; the JSON-serialisable return value is the node's output."""

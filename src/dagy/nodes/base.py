"""What every node type is: a definition (served by the registry, used by validation) and `run()`."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class NodeDefinition:
    """The public face of a node type: what the builder shows and what validation checks."""

    type: str
    category: str
    description: str
    config_schema: dict[str, Any]
    inputs: tuple[str, ...] = ("input",)
    outputs: tuple[str, ...] = ("output",)


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


class NodeType(ABC):
    definition: ClassVar[NodeDefinition]

    @classmethod
    def validate(cls, data: Mapping[str, Any]) -> dict[str, str]:
        """Problems with a node's `data`, as `{field: problem}`; empty when it is valid."""
        return {}

    @abstractmethod
    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        """Do the node's work; the JSON-serialisable return value is the node's output."""

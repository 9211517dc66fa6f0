"""What a node receives, read the same way by every node type that takes one value rather than the
map of upstream outputs (the notification nodes' `{input}`, the stdin of `shell_command`, the
parameters a `subflow` receives), and its required text settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagy.nodes.base import NodeError


def node_input(inputs: dict[str, Any]) -> Any:
    """The node's input: None without an upstream node, the upstream node's output with one, and
    the outputs keyed by upstream node id with several."""
    if not inputs:
        return None
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    return dict(inputs)


def required_text(config: Mapping[str, Any], name: str) -> str:
    """A setting that must be a non-empty string; NodeError("invalid_config") otherwise (`run` may
    be called on data that never went through validation)."""
    value = config.get(name)
    if not isinstance(value, str) or not value.strip():
        raise NodeError("invalid_config", f"{name} is required: a non-empty string.")
    return value

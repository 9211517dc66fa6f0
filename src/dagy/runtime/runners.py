"""Where a node's tries execute: in the run's process, or on a Dask cluster (dask_runner.py).

The engine decides everything on its main thread and runs each node on one of its threads
(`max_parallel_nodes`); that thread prepares the node (config, secrets, context), counts its tries
and reports it. Only the try itself, `node.run(inputs, config, context)`, goes through the run's
`NodeRunner`: called right there in the run's process, or submitted to the cluster while the
thread waits for it. So retries, timeouts, conditions, for_each mapping, persisted outputs, events
and cancellation mean the same whatever the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dagy.nodes import ExecutableNode, NodeContext

# One try of one node: `node.run` itself, or its stand-in that runs it elsewhere and answers alike.
NodeTry = Callable[[dict[str, Any], Mapping[str, Any], NodeContext], Any]


class NodeRunner(Protocol):
    """Where a run's node tries execute."""

    def bind(self, node: ExecutableNode, timeout: float | None) -> NodeTry:
        """How to try `node`: called once per try (per item, for a for_each's successor). A try past
        `timeout` seconds fails with NodeError("timeout")."""
        ...

    def close(self) -> None:
        """The run is over: let go of what the runner holds (a cluster connection)."""
        ...


class InProcess:
    """Tries run in the calling thread of the run's process (the default)."""

    def bind(self, node: ExecutableNode, timeout: float | None) -> NodeTry:
        return node.run  # the timeout is the caller's (node_call._within)

    def close(self) -> None:
        return None

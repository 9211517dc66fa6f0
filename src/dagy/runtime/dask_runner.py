"""A run's node tries on a Dask cluster: the runs of `dagy worker --dask-address` (docs/workers.md).

The run's process holds one `distributed.Client`, connected on the first try that needs it. Each
try is one future of `run_try` (dask_task.py) that an engine thread waits for; the scheduler puts it
on a free Dask worker, so independent nodes, and a for_each's items, run on different machines.
`max_parallel_nodes` (and a for_each's `max_concurrency`) bound the tries a run has on the cluster
at once. Control flow (`condition`, `for_each`, `delay`) and `subflow` stay in the run's process:
they are cheap and decide where the run goes, or run a flow whose own nodes go to the cluster.

Inputs travel with each try as values, not as the futures of the upstream nodes. The engine submits
a node only once its upstreams finished and it has decided that the node runs (conditions, skips,
failures), so their futures would be done already and would only spare an upload; and a held
future whose Dask worker died would make the scheduler run that completed node again, its side
effects twice and maybe another output than the one recorded, which Dagy never does.

A try past its timeout is cancelled on the cluster; its thread there cannot be stopped and runs to
its end, as in a run's process. When the run's process ends (completed, cancelled, out of time)
its client disconnects and the scheduler forgets its futures: tries not started never start.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dagy.nodes import ExecutableNode, NodeContext, NodeError
from dagy.nodes.control_flow import ConditionNode, DelayNode, ForEachNode
from dagy.nodes.custom import SubflowNode
from dagy.runtime.dask_task import NodeCall, TryResult, run_try
from dagy.runtime.events import EventWriter
from dagy.runtime.node_call import DescribedFailure
from dagy.runtime.runners import NodeTry

if TYPE_CHECKING:
    from distributed import Client, Future

CLOSE_TIMEOUT_SECONDS = 5.0
# Run where the run's process is: cheap control flow, and the subflow that runs a flow of its own.
IN_PROCESS_TYPES = (ConditionNode, ForEachNode, DelayNode, SubflowNode)
# What a node's context logger pickles as; dask_task.run_try gives each try a logger of its own.
_SHIPPED_LOGGER = logging.getLogger("dagy.run")


class DaskRunner:
    """Submits a run's node tries to the Dask scheduler at `address`."""

    def __init__(self, address: str, events: EventWriter, *, secrets: Mapping[str, str], name: str) -> None:
        self.address = address
        self.events = events
        self.secrets = dict(secrets)  # the flow's declared secrets (`dagy.secrets.get` in a node)
        self.name = name  # the client's name in the scheduler's logs and dashboard
        self._client: Client | None = None
        self._refused: tuple[float, str] | None = None  # when connecting last failed, and why
        self._lock = threading.Lock()

    def bind(self, node: ExecutableNode, timeout: float | None) -> NodeTry:
        if isinstance(node, IN_PROCESS_TYPES):
            return node.run
        return functools.partial(self._try, node, timeout)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            # The run is over whatever the scheduler answers; if it does not, the process ends anyway.
            with contextlib.suppress(Exception):
                client.close(timeout=CLOSE_TIMEOUT_SECONDS)

    def _try(
        self,
        node: ExecutableNode,
        timeout: float | None,
        inputs: dict[str, Any],
        config: Mapping[str, Any],
        context: NodeContext,
    ) -> Any:
        call = NodeCall(
            node=node,
            node_type=_type_name(node),
            config=dict(config),
            context=replace(context, logger=_SHIPPED_LOGGER, run_subflow=None),
            secrets=self.secrets,
            log_max_bytes=self.events.budget.max_bytes,
        )
        key = f"dagy-{context.run_id or 'run'}-{context.node_id}-{uuid.uuid4().hex[:12]}"
        client = self._connected()
        future = None
        try:
            future = client.submit(run_try, call, inputs, key=key, pure=False)
            result: TryResult = future.result(timeout=timeout)
        except Exception as exc:  # the try's timeout, or the cluster's failure (a worker lost too often)
            _cancel(future)
            if isinstance(exc, TimeoutError) and timeout is not None:
                raise NodeError("timeout", f"The node ran past its timeout of {timeout:g} seconds.") from exc
            message = f"The Dask cluster at {self.address} did not run the node: {type(exc).__name__}: {exc}"
            raise NodeError("dask_error", message) from exc
        for line in result.logs:
            self.events.log(line)
        if result.error is not None:
            raise DescribedFailure(result.error, retryable=result.retryable)
        return result.output

    def _connected(self) -> Client:
        """The run's client, connected on first use. A scheduler that cannot be reached fails the
        try, and at once the tries that were waiting for that same connection; a later try (a
        retry) connects again."""
        asked = time.monotonic()
        with self._lock:
            if self._client is None:
                if self._refused is not None and self._refused[0] >= asked:
                    raise NodeError("dask_unavailable", self._refused[1])
                from distributed import Client  # noqa: PLC0415 - only runs of a Dask worker load it

                try:
                    # Within Dask's connect timeout (`distributed.comm.timeouts.connect`, 30 s).
                    self._client = Client(self.address, name=self.name, set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    message = f"The Dask scheduler at {self.address} cannot be reached: {exc}"
                    self._refused = (time.monotonic(), message)
                    raise NodeError("dask_unavailable", message) from exc
            return self._client


def _cancel(future: Future[TryResult] | None) -> None:
    if future is not None:
        future.cancel()


def _type_name(node: ExecutableNode) -> str:
    definition = getattr(type(node), "definition", None)
    return str(definition.node_type) if definition is not None else type(node).__name__

"""One node try on a Dask worker: what crosses to the cluster (`NodeCall`), what comes back
(`TryResult`), and `run_try`, the function the cluster calls.

A Dask worker is a long-lived process that runs the tries of many runs at once, one per thread, and
has no run's stdout. So a try captures its own log: `context.logger` is a logger of its own, and
what the try's thread writes to `sys.stdout`/`sys.stderr` (`print`) is routed to it; the lines come
back with the result, capped at the run's log limit, and the run's process writes them. The
flow's declared secrets are served to `dagy.secrets.get` for the try's thread only. A failure is
described here, where its exception and traceback are (an exception of the author's own class
could not be unpickled in the run's process); its output is checked to be JSON here too.

Dagy must be installed on the Dask workers (the same version as the worker's), with the packages
the nodes import and the org's custom node types.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TextIO

import dagy.secrets
from dagy.nodes import ExecutableNode, NodeContext
from dagy.protocol.models import MAX_LOG_LINE_CHARS
from dagy.runtime.node_call import check_output, error_of, retryable
from dagy.runtime.redaction import NO_REDACTION


@dataclass(frozen=True)
class NodeCall:
    """A node's try as it crosses to the cluster (pickled): the node, its config with the secret
    values it references, its context (no subflow runner: a subflow runs in the run's process)."""

    node: ExecutableNode
    node_type: str
    config: dict[str, Any]
    context: NodeContext
    secrets: dict[str, str]  # the flow's declared secrets, for `dagy.secrets.get`
    log_max_bytes: int


@dataclass(frozen=True)
class TryResult:
    """What a try came to: its output, or its error object and whether a retry may help; the log
    lines it wrote."""

    output: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    logs: tuple[str, ...] = ()


def run_try(call: NodeCall, inputs: dict[str, Any]) -> TryResult:
    """On a Dask worker: one try of `call.node` with `inputs`. Never raises for the node's failure."""
    lines = _Lines(call.log_max_bytes)
    context = replace(call.context, logger=lines.logger(call.context.node_id))
    try:
        with (
            _capturing(lines),
            dagy.secrets.serving_in_this_thread(call.secrets, flow_name=call.context.flow_name),
        ):
            output = call.node.run(inputs, call.config, context)
        check_output(output)
    except (Exception, SystemExit) as exc:  # the node's failure, described for the run's process
        error = error_of(exc, call.context.node_id, call.node_type, NO_REDACTION)
        return TryResult(error=error, retryable=retryable(exc), logs=lines.taken())
    return TryResult(output=output, logs=lines.taken())


class _Lines:
    """A try's log lines, up to the run's log limit (the run's process applies the limit again
    across the whole run)."""

    def __init__(self, max_bytes: int) -> None:
        self.lines: list[str] = []
        self._room = max_bytes
        self._partial = ""
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            if self._room <= 0:
                return
            line = line[:MAX_LOG_LINE_CHARS]
            self._room -= len(line.encode(errors="replace")) + 1
            self.lines.append(line)

    def write(self, text: str) -> None:
        with self._lock:
            *complete, self._partial = (self._partial + text).split("\n")
            if len(self._partial) > MAX_LOG_LINE_CHARS:  # a line that never ends is cut, not hoarded
                complete.append(self._partial)
                self._partial = ""
        for line in complete:
            self.add(line.rstrip("\r"))

    def taken(self) -> tuple[str, ...]:
        if self._partial:
            self.add(self._partial)
            self._partial = ""
        return tuple(self.lines)

    def logger(self, node_id: str) -> logging.Logger:
        """A logger of this try alone (not in logging's registry, so it is freed with the try)."""
        logger = logging.Logger(f"dagy.run.{node_id}", logging.INFO)
        logger.addHandler(_LinesHandler(self))
        return logger


class _LinesHandler(logging.Handler):
    """Formats records as the run's process does (`[LEVEL] message`) into a try's lines."""

    def __init__(self, lines: _Lines) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            for line in self.format(record).split("\n"):  # as the run's process splits a record's lines
                self.lines.add(line)
        except Exception:  # as logging does: a record that cannot be formatted is reported, not raised
            self.handleError(record)


_ROUTE = threading.local()  # the `_Lines` of the try the current thread runs, if any


class _ThreadRouted(io.TextIOBase):
    """Stands in for `sys.stdout`/`sys.stderr` on a Dask worker: a thread running a try writes to
    that try's lines, every other thread to the worker's own stream."""

    def __init__(self, own: TextIO) -> None:
        super().__init__()
        self.own = own

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines: _Lines | None = getattr(_ROUTE, "lines", None)
        if lines is None:
            return self.own.write(text)
        lines.write(text)
        return len(text)

    def flush(self) -> None:
        if getattr(_ROUTE, "lines", None) is None:
            self.own.flush()

    def fileno(self) -> int:
        return self.own.fileno()

    def isatty(self) -> bool:
        return False


_INSTALL = threading.Lock()


@contextmanager
def _capturing(lines: _Lines) -> Iterator[None]:
    """Route this thread's `sys.stdout`/`sys.stderr` writes to `lines` while the block runs."""
    with _INSTALL:  # once per worker process; a stream replaced since then is wrapped again
        if not isinstance(sys.stdout, _ThreadRouted):
            sys.stdout = _ThreadRouted(sys.stdout)
        if not isinstance(sys.stderr, _ThreadRouted):
            sys.stderr = _ThreadRouted(sys.stderr)
    _ROUTE.lines = lines
    try:
        yield
    finally:
        _ROUTE.lines = None

"""The runtime's side of the worker protocol: JSON-lines events on stdout.

One event per line: `log` (a line of the run's output), `node` (a node run's state) and, last,
`result`. Anything else on stdout (a C extension writing to fd 1, a child process) is not JSON and
the worker treats it as a log line, so nothing a run prints is lost.

Log lines, node outputs and errors pass the run's `Redactor` (secret values become `***`); log
lines also pass a per-run byte cap: past it,
one marker line says so and later lines are dropped cheaply while the run goes on.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from dagy.protocol.models import MAX_LOG_LINE_CHARS
from dagy.protocol.payload import DEFAULT_LOG_MAX_BYTES
from dagy.runtime.narration import node_line
from dagy.runtime.redaction import NO_REDACTION, Redactor

LOG = "log"
NODE = "node"
RESULT = "result"
EVENT_TYPES = frozenset({LOG, NODE, RESULT})
MAX_LINE_CHARS = MAX_LOG_LINE_CHARS


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_event(line: str) -> dict[str, Any] | None:
    """The event a stdout line carries, or None when it is plain output (a log line)."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("event") in EVENT_TYPES:
        return event
    return None


def truncation_marker(max_bytes: int) -> str:
    return f"[WARNING] The log was cut after {max_bytes} bytes; later lines were dropped"


class LogBudget:
    """Counts a run's log bytes against its cap; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.spent = 0
        self.exhausted = False
        self._lock = threading.Lock()

    def take(self, message: str) -> str | None:
        """The line to write: `message`, the truncation marker (once, when the cap is crossed), or
        None (dropped)."""
        with self._lock:
            if self.exhausted:
                return None
            self.spent += len(message.encode(errors="replace")) + 1
            if self.spent <= self.max_bytes:
                return message
            self.exhausted = True
            return truncation_marker(self.max_bytes)


class EventWriter:
    """Writes events to the worker; thread-safe so nodes running in threads may log."""

    def __init__(
        self,
        stream: TextIO,
        *,
        redactor: Redactor = NO_REDACTION,
        log_max_bytes: int = DEFAULT_LOG_MAX_BYTES,
    ) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.redact = redactor
        self.budget = LogBudget(log_max_bytes)

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def node(self, event: dict[str, Any]) -> None:
        """A node event, its output and error redacted, and its line in the run's log (narration.py)."""
        for key in ("output", "error"):
            if event.get(key) is not None:
                event[key] = self.redact.value(event[key])
        self.emit(event)
        line = node_line(event)
        if line is not None:
            self.log(line)

    def log(self, message: str) -> None:
        line = self.budget.take(message)
        if line is not None:
            self.emit({"event": LOG, "timestamp": now_iso(), "message": self.redact(line[:MAX_LINE_CHARS])})


class LogStream(io.TextIOBase):
    """Stands in for `sys.stdout`/`sys.stderr` inside a run: each complete line becomes a log event."""

    def __init__(self, writer: EventWriter) -> None:
        super().__init__()
        self._writer = writer
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._writer.budget.exhausted:  # past the cap: drop without splitting lines
            return len(text)
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
            if len(self._buffer) > MAX_LINE_CHARS:  # a line that never ends is cut, not hoarded
                lines.append(self._buffer[:MAX_LINE_CHARS])
                self._buffer = ""
        for line in lines:
            self._writer.log(line.rstrip("\r"))
        return len(text)

    def flush_partial(self) -> None:
        """Emit a last line that has no newline yet (the run is ending)."""
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self._writer.log(rest)

"""What a run reports, buffered until it is sent: log lines and node runs, in protocol models.

The supervisor reads the run's events into a `Reports` and sends its batches (supervisor.py): in the
background every flush interval, and the last ones with the result when they fit in its request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from dagy.protocol import LogLine, NodeRunReport, NodeRunState
from dagy.protocol.models import MAX_LOG_LINE_CHARS, problems
from dagy.runtime.events import LogBudget
from dagy.runtime.redaction import Redactor

MAX_BUFFERED_LINES = 20_000
NODE_BATCH = 500
# A batch of node runs stays under this (the server's request limit is 2 MB by default). A large
# output reaches the worker as a reference to the object store (dagy/runtime/outputs.py); a single
# report still over it (a run without a store, a large error) is not sent: its node is not
# recorded, so a re-queued attempt runs it again.
REPORT_BATCH_BYTES = 1024 * 1024
# The last node runs and log lines ride with the result when they come to no more than this.
FOLDED_BYTES = 256 * 1024
_RUNNING = frozenset({NodeRunState.RUNNING, NodeRunState.RETRYING})


class Reports:
    def __init__(self, redact: Redactor, log_max_bytes: int) -> None:
        self.redact = redact
        self.logs: list[LogLine] = []
        self.node_runs: list[tuple[NodeRunReport, int]] = []  # (report, its size in bytes)
        self.running_nodes: dict[str, None] = {}  # node ids in start order: who ran when killed
        self._raw_budget = LogBudget(log_max_bytes)  # lines that were not the runtime's events

    def add_log_event(self, event: dict[str, Any]) -> None:
        """A line the runtime wrote (already redacted and within the run's budget)."""
        message = str(event.get("message"))[:MAX_LOG_LINE_CHARS]
        try:
            self.logs.append(
                LogLine.model_validate({"timestamp": event.get("timestamp"), "message": message})
            )
        except ValidationError:  # not a time: the line still counts, stamped on arrival
            self.add_log(message)

    def add_raw_log(self, message: str) -> None:
        """Output that was not one of the runtime's events (a child process, a C extension)."""
        line = self._raw_budget.take(message)
        if line is not None:
            self.add_log(self.redact(line))

    def add_log(self, message: str) -> None:
        self.logs.append(LogLine(timestamp=datetime.now(UTC), message=message[:MAX_LOG_LINE_CHARS]))

    def add_node_event(self, event: dict[str, Any], *, size: int) -> None:
        try:
            report = NodeRunReport.model_validate(
                {key: event.get(key) for key in NodeRunReport.model_fields if key in event}
            )
        except ValidationError as exc:
            self.add_log(
                f"[WARNING] A node event the run wrote is not a node run, not recorded: {problems(exc)}"
            )
            return
        if report.status in _RUNNING:
            self.running_nodes[report.node_id] = None
        else:
            self.running_nodes.pop(report.node_id, None)
        if size > REPORT_BATCH_BYTES:
            self.add_log(
                f"[WARNING] Task {report.node_id}: its {report.status} report ({size} bytes, mostly output) "
                "is too large to record; a re-queued attempt would run it again"
            )
            return
        self.node_runs.append((report, size))

    def last_running_node(self) -> str | None:
        return next(reversed(self.running_nodes), None) if self.running_nodes else None

    def trim(self) -> None:
        """The server is unreachable and lines pile up: keep the newest, say what was dropped."""
        if len(self.logs) > MAX_BUFFERED_LINES:
            dropped = len(self.logs) - MAX_BUFFERED_LINES // 2
            self.logs = self.logs[dropped:]
            self.add_log(f"[WARNING] {dropped} log lines dropped: the server could not be reached")

    def next_node_batch(self) -> list[NodeRunReport]:
        batch: list[NodeRunReport] = []
        total = 0
        for report, size in self.node_runs[:NODE_BATCH]:
            if batch and total + size > REPORT_BATCH_BYTES:
                break
            batch.append(report)
            total += size
        return batch

    def take_last(self, max_lines: int) -> tuple[list[NodeRunReport], list[LogLine]] | None:
        """What is left to send, taken out, when it fits in the result's request (`FOLDED_BYTES` at
        most, beside an output of up to 1 MB, and at most `max_lines` lines); None when it does not."""
        if len(self.logs) > max_lines or len(self.node_runs) > NODE_BATCH:
            return None
        size = sum(size for _, size in self.node_runs) + sum(len(line.message) for line in self.logs)
        if size > FOLDED_BYTES:
            return None
        taken = [report for report, _ in self.node_runs], self.logs
        self.node_runs, self.logs = [], []
        return taken

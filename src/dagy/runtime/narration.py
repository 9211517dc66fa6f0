"""What a run's log says about its nodes: one line with each node event the runtime writes.

A run whose code prints nothing still tells its story: `[INFO] Starting task: extract_data` (the
reference's example), the completion with its duration, a failure with its error and traceback, a
retry with its reason and delay, a skip. The worker adds the attempt's start (with the worker) and
the run's end (worker/supervisor.py). Every line starts with its level: `[INFO]`, `[WARNING]` or
`[ERROR]`, as the run's own `logging` lines do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any


def node_line(event: dict[str, Any]) -> str | None:
    """The log line of a node event (`events.NODE`), or None for a state it does not narrate."""
    line = _LINES.get(str(event.get("status")))
    return line(str(event.get("node_id")), int(event.get("tries") or 1), event) if line else None


def _running(node_id: str, tries: int, _event: dict[str, Any]) -> str:
    return f"[INFO] Starting task: {node_id}" + (f" (try {tries})" if tries > 1 else "")


def _completed(node_id: str, _tries: int, event: dict[str, Any]) -> str:
    if event.get("resumed"):
        return f"[INFO] Task {node_id} completed in an earlier attempt; its output is used again"
    return f"[INFO] Task {node_id} completed{_took(event)}"


def _failed(node_id: str, tries: int, event: dict[str, Any]) -> str:
    after = f" after {tries} tries" if tries > 1 else ""
    return f"[ERROR] Task {node_id} failed{after}{_took(event)}: {_error_text(event.get('error'))}"


def _retrying(node_id: str, tries: int, event: dict[str, Any]) -> str:
    delay = float(event.get("retry_in_seconds") or 0)
    when = f"retrying in {delay:g} s" if delay > 0 else "retrying now"
    reason = _error_text(event.get("error"), traceback=False)
    return f"[WARNING] Task {node_id} failed (try {tries}), {when}: {reason}"


_LINES: dict[str, Callable[[str, int, dict[str, Any]], str]] = {
    "running": _running,
    "completed": _completed,
    "failed": _failed,
    "retrying": _retrying,
    "skipped": lambda node_id, _tries, _event: f"[INFO] Task {node_id} skipped: not on this run's path",
    "cancelled": lambda node_id, _tries, _event: f"[WARNING] Task {node_id} cancelled",
    "paused": lambda node_id, _tries, _event: f"[INFO] Task {node_id} paused: waiting for an approval",
}


def _took(event: dict[str, Any]) -> str:
    started, completed = event.get("started_at"), event.get("completed_at")
    if not isinstance(started, str) or not isinstance(completed, str):
        return ""
    try:
        seconds = (_time(completed) - _time(started)).total_seconds()
    except ValueError:
        return ""
    return f" in {seconds:.3f} s"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error_text(error: Any, *, traceback: bool = True) -> str:
    """The error's message (after its type, unless it is a plain exception's), then its traceback."""
    if not isinstance(error, dict):
        return "unknown error"
    kind, message = error.get("type"), str(error.get("message") or "")
    text = message if kind in (None, "exception") else f"{kind}: {message}"
    trace = error.get("traceback")
    return f"{text}\n{trace.rstrip()}" if traceback and isinstance(trace, str) and trace else text

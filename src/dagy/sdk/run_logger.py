"""`get_run_logger()`: a standard `logging` logger bound to the current flow run and task run.

Lines go through the `dagy.flow.<flow name>` logger, prefixed with `[<task run>]` (or `[<flow>]`
in the flow's own code) and carrying `flow_name`, `flow_run_id` and `task_run_name` as record
attributes for handlers that want them. Locally they reach whatever handlers the program configured
(`logging.basicConfig(level=logging.INFO)` shows them on the terminal); on a worker, the runtime's
handler turns them into lines of the run's log.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from dagy.sdk.context import current_flow_run, current_task_run

ROOT_LOGGER = "dagy.flow"


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes each message with the run it belongs to and adds the run's fields to the record."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        where = extra.get("task_run_name") or extra.get("flow_name")
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return (f"[{where}] {msg}" if where else msg), kwargs


def get_run_logger() -> RunLogger:
    """A logger bound to the flow run and task run this code runs in. Outside any flow run (a task
    called as a plain function) it is bound to nothing and logs to `dagy.flow`."""
    flow_run = current_flow_run.get()
    if flow_run is None:
        return RunLogger(logging.getLogger(ROOT_LOGGER), {})
    task_run = current_task_run.get()
    extra = {
        "flow_name": flow_run.flow_name,
        "flow_run_id": flow_run.id,
        "task_run_name": task_run.name if task_run is not None else None,
    }
    return RunLogger(logging.getLogger(f"{ROOT_LOGGER}.{flow_run.flow_name}"), extra)

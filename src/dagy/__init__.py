"""Dagy: workflow orchestration.

The package root is the public SDK surface (`from dagy import flow, task, get_run_logger`, and
`dagy.secrets.get`). It
stays import-light: the SDK loads on first use of one of its names, and nothing here pulls in the
server, so a worker host or a script that only defines flows starts fast.
"""

from __future__ import annotations

# Not `typing.TYPE_CHECKING`: importing `typing` alone would double the cost of `import dagy`.
# Type checkers treat any constant of this name as true.
TYPE_CHECKING = False

__version__ = "0.1.0"

_SDK_NAMES = frozenset(
    {"flow", "task", "get_run_logger", "wait"}
    | {"Flow", "FlowRun", "Task", "TaskFuture", "TaskRun", "TaskTimeoutError"}
)

if TYPE_CHECKING:
    from typing import Any

    from dagy.sdk import (
        Flow,
        FlowRun,
        Task,
        TaskFuture,
        TaskRun,
        TaskTimeoutError,
        flow,
        get_run_logger,
        task,
        wait,
    )


def __getattr__(name: str) -> Any:
    if name == "secrets":  # `dagy.secrets.get(...)` after a bare `import dagy`
        import importlib  # noqa: PLC0415 - loaded on first use

        return importlib.import_module("dagy.secrets")
    if name in _SDK_NAMES:
        import dagy.sdk  # noqa: PLC0415 - loaded on first use, so `import dagy` stays cheap

        return getattr(dagy.sdk, name)
    raise AttributeError(f"module 'dagy' has no attribute {name!r}")


__all__ = [
    "Flow",
    "FlowRun",
    "Task",
    "TaskFuture",
    "TaskRun",
    "TaskTimeoutError",
    "__version__",
    "flow",
    "get_run_logger",
    "task",
    "wait",
]

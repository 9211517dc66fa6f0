"""Dagy's Python SDK: `@flow`, `@task`, `get_run_logger()`.

A flow is a Python function; calling it runs it here, and the tasks it calls become task runs of
that flow run. The same module, zipped and registered as a code flow, runs on Dagy's workers, where
each task run becomes a node run of the run. See docs/sdk.md.
"""

from dagy.sdk.context import listening
from dagy.sdk.engine import TaskTimeoutError
from dagy.sdk.flows import Flow, flow
from dagy.sdk.futures import DoneAndNotDone, TaskFuture, wait
from dagy.sdk.records import FlowRun, TaskRun
from dagy.sdk.run_logger import get_run_logger
from dagy.sdk.tasks import Task, task

__all__ = [
    "DoneAndNotDone",
    "Flow",
    "FlowRun",
    "Task",
    "TaskFuture",
    "TaskRun",
    "TaskTimeoutError",
    "flow",
    "get_run_logger",
    "listening",
    "task",
    "wait",
]

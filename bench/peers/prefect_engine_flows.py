"""Prefect 3 flows for `bench/peers/prefect_engine.py`: a one-task flow (deployed, run by process
workers) and a flow of `n` trivial tasks called in a row. Run with bench/peers/.venv-prefect."""

from __future__ import annotations

from prefect import flow, task
from prefect.runtime import flow_run


@task
def noop(i: int) -> int:
    return i


@flow(name="bench-one-task")
def one_task() -> int:
    return noop(1)


@flow(name="bench-many-tasks")
def many_tasks(n: int = 1000) -> str:
    for i in range(n):
        noop(i)
    return str(flow_run.id)
